"""Convolution and pooling over NCHW images, on the registered ops of conv_ops.py.

Output sizes follow PyTorch: floor((H + 2 padding - kernel) / stride) + 1.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from autograd_core import sampling as s
from autograd_core.backend import backend_of, is_floating
from autograd_core.ops.shape import index_outside
from autograd_core.registry import NP, OP, defcomposite
from autograd_core.tensor import Tensor, apply

from ._inputs import array_of
from .conv_ops import first_max, layout, pair, window_geometry

__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "max_unpool2d", "avg_pool2d"]

_CONV2D, _MAX_POOL2D, _AVG_POOL2D = OP.conv2d, OP.max_pool2d, OP.avg_pool2d
_RELU_MAX_POOL2D = OP.relu_max_pool2d
_CONV2D_RELU_MAX_POOL2D = OP.conv2d_relu_max_pool2d


def conv2d(x: Any, w: Any, b: Any = None, stride: int | tuple = 1,
           padding: int | tuple = 0, dilation: int | tuple = 1, groups: int = 1, *,
           bias: Any = None) -> Tensor:
    """Cross-correlation of x (N, C, H, W) with w (O, C / groups, kh, kw), plus b (O,),
    with PyTorch's stride, padding, dilation and groups. `bias=` is PyTorch's name
    for b, accepted so its calls carry over."""
    if bias is not None:
        if b is not None:
            raise TypeError("conv2d: got the bias twice, as b and as bias")
        b = bias
    if b is not None:  # attribute reads and a tuple comparison: no numpy work
        bs = b.shape if isinstance(b, (Tensor, np.ndarray)) else np.shape(b)
        ws = w.shape if isinstance(w, (Tensor, np.ndarray)) else np.shape(w)
        if bs != ws[:1] and len(ws) == 4:
            raise ValueError(f"conv2d: bias must have shape ({ws[0]},) for a weight of "
                             f"shape {tuple(ws)}, got {tuple(bs)}")
    if isinstance(padding, str):
        ws = array_of(w).shape
        padding, extra = string_padding("conv2d", padding, ws[2:] if len(ws) == 4 else (),
                                        stride, dilation)
        x = pad_bottom_right(x, extra)
    params = {"stride": stride, "padding": padding}
    if dilation != 1 and pair(dilation) != (1, 1):
        params["dilation"] = dilation
    if groups != 1:
        params["groups"] = groups
    return apply(_CONV2D, (x, w, b), params)


def string_padding(name: str, mode: str, kernel_size: tuple, stride, dilation
                   ) -> tuple[tuple[int, int], tuple[int, int]]:
    """PyTorch's padding='valid' (none) or 'same' (stride 1, the output as large as the
    input): the padding on both sides, and the extra pixel on the bottom and right
    where the dilated kernel's span d (k - 1) is odd (PyTorch's uneven split)."""
    if mode == "valid":
        return (0, 0), (0, 0)
    if mode != "same":
        raise ValueError(f"{name}: padding must be 'same', 'valid', an int or a pair of "
                         f"ints, got {mode!r}")
    if pair(stride) != (1, 1):
        raise ValueError(f"{name}: padding='same' needs stride 1, got stride {stride}")
    if len(kernel_size) != 2:
        raise ValueError(f"{name}: padding='same' needs a (O, C, kh, kw) weight")
    span = [d * (k - 1) for d, k in zip(pair(dilation), kernel_size, strict=True)]
    return (span[0] // 2, span[1] // 2), (span[0] % 2, span[1] % 2)


def pad_bottom_right(x: Any, extra: tuple[int, int]) -> Any:
    """x with zero rows below and columns to the right: where padding='same' puts the
    odd pixel of an odd kernel span, as PyTorch does."""
    if extra == (0, 0):
        return x
    return OP.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))


def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: int | tuple = 1,
                     padding: int | tuple = 0, output_padding: int | tuple = 0,
                     groups: int = 1, dilation: int | tuple = 1) -> Tensor:
    """The transposed convolution of x (N, C_in, H, W) with weight (C_in, C_out / groups,
    kh, kw), PyTorch's signature: the adjoint of conv2d with the same stride, padding,
    dilation and groups, so each input pixel spreads a kernel-sized patch into the
    output. H_out = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1.

    Built from registered ops (matmul, then fold, col2im), so its gradients, to any
    order, are theirs: a DCGAN generator's WGAN-GP penalty differentiates it twice.
    """
    xs, ws = array_of(x).shape, array_of(weight).shape
    if len(xs) != 4 or len(ws) != 4 or xs[1] != ws[0] or groups < 1 or ws[0] % groups:
        raise ValueError(f"conv_transpose2d: expects input (N, C_in, H, W) and weight "
                         f"(C_in, C_out / groups, kh, kw) with C_in divisible by groups = "
                         f"{groups}, got {xs} and {ws}")
    (n, c_in, h, w), (_, c_out_g, kh, kw) = xs, ws
    if bias is not None and np.shape(array_of(bias)) != (c_out_g * groups,):
        raise ValueError(f"conv_transpose2d: bias must have shape ({c_out_g * groups},) "
                         f"for a weight of shape {ws} and groups = {groups}, got "
                         f"{np.shape(array_of(bias))}")
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    (oph, opw) = pair(output_padding)
    if not (0 <= oph < max(sh, dh) and 0 <= opw < max(sw, dw)):
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be "
                         f"smaller than the stride {stride} or the dilation {dilation}")
    out = (n, c_out_g * groups, (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1,
           (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1)
    if out[2] < 1 or out[3] < 1:
        raise ValueError(f"conv_transpose2d: the output would have size {out[2:]} for an "
                         f"input {xs} with padding {padding}")
    # conv2d's input gradient, with x as the output gradient: cols = W^T x, then fold.
    # fold finds the input size from the output's; output padding of a stride or more
    # (allowed below the dilation) needs that many more (zero) input rows to match.
    eh, ew = oph // sh, opw // sw
    if eh or ew:
        x = OP.pad(x, ((0, 0), (0, 0), (0, eh), (0, ew)))
        h, w = h + eh, w + ew
    g = c_in // groups
    w2 = OP.reshape(weight, shape=(groups, g, c_out_g * kh * kw))
    x2 = OP.reshape(OP.transpose(x, axes=(1, 2, 3, 0)), shape=(groups, g, h * w * n))
    cols = OP.matmul(OP.swapaxes(w2, axis1=1, axis2=2), x2)
    y = OP.fold(OP.reshape(cols, shape=(c_out_g * groups, kh, kw, h, w, n)), shape=out,
                kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    return y if bias is None else y + OP.reshape(bias, shape=(1, -1, 1, 1))


def max_pool2d(x: Any, kernel_size: int | tuple, stride: int | tuple | None = None,
               padding: int | tuple = 0, dilation: int | tuple = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Maximum over each window (stride defaults to the kernel size), over the input
    padded with -inf. As in PyTorch, the gradient goes to the first maximum of a
    window; dilation spaces the window's taps; ceil_mode rounds the output size up
    (a last, partial window). return_indices also returns, as PyTorch, each maximum's
    flat index into its (H, W) input plane (int64, for max_unpool2d)."""
    shape = None if not return_indices else array_of(x).shape
    out, x = _max_pooled(_MAX_POOL2D, x, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return out
    return out, _argmax_indices(array_of(x), out.data, shape, kernel_size, stride,
                                padding, dilation)


def relu_max_pool2d(x: Any, kernel_size: int | tuple, stride: int | tuple | None = None,
                    padding: int | tuple = 0, dilation: int | tuple = 1,
                    ceil_mode: bool = False) -> Tensor:
    """relu(max_pool2d(x)), equal to max_pool2d(relu(x)), in one node: what nn.fuse
    runs for ReLU -> MaxPool2d (values and gradients equal to the two in turn)."""
    return _max_pooled(_RELU_MAX_POOL2D, x, kernel_size, stride, padding, dilation,
                       ceil_mode)[0]


def conv2d_relu_max_pool2d(x: Any, w: Any, b: Any = None, padding: int | tuple = 0,
                           pool_size: int | tuple = 2) -> Tensor:
    """max_pool2d(relu(conv2d(x, w, b, padding=padding)), pool_size) in one node: what
    nn.fuse runs for Conv2d -> ReLU -> MaxPool2d. The convolution has stride 1, no
    dilation, one group; the pool's stride is its size, without padding, and it
    drops a ragged edge (floor mode). Values and gradients those of the three ops."""
    return apply(_CONV2D_RELU_MAX_POOL2D, (x, w, b), {"padding": padding,
                                                      "pool_size": pool_size})


def _max_pooled(op, x, kernel_size, stride, padding, dilation, ceil_mode) -> tuple:
    """op applied to x padded with -inf as padding and ceil_mode ask; and that input."""
    if ceil_mode or padding != 0 and pair(padding) != (0, 0):
        x = _pad_for_pool("max_pool2d", x, kernel_size, stride, padding, ceil_mode,
                          fill="min", dilation=dilation)
    params = {"kernel_size": kernel_size, "stride": stride}
    if dilation != 1 and pair(dilation) != (1, 1):
        params["dilation"] = dilation
    return apply(op, (x,), params), x


def _argmax_indices(xp: np.ndarray, pooled: np.ndarray, shape: tuple, kernel_size, stride,
                    padding, dilation) -> Tensor:
    """Flat (H, W)-plane indices of each window's first maximum in the unpadded input
    `shape`, from the (padded) input `xp` the pool read."""
    geometry = window_geometry(xp.shape, kernel_size, stride, 0, dilation)
    kh, kw, sh, sw, _, _, oh, ow = geometry
    mask = first_max(xp, pooled, kernel_size, stride, layout(xp), None, dilation)
    k = np.argmax(mask.reshape(kh * kw, *pooled.shape), axis=0)
    (dh, dw), (ph, pw) = pair(dilation), pair(padding)
    rows = np.arange(oh)[:, None] * sh + (k // kw) * dh - ph
    cols = np.arange(ow)[None, :] * sw + (k % kw) * dw - pw
    return Tensor(rows * shape[3] + cols, dtype=np.int64)


def max_unpool2d(x: Any, indices: Any, kernel_size: int | tuple,
                 stride: int | tuple | None = None, padding: int | tuple = 0,
                 output_size: tuple | None = None) -> Tensor:
    """max_pool2d's partial inverse, PyTorch's signature: zeros of the pooled input's
    size, x written at `indices` (from max_pool2d(..., return_indices=True)). The
    size is (H - 1) stride - 2 padding + kernel, unless output_size gives it.
    An index repeated within a plane (overlapping windows that share a maximum)
    is written once, by its first value: PyTorch's value, while its gradient goes
    to that first entry only (PyTorch's goes to every copy)."""
    n, c, h, w = array_of(x).shape
    idx = array_of(indices)
    if idx.shape != (n, c, h, w) or not backend_of(idx).xp.isdtype(idx.dtype, "integral"):
        raise ValueError(f"max_unpool2d: indices must be integers of the input's shape "
                         f"{(n, c, h, w)}, got {idx.dtype} {idx.shape}")
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel_size), _stride(kernel_size, stride), \
        pair(padding)
    size = (tuple(output_size)[-2:] if output_size is not None
            else ((h - 1) * sh - 2 * ph + kh, (w - 1) * sw - 2 * pw + kw))
    plane = size[0] * size[1]
    if isinstance(idx, np.ndarray) and index_outside(idx, plane):  # on a device: no host read
        raise ValueError(f"max_unpool2d: an index falls outside the output plane "
                         f"{size} (indices in [{idx.min()}, {idx.max()}])")
    xp = backend_of(idx).xp
    dtype, device = array_of(x).dtype, idx.device
    rows = xp.reshape(xp.arange(n * c, device=device), (n, c, 1))
    where = (rows // c, rows % c, xp.reshape(idx, (n, c, h * w)))
    keys = xp.reshape(rows * plane + where[2], (-1,))
    first = xp.unique_all(keys).indices  # repeated indices: keep each one's first value
    keep = xp.index_add(xp.zeros(keys.shape, dtype=dtype, device=device), 0, first,
                        xp.ones(first.shape, dtype=dtype, device=device))
    values = OP.reshape(x, shape=(n, c, h * w)) * xp.reshape(keep, (n, c, h * w))
    flat = OP.getitem_grad(values, index=where, shape=(n, c, plane))
    return OP.reshape(flat, shape=(n, c) + tuple(size))


def avg_pool2d(x: Any, kernel_size: int | tuple, stride: int | tuple | None = None,
               padding: int | tuple = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over each window (stride defaults to the kernel size), with PyTorch's
    options: zero padding that counts in the mean unless count_include_pad=False,
    ceil_mode (a last, partial window, averaged over what it covers of the padded
    input), divisor_override (every window's sum divided by it)."""
    if divisor_override is not None and divisor_override == 0:  # PyTorch forbids only 0
        raise ValueError("avg_pool2d: divisor_override must not be 0")
    if not (_pads(padding) or ceil_mode or divisor_override):
        return apply(_AVG_POOL2D, (x,), {"kernel_size": kernel_size, "stride": stride})
    shape = array_of(x).shape
    padded = _pad_for_pool("avg_pool2d", x, kernel_size, stride, padding, ceil_mode,
                           fill="zero")
    sums = OP.window_sum(padded, kernel_size=kernel_size, stride=stride)
    if divisor_override:
        return sums / divisor_override
    counts = _window_counts(shape[-2:], pair(kernel_size), _stride(kernel_size, stride),
                            pair(padding), ceil_mode, count_include_pad)
    data = sums.data
    return sums / backend_of(data).xp.asarray(counts, dtype=data.dtype, device=data.device)


def _pads(padding) -> bool:
    return padding != 0 and pair(padding) != (0, 0)


def _stride(kernel_size, stride) -> tuple[int, int]:
    return pair(kernel_size if stride is None else stride)


def _ceil_extra(size: int, k: int, s: int, p: int) -> int:
    """How far ceil mode's last window reaches past the padded input. As PyTorch,
    a window must start inside the input or its left padding."""
    out = -(-(size + 2 * p - k) // s) + 1
    if (out - 1) * s >= size + p:
        out -= 1
    return max(0, (out - 1) * s + k - (size + 2 * p))


def _pad_for_pool(name: str, x: Any, kernel_size, stride, padding, ceil_mode: bool,
                  fill: str, dilation=1) -> Tensor:
    (ph, pw), (kh, kw) = pair(padding), pair(kernel_size)
    if not (0 <= ph <= kh // 2 and 0 <= pw <= kw // 2):
        raise ValueError(f"{name}: padding {padding} must be at least 0 and at most half "
                         f"of the kernel size {kernel_size}")
    data = array_of(x)
    if data.ndim != 4:
        raise ValueError(f"{name} expects an (N, C, H, W) input, got shape {data.shape}")
    rh = rw = 0
    if ceil_mode:  # the last window's reach, over the dilated kernel
        (sh, sw), (h, w), (dh, dw) = _stride(kernel_size, stride), data.shape[-2:], \
            pair(dilation)
        rh = _ceil_extra(h, dh * (kh - 1) + 1, sh, ph)
        rw = _ceil_extra(w, dw * (kw - 1) + 1, sw, pw)
    value = 0
    if fill == "min":  # a padded entry never wins: every window holds a real one
        xp = backend_of(data).xp
        value = -np.inf if is_floating(data.dtype) else xp.iinfo(data.dtype).min
    return OP.pad(x, ((0, 0), (0, 0), (ph, ph + rh), (pw, pw + rw)), constant_values=value)


@functools.lru_cache(maxsize=64)
def _window_counts(size: tuple, kernel: tuple, stride: tuple, padding: tuple,
                   ceil_mode: bool, include_pad: bool) -> np.ndarray:
    """(oh, ow): how many entries each window averages. PyTorch counts the padding
    (unless include_pad is False) but never ceil mode's reach beyond it."""
    (h, w), (kh, kw), (sh, sw), (ph, pw) = size, kernel, stride, padding
    rh = _ceil_extra(h, kh, sh, ph) if ceil_mode else 0
    rw = _ceil_extra(w, kw, sw, pw) if ceil_mode else 0
    ones = np.zeros((1, 1, h + 2 * ph + rh, w + 2 * pw + rw))
    if include_pad:
        ones[..., :h + 2 * ph, :w + 2 * pw] = 1
    else:
        ones[..., ph:ph + h, pw:pw + w] = 1
    counts = NP.window_sum(ones, kernel_size=kernel, stride=stride)[0, 0]
    counts.flags.writeable = False  # cached: shared by every call
    return counts


def _sample_pool_options(rng, avg: bool):
    """Padding, ceil mode and (for average pooling) the divisor options."""
    k = int(rng.integers(2, 4))
    shape = (1, int(rng.integers(1, 3)), int(rng.integers(k, 7)), int(rng.integers(k, 7)))
    params = {"kernel_size": k, "stride": int(rng.integers(1, k + 1)),
              "padding": int(rng.integers(0, k // 2 + 1)), "ceil_mode": bool(rng.random() < 0.5)}
    if not avg and rng.random() < 0.4:
        params["dilation"] = int(rng.integers(2, 4))
        shape = shape[:2] + (shape[2] + 4, shape[3] + 4)  # room for the spaced taps
    if avg:
        params["count_include_pad"] = bool(rng.random() < 0.5)
        if rng.random() < 0.2:
            params["divisor_override"] = int(rng.integers(1, 5))
    return (s.distinct(rng, shape),), params


defcomposite("max_pool2d_options", max_pool2d, sample=lambda rng: _sample_pool_options(rng, False))
defcomposite("avg_pool2d_options", avg_pool2d, sample=lambda rng: _sample_pool_options(rng, True))


def _sample_conv_transpose2d(rng):
    groups = int(rng.choice([1, 1, 2]))
    c_in, c_out = int(rng.integers(1, 3)) * groups, int(rng.integers(1, 3)) * groups
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    sh, sw, dh, dw = (int(v) for v in rng.integers(1, 3, size=4))
    # padding up to half the dilated kernel keeps the output at least 1 wide
    params = {"stride": (sh, sw), "groups": groups, "dilation": (dh, dw),
              "padding": (int(rng.integers(0, dh * (kh - 1) // 2 + 1)),
                          int(rng.integers(0, dw * (kw - 1) // 2 + 1))),
              "output_padding": (int(rng.integers(0, max(sh, dh))),
                                 int(rng.integers(0, max(sw, dw))))}
    x = s.values(rng, (int(rng.integers(1, 3)), c_in, int(rng.integers(1, 4)),
                       int(rng.integers(1, 4))))
    bias = s.values(rng, (c_out,)) if rng.random() < 0.7 else None
    return (x, s.values(rng, (c_in, c_out // groups, kh, kw)), bias), params


defcomposite("conv_transpose2d", conv_transpose2d, sample=_sample_conv_transpose2d)


def _sample_max_unpool2d(rng):
    """A pooled batch and the argmax indices of a real pool, so no index repeats."""
    k = int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), k * int(rng.integers(1, 4)),
             k * int(rng.integers(1, 4)))
    x = s.distinct(rng, shape)
    pooled, indices = max_pool2d(x, k, return_indices=True)
    return (s.values(rng, pooled.shape), indices.data), {"kernel_size": k}


defcomposite("max_unpool2d", max_unpool2d, sample=_sample_max_unpool2d)
