"""1-d convolution and pooling, adaptive pooling, resampling and padding, PyTorch's forms.

Every function here is a composite of registered ops (conv2d and the 2-d pools on
an (N, C, 1, L) view, getitem with integer index arrays, matmul with constant
averaging matrices, slices and concatenate), so gradients to any order come from
those ops, and each is registered for the generated gradient checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import sampling as s
from autograd_core.registry import OP, defcomposite
from autograd_core.tensor import Tensor

from ._constants import data_of, float_dtype_of, like
from .conv import avg_pool2d, conv2d, max_pool2d

__all__ = ["conv1d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "interpolate", "pad"]


def _shape(x: Any) -> tuple:
    return tuple(data_of(x).shape) if hasattr(data_of(x), "shape") else np.shape(x)


def _one(name: str, what: str, value: Any) -> int:
    """An int, or a 1-tuple of one (PyTorch's 1-d arguments)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: {what} must be an int or a 1-tuple of one, got {value!r}")
    return int(value)


def _batched(name: str, x: Any) -> tuple[Any, bool]:
    """(x as (N, C, L), whether it came unbatched as (C, L))."""
    ndim = len(_shape(x))
    if ndim == 2:
        return OP.expand_dims(x, axis=0), True
    if ndim != 3:
        raise ValueError(f"{name}: expects an (N, C, L) or (C, L) input, got shape "
                         f"{_shape(x)}")
    return x, False


def _unbatched(y: Tensor, squeeze: bool) -> Tensor:
    return OP.squeeze(y, axis=0) if squeeze else y


# -- conv1d: conv2d on (N, C, 1, L) with a (O, C / groups, 1, k) kernel ------------------
def conv1d(input: Any, weight: Any, bias: Any = None, stride: int | tuple = 1,
           padding: int | tuple | str = 0, dilation: int | tuple = 1,
           groups: int = 1) -> Tensor:
    """Cross-correlation of input (N, C, L) (or unbatched (C, L)) with weight
    (O, C / groups, k), plus bias (O,): PyTorch's conv1d, with its stride, padding
    (an int, or 'same' / 'valid'), dilation and groups. L_out = floor((L + 2 padding -
    dilation (k - 1) - 1) / stride) + 1."""
    x, squeeze = _batched("conv1d", input)
    xs, ws = _shape(x), _shape(weight)
    if len(ws) != 3 or groups < 1 or xs[1] != ws[1] * groups:
        raise ValueError(f"conv1d: expects weight (O, C / groups, k) with C = {xs[1]} "
                         f"channels and groups = {groups}, got input {_shape(input)} and "
                         f"weight {ws}")
    if bias is not None and _shape(bias) != ws[:1]:
        raise ValueError(f"conv1d: bias must have shape ({ws[0]},) for a weight of shape "
                         f"{ws}, got {_shape(bias)}")
    st, dl = _one("conv1d", "stride", stride), _one("conv1d", "dilation", dilation)
    if isinstance(padding, str):
        if padding == "same" and st != 1:
            raise ValueError(f"conv1d: padding='same' needs stride 1, got stride {st}")
        pd: Any = padding
    else:
        pd = (0, _one("conv1d", "padding", padding))
    y = conv2d(OP.expand_dims(x, axis=2), OP.expand_dims(weight, axis=2), bias,
               stride=(1, st), padding=pd, dilation=(1, dl), groups=groups)
    return _unbatched(OP.squeeze(y, axis=2), squeeze)


# -- 1-d pools: the 2-d pools over a (1, k) window --------------------------------------
def max_pool1d(input: Any, kernel_size: int | tuple, stride: int | tuple | None = None,
               padding: int | tuple = 0, dilation: int | tuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """Maximum over each window of input (N, C, L) or (C, L), PyTorch's max_pool1d:
    stride defaults to the kernel size; padding is -inf; the gradient goes to each
    window's first maximum; return_indices also gives each maximum's index along L."""
    x, squeeze = _batched("max_pool1d", input)
    k = _one("max_pool1d", "kernel_size", kernel_size)
    st = k if stride is None or stride == () else _one("max_pool1d", "stride", stride)
    out = max_pool2d(OP.expand_dims(x, axis=2), (1, k), (1, st),
                     (0, _one("max_pool1d", "padding", padding)),
                     (1, _one("max_pool1d", "dilation", dilation)), ceil_mode, return_indices)
    if not return_indices:
        return _unbatched(OP.squeeze(out, axis=2), squeeze)
    y, idx = out
    idx = Tensor(data_of(idx)[:, :, 0])  # the flat (1, L) plane index is the L index
    if squeeze:
        idx = Tensor(data_of(idx)[0])
    return _unbatched(OP.squeeze(y, axis=2), squeeze), idx


def avg_pool1d(input: Any, kernel_size: int | tuple, stride: int | tuple | None = None,
               padding: int | tuple = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each window of input (N, C, L) or (C, L), PyTorch's avg_pool1d: stride
    defaults to the kernel size; zero padding counts in the mean unless
    count_include_pad=False; ceil_mode keeps a last, partial window."""
    x, squeeze = _batched("avg_pool1d", input)
    k = _one("avg_pool1d", "kernel_size", kernel_size)
    st = k if stride is None or stride == () else _one("avg_pool1d", "stride", stride)
    y = avg_pool2d(OP.expand_dims(x, axis=2), (1, k), (1, st),
                   (0, _one("avg_pool1d", "padding", padding)), ceil_mode, count_include_pad)
    return _unbatched(OP.squeeze(y, axis=2), squeeze)


# -- adaptive average pooling -------------------------------------------------------------
def _adaptive_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """(n_out, n_in): row i averages PyTorch's window [floor(i n_in / n_out),
    ceil((i + 1) n_in / n_out))."""
    a = np.zeros((n_out, n_in), dtype)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        a[i, start:end] = 1.0 / (end - start)
    return a


def _adaptive_sizes(name: str, output_size: Any, spatial: tuple) -> tuple[int, ...]:
    sizes = (output_size,) * len(spatial) if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(sizes) != len(spatial):
        raise ValueError(f"{name}: output_size must be an int or {len(spatial)} of them, "
                         f"got {output_size!r}")
    sizes = tuple(n if o is None else o for o, n in zip(sizes, spatial))
    if any(isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 1 for o in sizes):
        raise ValueError(f"{name}: output_size must hold positive ints (or None), got "
                         f"{output_size!r}")
    return tuple(int(o) for o in sizes)


def _adaptive_pool(name: str, x: Any, output_size: Any, nd: int) -> Tensor:
    shape = _shape(x)
    if len(shape) not in (nd + 1, nd + 2) or 0 in shape[-nd:]:
        raise ValueError(f"{name}: expects a {nd + 2}-d (batched) or {nd + 1}-d input with "
                         f"non-empty spatial axes, got shape {shape}")
    sizes = _adaptive_sizes(name, output_size, shape[-nd:])
    if all(n % o == 0 for n, o in zip(shape[-nd:], sizes)) and nd == 2 and len(shape) == 4:
        # even windows: the plain pool, PyTorch's very windows and sums
        k = tuple(n // o for n, o in zip(shape[-nd:], sizes))
        return avg_pool2d(x, k, k)
    dtype = float_dtype_of(x)
    y = x
    for axis, (n, o) in enumerate(zip(shape[-nd:], sizes)):
        if n == o:
            continue
        a_t = like(x, np.ascontiguousarray(_adaptive_matrix(n, o, dtype).T))
        # move `axis` last, average it into o windows (y @ A^T), move it back
        pos = len(shape) - nd + axis
        y = OP.swapaxes(OP.matmul(OP.swapaxes(y, axis1=pos, axis2=-1), a_t),
                        axis1=pos, axis2=-1)
    return y if y is not x else OP.reshape(x, shape=shape)  # a new node, as PyTorch


def adaptive_avg_pool1d(input: Any, output_size: int | tuple) -> Tensor:
    """Mean over PyTorch's adaptive windows of (N, C, L) or (C, L) into output_size:
    window i spans [floor(i L / out), ceil((i + 1) L / out))."""
    return _adaptive_pool("adaptive_avg_pool1d", input, output_size, 1)


def adaptive_avg_pool2d(input: Any, output_size: int | tuple) -> Tensor:
    """Mean over PyTorch's adaptive windows of (N, C, H, W) or (C, H, W) into
    output_size (an int, or (oh, ow), None keeping that side): window i of a side n
    spans [floor(i n / out), ceil((i + 1) n / out)). Windows overlap where out does
    not divide n."""
    return _adaptive_pool("adaptive_avg_pool2d", input, output_size, 2)


# -- interpolate: separable resampling, one spatial axis at a time ----------------------
_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_NEAREST_MODES = ("nearest", "nearest-exact")


def _scale(n_in: int, n_out: int, scale: float | None, align_corners: bool, dtype):
    """PyTorch's area_pixel_compute_scale, in the kernel's arithmetic type."""
    if align_corners:
        return dtype((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype(0)
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(n_in) / dtype(n_out)


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> np.ndarray:
    """PyTorch's nearest_idx (and nearest-exact's), in float32 as its CPU kernel."""
    dst = np.arange(n_out)
    if not exact and n_out == n_in:
        return dst
    if not exact and n_out == 2 * n_in:
        return dst >> 1
    f = _scale(n_in, n_out, scale, False, np.float32)
    src = np.floor((dst.astype(np.float32) + np.float32(0.5 if exact else 0)) * f)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                    dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, w0, w1): PyTorch's source indices and weights for linear resampling:
    src = scale dst (align_corners) or scale (dst + 0.5) - 0.5 clamped at 0."""
    f = _scale(n_in, n_out, scale, align_corners, dtype)
    dst = np.arange(n_out).astype(dtype)
    src = f * dst if align_corners else np.maximum(f * (dst + dtype(0.5)) - dtype(0.5),
                                                   dtype(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < n_in - 1)
    w1 = (src - i0.astype(dtype)).astype(dtype)
    return i0, i1, (dtype(1) - w1).astype(dtype), w1


def _take(x: Any, axis: int, index: np.ndarray) -> Tensor:
    """x at `index` along axis: integer arrays on every axis (an open mesh, the array
    API's only form of integer array indexing), aranges but on `axis`."""
    shape = _shape(x)
    mesh = tuple(like(x, (index if a == axis else np.arange(n)).reshape(
        (-1,) + (1,) * (len(shape) - 1 - a))) for a, n in enumerate(shape))
    return OP.getitem(x, index=mesh)


def _output_sizes(spatial: tuple, size: Any, scale_factor: Any) -> tuple[tuple, tuple]:
    """(output sizes, scale factors or Nones) as PyTorch's interpolate computes them."""
    nd = len(spatial)
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * nd
        if len(sizes) != nd:
            raise ValueError(f"interpolate: size {size!r} must have {nd} entries for an "
                             f"input with {nd} spatial axes")
        if any(isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 1
               for o in sizes):
            raise ValueError(f"interpolate: size must hold positive ints, got {size!r}")
        return tuple(int(o) for o in sizes), (None,) * nd
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) \
        else (scale_factor,) * nd
    if len(scales) != nd or any(not f > 0 for f in scales):
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} must be positive, "
                         f"one or {nd} of them")
    sizes = tuple(math.floor(float(n) * float(f)) for n, f in zip(spatial, scales))
    if min(sizes) < 1:
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} makes an empty "
                         f"output from spatial size {spatial}")
    return sizes, tuple(float(f) for f in scales)


def interpolate(input: Any, size: int | tuple | None = None,
                scale_factor: float | tuple | None = None, mode: str = "nearest",
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False
                ) -> Tensor:
    """Resample the spatial axes of input (N, C, *spatial), PyTorch's interpolate.

    size or scale_factor (output side floor(n * scale_factor)) sets the output.
    mode 'nearest': source index floor(dst * scale), scale = n_in / n_out or
    1 / scale_factor (PyTorch's float32 formula, its 'nearest' bug for
    non-integer factors included); 'nearest-exact': floor((dst + 0.5) * scale);
    'linear' (3-d input), 'bilinear' (4-d), 'trilinear' (5-d): source
    scale * (dst + 0.5) - 0.5 clamped at 0, or with align_corners=True
    (n_in - 1) / (n_out - 1) * dst; 'area': adaptive average pooling.
    recompute_scale_factor=True uses n_in / n_out in place of the given factor.
    """
    shape = _shape(input)
    nd = len(shape) - 2
    if nd < 1 or nd > 3:
        raise ValueError(f"interpolate: expects an (N, C, *spatial) input with 1 to 3 "
                         f"spatial axes, got shape {shape}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    linear = mode in _LINEAR_MODES
    if not linear and align_corners is not None:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | trilinear")
    if linear and _LINEAR_MODES[mode] != nd:
        raise ValueError(f"interpolate: mode {mode!r} expects a {_LINEAR_MODES[mode] + 2}-d "
                         f"input, got shape {shape}")
    if not linear and mode not in _NEAREST_MODES + ("area",):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (nearest, "
                                  f"nearest-exact, linear, bilinear, trilinear, area)")
    sizes, scales = _output_sizes(shape[2:], size, scale_factor)
    if recompute_scale_factor:
        scales = (None,) * nd
    if mode == "area":
        if nd == 3:
            raise NotImplementedError("interpolate: mode 'area' supports 1 or 2 spatial axes")
        return _adaptive_pool("interpolate", input, sizes, nd)
    y = input
    dtype = float_dtype_of(input)
    # the last axis first: bilinear is then h0 (w0 x00 + w1 x01) + h1 (...), PyTorch's order
    for axis in reversed(range(2, nd + 2)):
        n_in, n_out, f = shape[axis], sizes[axis - 2], scales[axis - 2]
        if not linear:
            y = _take(y, axis, _nearest_index(n_in, n_out, f, mode == "nearest-exact"))
            continue
        i0, i1, w0, w1 = _linear_weights(n_in, n_out, f, bool(align_corners), dtype.type)
        bshape = (n_out,) + (1,) * (len(shape) - 1 - axis)
        y = (_take(y, axis, i0) * like(input, w0.reshape(bshape))
             + _take(y, axis, i1) * like(input, w1.reshape(bshape)))
    return y if isinstance(y, Tensor) else ag.as_tensor(y)


# -- pad: PyTorch's last-axis-first pad tuple, four modes --------------------------------
_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _slice(t: Any, axis: int, start: int, stop: int) -> Tensor:
    return OP.getitem(t, index=(slice(None),) * axis + (slice(start, stop),))


def pad(input: Any, pad: tuple | list, mode: str = "constant", value: float | None = None
        ) -> Tensor:
    """Pad the last len(pad) // 2 axes of input: pad = (last_left, last_right,
    second_last_left, ...), PyTorch's order. Modes: 'constant' (value, default 0;
    negative widths crop), 'reflect' (mirror without the edge, widths < side),
    'replicate' (the edge repeated), 'circular' (wrap around, widths <= side)."""
    shape = _shape(input)
    widths = tuple(pad)
    if len(widths) % 2 or len(widths) // 2 > len(shape):
        raise ValueError(f"pad: the pad tuple {widths} must have an even length of at most "
                         f"2 x {len(shape)} for an input of shape {shape}")
    if any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) for w in widths):
        raise ValueError(f"pad: pad widths must be ints, got {widths}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(_PAD_MODES)}, got {mode!r}")
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(f"pad: value is only used with mode='constant', got mode {mode!r}")
    ndim = len(shape)
    pairs = {ndim - 1 - i: (int(widths[2 * i]), int(widths[2 * i + 1]))
             for i in range(len(widths) // 2)}
    if mode == "constant":
        return _pad_constant(input, pairs, 0 if value is None else value, shape)
    y = input if isinstance(input, Tensor) else ag.as_tensor(input)
    for axis, (left, right) in pairs.items():
        n = shape[axis]
        if min(left, right) < 0:
            raise ValueError(f"pad: mode {mode!r} needs non-negative widths, got "
                             f"{(left, right)} for axis {axis} of input {shape}")
        if left == right == 0:
            continue
        limit_ok = {"reflect": max(left, right) < n, "replicate": n > 0,
                    "circular": max(left, right) <= n}[mode]
        if not limit_ok:
            bound = {"reflect": "less than", "replicate": "at most",
                     "circular": "at most"}[mode]
            raise ValueError(f"pad: {mode} padding {(left, right)} must be {bound} the size "
                             f"{n} of axis {axis} of input {shape}")
        parts = [y]
        if mode == "reflect":
            if left:
                parts.insert(0, OP.flip(_slice(y, axis, 1, left + 1), axis=axis))
            if right:
                parts.append(OP.flip(_slice(y, axis, n - 1 - right, n - 1), axis=axis))
        elif mode == "replicate":
            edge = list(y.shape)
            if left:
                edge[axis] = left
                parts.insert(0, OP.broadcast_to(_slice(y, axis, 0, 1), shape=tuple(edge)))
            if right:
                edge[axis] = right
                parts.append(OP.broadcast_to(_slice(y, axis, n - 1, n), shape=tuple(edge)))
        else:  # circular
            if left:
                parts.insert(0, _slice(y, axis, n - left, n))
            if right:
                parts.append(_slice(y, axis, 0, right))
        y = ag.concatenate(parts, axis=axis)
    return y


def _pad_constant(x: Any, pairs: dict, value: float, shape: tuple) -> Tensor:
    crop = tuple(slice(max(0, -pairs[a][0]), shape[a] - max(0, -pairs[a][1]))
                 if a in pairs else slice(None) for a in range(len(shape)))
    if any(sl.start or sl.stop != shape[a] for a, sl in enumerate(crop)
           if sl != slice(None)):
        if any(sl.stop <= (sl.start or 0) for sl in crop if sl != slice(None)):
            raise ValueError(f"pad: negative padding {pairs} leaves nothing of input {shape}")
        x = OP.getitem(x, index=crop)
    widths = tuple((max(0, pairs[a][0]), max(0, pairs[a][1])) if a in pairs else (0, 0)
                   for a in range(len(shape)))
    return OP.pad(x, widths, constant_values=value)


# -- registered for the gradient checks ---------------------------------------------------
def _sample_conv1d(rng):
    groups = int(rng.choice([1, 1, 2]))
    c, o, k = int(rng.integers(1, 3)) * groups, int(rng.integers(1, 3)) * groups, \
        int(rng.integers(1, 4))
    st, dl = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    p = int(rng.integers(0, 2))
    length = dl * (k - 1) + 1 + int(rng.integers(0, 4))
    bias = s.values(rng, (o,)) if rng.random() < 0.7 else None
    x = s.values(rng, (int(rng.integers(1, 3)), c, length))
    return (x, s.values(rng, (o, c // groups, k)), bias), \
        {"stride": st, "padding": p, "dilation": dl, "groups": groups}


def _sample_pool1d(rng, avg: bool):
    k = int(rng.integers(1, 4))
    x = s.distinct(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                         k + int(rng.integers(0, 5))))
    params = {"kernel_size": k, "stride": int(rng.integers(1, k + 1)),
              "padding": int(rng.integers(0, k // 2 + 1)), "ceil_mode": bool(rng.random() < .5)}
    if avg:
        params["count_include_pad"] = bool(rng.random() < 0.5)
    return (x,), params


def _sample_adaptive(rng):
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 7)),
             int(rng.integers(1, 7)))
    out = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    return (s.values(rng, shape),), {"output_size": out}


def _sample_interpolate(rng):
    mode = str(rng.choice(["nearest", "nearest-exact", "linear", "bilinear"]))
    nd = 1 if mode == "linear" else 2 if mode == "bilinear" else int(rng.integers(1, 3))
    spatial = tuple(int(v) for v in rng.integers(1, 5, size=nd))
    x = s.values(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 3))) + spatial)
    params: dict = {"mode": mode}
    if rng.random() < 0.5:
        params["size"] = tuple(int(v) for v in rng.integers(1, 7, size=nd))
    else:
        params["scale_factor"] = float(rng.choice([0.5, 1.5, 2.0, 3.0]))
        if min(math.floor(n * params["scale_factor"]) for n in spatial) < 1:
            params["scale_factor"] = 2.0
    if mode in ("linear", "bilinear"):
        params["align_corners"] = bool(rng.random() < 0.5)
    return (x,), params


def _sample_pad(rng):
    mode = str(rng.choice(_PAD_MODES))
    shape = s.shape(rng, 2, 4, 4)
    k = int(rng.integers(1, len(shape)))
    widths: list[int] = []
    for axis in reversed(range(len(shape) - k, len(shape))):
        n = shape[axis]
        top = {"constant": 2, "reflect": n - 1, "replicate": 2, "circular": n}[mode]
        low = -1 if mode == "constant" and n > 2 else 0
        widths += [int(rng.integers(low, top + 1)), int(rng.integers(0, top + 1))]
    params: dict = {"pad": tuple(widths), "mode": mode}
    if mode == "constant":
        params["value"] = float(rng.choice([0.0, -1.5]))
    return (s.values(rng, shape),), params


defcomposite("conv1d", conv1d, sample=_sample_conv1d)
defcomposite("max_pool1d", max_pool1d, sample=lambda rng: _sample_pool1d(rng, False))
defcomposite("avg_pool1d", avg_pool1d, sample=lambda rng: _sample_pool1d(rng, True))
defcomposite("adaptive_avg_pool2d", adaptive_avg_pool2d, sample=_sample_adaptive)
defcomposite("interpolate", interpolate, sample=_sample_interpolate)
defcomposite("pad_modes", pad, sample=_sample_pad)
