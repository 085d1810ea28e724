"""The registered ops of 2-D convolution and pooling over NCHW images.

nn.functional.conv builds F.conv2d, F.max_pool2d, F.avg_pool2d and the rest on
these ops (conv2d, unfold, fold, window_sum, window_spread, max_pool2d,
avg_pool2d, relu_max_pool2d); importing nn.functional registers them. The core
(autograd_core) holds only the math ops and never imports this module.

Convolution is im2col: `unfold` gathers every kernel window into the columns
of one matrix, so conv2d is a single matrix product, and `fold` is unfold's
adjoint (col2im: each patch value is added back to the pixel it came from):

    unfold(x)[c, p, q, i, j, n] = xpad[n, c, i*s + p, j*s + q]
    conv2d(x, w, b)[n, o, i, j] = sum_{c,p,q} w[o, c, p, q] unfold(x)[c, p, q, i, j, n] + b[o]
    dx = fold(W^T g)        dW = g unfold(x)^T        db = sum of g over n, i, j

Pools read the kh*kw strided "offset slices" x[..., p::s, q::s] of the input
(one per kernel offset, never a loop over pixels). `window_sum` sums those
slices (optionally masked) and `window_spread` is its adjoint, adding g back
into each slice; max and average pooling differentiate through them.

Every pair (unfold/fold, window_sum/window_spread) is linear and each other's
gradient, like getitem and getitem_grad, so all these rules are differentiable
again (double backward through a CNN, as a WGAN-GP penalty needs).

Layout: the batch axis is innermost in memory. unfold's columns are ordered
(i, j, n), so conv2d's output is an NCHW *view* of a (O, H, W, N) array;
elementwise ops keep that layout and every offset slice then has a long
contiguous inner loop (N), which is what makes the pools fast in numpy.
"""

from __future__ import annotations

import functools

import numpy as np

from autograd_core import sampling as s
from autograd_core.backend import NUMPY, backend_of
from autograd_core.kernels import masked, numpy_windows
from autograd_core.ops.linalg import row_sums
from autograd_core.registry import OP, defop


def pair(v) -> tuple[int, int]:
    """2 -> (2, 2); (2, 3) stays."""
    if isinstance(v, (tuple, list)):
        a, b = v
        return int(a), int(b)
    return int(v), int(v)


def out_size(size: int, k: int, stride: int, padding: int = 0) -> int:
    """PyTorch's output size: floor((size + 2 padding - k) / stride) + 1."""
    if stride < 1 or padding < 0:
        raise ValueError(f"stride must be at least 1 and padding at least 0, got stride "
                         f"{stride} and padding {padding}")
    n = (size + 2 * padding - k) // stride + 1
    if n < 1:
        raise ValueError(f"a window of {k} with stride {stride} and padding {padding} does "
                         f"not fit in an input of size {size}")
    return n


def window_geometry(shape: tuple, kernel_size, stride, padding=0, dilation=1) -> tuple:
    """(kh, kw, sh, sw, ph, pw, oh, ow) of a window over an NCHW `shape`: the kernel,
    stride (the kernel's when None), padding and output size."""
    try:  # a few geometries recur every step; the cache saves the parsing
        return _cached_geometry(tuple(shape), kernel_size, stride, padding, dilation)
    except TypeError:  # an unhashable argument (a list)
        return _parse_geometry(shape, kernel_size, stride, padding, dilation)


def _parse_geometry(shape: tuple, kernel_size, stride, padding=0, dilation=1) -> tuple:
    """(kh, kw, sh, sw, ph, pw, oh, ow); a dilated kernel spans d (k - 1) + 1 pixels."""
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    ph, pw = pair(padding)
    dh, dw = pair(dilation)
    if dh < 1 or dw < 1:
        raise ValueError(f"dilation must be at least 1, got {dilation}")
    return (kh, kw, sh, sw, ph, pw, out_size(shape[2], dh * (kh - 1) + 1, sh, ph),
            out_size(shape[3], dw * (kw - 1) + 1, sw, pw))


_cached_geometry = functools.lru_cache(maxsize=256)(_parse_geometry)


def layout(a) -> tuple | None:
    """a's axes from the largest stride to the smallest (its order in memory); None
    for other libraries' arrays (the standard shows no strides)."""
    a = getattr(a, "_data", a)  # a Tensor's array, under create_graph
    if type(a) is not np.ndarray:
        return None
    return _order_of(a.strides)


@functools.lru_cache(maxsize=256)
def _order_of(strides: tuple) -> tuple:
    # A stable sort, so axes of equal stride (length 1) keep their order.
    return tuple(sorted(range(len(strides)), key=lambda i: -strides[i]))


def _zeros(shape: tuple, order: tuple | None, dtype, empty: bool = False) -> np.ndarray:
    """zeros(shape), laid out in memory in axis order `order` (C order when None)."""
    make = np.empty if empty else np.zeros
    if order is None:
        return make(shape, dtype)
    buf = make([shape[i] for i in order], dtype)
    return buf.transpose(_inverse(order))


@functools.lru_cache(maxsize=256)
def _inverse(order: tuple) -> tuple:
    """The inverse permutation (np.argsort costs more than this for a few axes)."""
    inv = [0] * len(order)
    for i, a in enumerate(order):
        inv[a] = i
    return tuple(inv)


def _in_layout(a: np.ndarray, order: tuple) -> np.ndarray:
    """a copied into memory order `order`, unless it is already laid out so. Mixing
    layouts in one ufunc call makes numpy iterate in short inner loops, 10x slower."""
    if layout(a) == order:
        return a
    return np.ascontiguousarray(a.transpose(order)).transpose(_inverse(order))


# -- unfold (im2col) and fold (col2im) ---------------------------------------------
def _windows(x, geometry, dilation=1) -> np.ndarray:
    """The (c, kh, kw, oh, ow, n) strided view of numpy x's (padded) windows."""
    return numpy_windows(x, geometry, (1, 1) if dilation == 1 else pair(dilation))


def _unfold(xp, x, kernel_size, stride=1, padding=0, dilation=1):
    geometry = window_geometry(x.shape, kernel_size, stride, padding, dilation)
    windows = xp.windows(x, geometry, pair(dilation))
    # numpy's are a strided view of x: copied here. Other libraries' are fresh.
    return np.ascontiguousarray(windows) if type(x) is np.ndarray else windows


def _fold(xp, cols, shape, kernel_size, stride=1, padding=0, dilation=1):
    kh, kw, sh, sw, ph, pw, oh, ow = window_geometry(shape, kernel_size, stride, padding,
                                                     dilation)
    dh, dw = pair(dilation)
    n, c, h, w = shape
    out = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=cols.dtype, device=cols.device)
    for p in range(kh):  # one strided add per kernel offset; overlaps accumulate
        for q in range(kw):
            r, t = p * dh, q * dw
            out[:, r:r + sh * (oh - 1) + 1:sh, t:t + sw * (ow - 1) + 1:sw, :] += \
                cols[:, p, q, ...]
    return xp.permute_dims(out[:, ph:ph + h, pw:pw + w, :], (3, 0, 1, 2))


def _sample_window(rng, padding: bool = True):
    """A small NCHW shape and a window that fits it (maybe strided and padded, and
    for convolution maybe dilated)."""
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 4)))
    pad = (int(rng.integers(0, 2)), int(rng.integers(0, 2))) if padding else (0, 0)
    dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if padding else (1, 1)
    h = int(rng.integers(max(dil[0] * (kh - 1) + 1 - 2 * pad[0], 1), 7))
    w = int(rng.integers(max(dil[1] * (kw - 1) + 1 - 2 * pad[1], 1), 7))
    n, c = (int(v) for v in rng.integers(1, 3, size=2))
    params = {"kernel_size": (kh, kw), "stride": stride}
    if padding:
        params["padding"] = pad
        params["dilation"] = dil
    return (n, c, h, w), params


def _sample_unfold(rng):
    shape, params = _sample_window(rng)
    return (s.any_layout(rng, s.values(rng, shape)),), params


def _sample_fold(rng):
    shape, params = _sample_window(rng)
    cols_shape = _unfold(NUMPY.xp, np.zeros(shape), **params).shape
    return (s.values(rng, cols_shape),), {"shape": shape, **params}


defop("unfold", _unfold,
      lambda xp, g, ans, x, kernel_size, stride=1, padding=0, dilation=1:
          xp.fold(g, shape=x.shape, kernel_size=kernel_size, stride=stride, padding=padding,
                  dilation=dilation),
      sample=_sample_unfold, linear=True)
defop("fold", _fold,
      lambda xp, g, ans, cols, shape, kernel_size, stride=1, padding=0, dilation=1:
          xp.unfold(g, kernel_size=kernel_size, stride=stride, padding=padding,
                    dilation=dilation),
      sample=_sample_fold, linear=True)


# -- conv2d: one node, one (o, c*kh*kw) @ (c*kh*kw, oh*ow*n) product per group -------
# conv2d's im2col columns up to this size are kept for backward, and max_pool2d's
# winners found from window blocks up to this size; larger ones are recomputed in
# backward (memory over time).
KEEP_SAVED_BYTES = 4 << 20


def _conv2d(xp, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, keep=True):
    o, cg, kh, kw = weight.shape if weight.ndim == 4 else (0, 0, 0, 0)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != cg * groups or o % groups:
        raise ValueError(f"expects input (N, C, H, W) and weight (O, C / groups, kh, kw) "
                         f"with O and C divisible by groups = {groups}, got {x.shape} "
                         f"and {weight.shape}")
    if type(x) is not np.ndarray:
        return _conv2d_generic(xp, x, weight, bias, stride, padding, dilation, groups), None
    geometry = window_geometry(x.shape, (kh, kw), stride, padding, dilation)
    windows = _windows(x, geometry, dilation)
    _, _, _, oh, ow, n = windows.shape
    k = cg * kh * kw  # one group's rows of the column matrix
    lead = _lead(groups)  # groups > 1: a stack of products, one per group
    w2 = weight.reshape(lead + (o // groups, k))
    if bias is None:
        cols = np.ascontiguousarray(windows).reshape(lead + (k, -1))
    else:  # the bias rides in the product: [W b] @ [cols; 1] (a broadcast add is slower)
        cols = np.empty(lead + (k + 1, oh * ow * n), np.result_type(x, bias))
        shape = (groups, cg) + windows.shape[1:]
        np.copyto(cols[..., :k, :].reshape(shape), windows.reshape(shape))
        cols[..., k, :] = 1
        w2 = np.concatenate([w2, bias.reshape(lead + (o // groups, 1))], axis=-1)
    # Small columns are kept for the weight's gradient: one unfold less in backward,
    # which is most of a small conv's time. Large ones (kh*kw times the input) are
    # recomputed: time traded for memory, as PyTorch's im2col convolution always does.
    kept = cols if keep and cols.nbytes <= KEEP_SAVED_BYTES else None
    return (w2 @ cols).reshape(o, oh, ow, n).transpose(3, 0, 1, 2), kept


def _conv2d_generic(xp, x, weight, bias, stride, padding, dilation, groups):
    """conv2d with the standard's names: the windows' columns, one matmul per group,
    the bias broadcast in (numpy's route above folds it into the product)."""
    o, cg, kh, kw = weight.shape
    geometry = window_geometry(x.shape, (kh, kw), stride, padding, dilation)
    windows = xp.windows(x, geometry, pair(dilation))
    _, _, _, oh, ow, n = windows.shape
    lead = _lead(groups)
    cols = xp.reshape(windows, lead + (cg * kh * kw, -1))
    out = xp.matmul(xp.reshape(weight, lead + (o // groups, cg * kh * kw)), cols)
    if bias is not None:
        out = out + xp.reshape(bias, lead + (o // groups, 1))
    return xp.permute_dims(xp.reshape(out, (o, oh, ow, n)), (3, 0, 1, 2))


def _lead(groups: int) -> tuple:
    return () if groups == 1 else (groups,)


def _conv2d_grads(xp, g, ans, inputs, needs, stride=1, padding=0, dilation=1, groups=1,
                  saved=None):
    x, weight, bias = inputs
    o, cg, kh, kw = weight.shape
    n, _, oh, ow = g.shape
    k, lead = cg * kh * kw, _lead(groups)
    # g as the (o, oh*ow*n) matrix the forward produced (one per group), for all three rules.
    g2 = xp.reshape(xp.transpose(g, (1, 2, 3, 0)), lead + (o // groups, -1))
    gx = gw = gb = None
    if needs[0] is not None:
        w2 = xp.reshape(weight, lead + (o // groups, k))
        gcols = xp.matmul(xp.swapaxes(w2, -1, -2), g2)
        gx = xp.fold(xp.reshape(gcols, (cg * groups, kh, kw, oh, ow, n)), shape=x.shape,
                     kernel_size=(kh, kw), stride=stride, padding=padding,
                     dilation=dilation)
    if saved is not None and needs[1] is not None:  # a plain pass: ndarrays only
        # [dW db] = g2 [cols; 1]^T in one product (the saved columns carry the ones row)
        both = g2 @ saved.swapaxes(-1, -2)
        if bias is not None and needs[2] is not None:
            gb = both[..., k].reshape(o)
        return gx, both[..., :k].reshape(weight.shape), gb
    if needs[1] is not None:
        cols = xp.unfold(x, kernel_size=(kh, kw), stride=stride, padding=padding,
                         dilation=dilation)
        cols2 = xp.reshape(cols, lead + (k, -1))
        gw = xp.reshape(xp.matmul(g2, xp.swapaxes(cols2, -1, -2)), weight.shape)
    if needs[2] is not None:
        gb = row_sums(xp, xp.reshape(g2, (o, -1)))
    return gx, gw, gb


def _sample_conv2d(rng):
    (n, c, h, w), params = _sample_window(rng)
    groups = int(rng.choice([1, 1, 2]))
    o = int(rng.integers(1, 3)) * groups
    weight = s.values(rng, (o, c) + params.pop("kernel_size"))
    bias = s.values(rng, (o,)) if rng.random() < 0.7 else None
    if groups > 1:
        params["groups"] = groups
    return (s.any_layout(rng, s.values(rng, (n, c * groups, h, w))), weight, bias), params


defop("conv2d", _conv2d, vjp=_conv2d_grads, nin=3, saves=True,
      sample=_sample_conv2d)


# -- pooling through offset slices --------------------------------------------------
# A mask, where a pool needs one, is a bool array (kh, kw, n, c, oh, ow): mask[p, q]
# selects the entries of offset slice (p, q) that take part (max pool: the winners).
def _offsets(x, geometry, dilation=1):
    """(p, q, slice) for the kh*kw offset slices: slice (p, q) holds
    x[n, c, i*sh + p*dh, j*sw + q*dw] (dilation spaces the kernel's taps)."""
    kh, kw, sh, sw, _, _, oh, ow = geometry
    dh, dw = (1, 1) if dilation == 1 else pair(dilation)
    return [(p, q, x[:, :, p * dh:p * dh + sh * (oh - 1) + 1:sh,
                     q * dw:q * dw + sw * (ow - 1) + 1:sw])
            for p in range(kh) for q in range(kw)]


def _tiles(x, geometry) -> np.ndarray:
    """For stride == kernel: the (n, c, oh, kh, ow, kw) view of x's windows. Splitting
    an axis in two never needs a copy, so writes to this view land in x."""
    kh, kw, _, _, _, _, oh, ow = geometry
    n, c, h, w = x.shape
    if (h, w) != (oh * kh, ow * kw):
        x = x[:, :, :oh * kh, :ow * kw]  # floor mode: the ragged edge is not pooled
    return x.reshape(n, c, oh, kh, ow, kw)


def _offset_index(geometry, dilation, p: int, q: int) -> tuple:
    """The index of offset slice (p, q) (see _offsets)."""
    _, _, sh, sw, _, _, oh, ow = geometry
    dh, dw = (1, 1) if dilation == 1 else pair(dilation)
    return (slice(None), slice(None), slice(p * dh, p * dh + sh * (oh - 1) + 1, sh),
            slice(q * dw, q * dw + sw * (ow - 1) + 1, sw))


def _window_sum(xp, x, kernel_size, stride=None, mask=None, dilation=1):
    """Sum over each window (of the entries `mask` selects)."""
    out = None
    geometry = window_geometry(x.shape, kernel_size, stride, 0, dilation)
    if type(x) is not np.ndarray:  # the standard's names: no out=, no layouts
        for p, q, v in _offsets(x, geometry, dilation):
            if mask is not None:
                v = xp.where(mask[p, q, ...], v, xp.zeros_like(v))
            out = xp.asarray(v, copy=True) if out is None else out + v
        return out
    for p, q, v in _offsets(x, geometry, dilation):
        if mask is not None:
            v = masked(mask[p, q], v)
        out = np.array(v, order="K") if out is None else np.add(out, v, out=out)
    return out


def _window_spread(xp, g, shape, kernel_size, stride=None, mask=None, order=None, dilation=1):
    """window_sum's adjoint: g[n, c, i, j] added to every (selected) entry of window
    (i, j). `order` lays the result out in memory like the pooled input."""
    geometry = window_geometry(shape, kernel_size, stride, 0, dilation)
    kh, kw, sh, sw, _, _, oh, ow = geometry
    if type(g) is not np.ndarray:  # the standard's names: a zeros, then strided adds
        out = xp.zeros(tuple(shape), dtype=g.dtype, device=g.device)
        zero = xp.zeros_like(g)
        for p in range(kh):
            for q in range(kw):
                out[_offset_index(geometry, dilation, p, q)] += \
                    g if mask is None else xp.where(mask[p, q, ...], g, zero)
        return out
    if order is not None:
        g = _in_layout(g, order)
    tiling = (sh, sw) == (kh, kw) and dilation == 1
    if tiling and shape[2:] == (oh * kh, ow * kw):  # every entry is written below
        out = _zeros(shape, order, g.dtype, empty=True)
    else:
        out = _zeros(shape, order, g.dtype)
    if tiling:  # one broadcast write covers all windows
        g6 = g[:, :, :, None, :, None]
        if mask is None:
            np.copyto(_tiles(out, geometry), g6)
        else:  # max pool's masks are window-major (see first_max): write through them
            masked(mask, g, out=_tiles(out, geometry).transpose(3, 5, 0, 1, 2, 4))
        return out
    for p, q, dst in _offsets(out, geometry, dilation):  # overlapping windows accumulate
        dst += g if mask is None else masked(mask[p, q], g)
    return out


def _sample_pool(rng, distinct: bool = False, dilation: bool = True):
    shape, params = _sample_window(rng, padding=False)
    if rng.random() < 0.3:
        params["stride"] = None  # the default: stride = kernel_size
    if dilation and rng.random() < 0.3:  # spaced taps: the input grows to fit them
        (kh, kw), (dh, dw) = params["kernel_size"], (int(d) for d in rng.integers(1, 4, 2))
        params["dilation"] = (dh, dw)
        shape = shape[:2] + (max(shape[2], dh * (kh - 1) + 1), max(shape[3], dw * (kw - 1) + 1))
    x = s.distinct(rng, shape) if distinct else s.values(rng, shape)
    return s.any_layout(rng, x), params


def _random_mask(rng, shape, params):
    kh, kw = params["kernel_size"]
    pooled = np.shape(_window_sum(np, np.zeros(shape), **params))
    winner = rng.integers(0, kh * kw, size=pooled)  # one entry per window, as max's
    return np.stack([winner == k for k in range(kh * kw)]).reshape((kh, kw) + pooled)


def _sample_window_sum(rng):
    x, params = _sample_pool(rng)
    mask = _random_mask(rng, x.shape, params) if rng.random() < 0.5 else None
    return (x,), {**params, "mask": mask}


def _sample_window_spread(rng):
    x, params = _sample_pool(rng)
    mask = _random_mask(rng, x.shape, params) if rng.random() < 0.5 else None
    g = s.values(rng, _window_sum(np, x, **params).shape)
    return (g,), {"shape": x.shape, **params, "mask": mask}


defop("window_sum", _window_sum,
      lambda xp, g, ans, x, kernel_size, stride=None, mask=None, dilation=1:
          xp.window_spread(g, shape=x.shape, kernel_size=kernel_size, stride=stride,
                           mask=mask, order=layout(x), dilation=dilation),
      sample=_sample_window_sum, linear=True)
defop("window_spread", _window_spread,
      lambda xp, g, ans, x, shape, kernel_size, stride=None, mask=None, order=None,
             dilation=1:
          xp.window_sum(g, kernel_size=kernel_size, stride=stride, mask=mask,
                        dilation=dilation),
      sample=_sample_window_spread, linear=True)


def _check4(x, what: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{what} expects an (N, C, H, W) input, got shape {x.shape}")


def _max_pool2d(xp, x, kernel_size, stride=None, dilation=1, keep=True):
    _check4(x, "max_pool2d")
    geometry = window_geometry(x.shape, kernel_size, stride, 0, dilation)
    kh, kw, sh, sw = geometry[:4]
    if type(x) is not np.ndarray:
        slices = [v for _, _, v in _offsets(x, geometry, dilation)]
        out = slices[0]
        for v in slices[1:]:
            out = xp.maximum(out, v)
        out = xp.asarray(out, copy=True)
        return out, _first_max_generic(xp, slices, out, kh, kw) if keep else None
    if (sh, sw) == (kh, kw) and dilation == 1:
        # Tiles: copy each window position's entries into one contiguous block
        # (the copy costs what strided max passes would), then take the max over
        # the blocks. When a graph may be recorded, the winners are found here too,
        # while the blocks are still in cache (in backward they are not: reading
        # them again cost a miss per line), and only their mask is kept.
        order = layout(x)
        blocks = _window_blocks(x, geometry, order)
        flat = blocks.reshape(kh * kw, -1)
        out = np.array(flat[0]) if len(flat) == 1 else np.maximum(flat[0], flat[1])
        for k in range(2, len(flat)):
            np.maximum(out, flat[k], out=out)
        ans = out.reshape(blocks.shape[2:]).transpose(_inverse(order))
        if not keep or blocks.nbytes > KEEP_SAVED_BYTES:
            return ans, None
        return ans, first_max(x, ans, kernel_size, stride, order, blocks, dilation)
    slices = [v for _, _, v in _offsets(x, geometry, dilation)]
    if len(slices) == 1:
        return np.array(slices[0], order="K"), None
    out = np.maximum(slices[0], slices[1])
    for v in slices[2:]:
        np.maximum(out, v, out=out)
    return out, None


def _window_blocks(x, geometry, order) -> np.ndarray:
    """(kh, kw, *pooled axes in memory order `order`): block [p, q] holds every
    window's entry (p, q), laid out like x (for stride == kernel)."""
    kh, kw = geometry[:2]
    tiles = _tiles(x, geometry).transpose(3, 5, 0, 1, 2, 4)  # (kh, kw, n, c, oh, ow)
    shape, axes = _mask_layout(tiles.shape[2:], order, kh, kw)
    blocks = np.empty(shape, x.dtype)
    np.copyto(blocks.transpose(axes), tiles)
    return blocks


@functools.lru_cache(maxsize=256)
def _mask_layout(pooled: tuple, order: tuple, kh: int, kw: int) -> tuple:
    """The (kh, kw, *pooled) shape in memory order `order`, and the axes that view
    such a block array in logical order."""
    return ((kh, kw) + tuple(pooled[a] for a in order),
            (0, 1) + tuple(2 + a for a in _inverse(order)))


def first_max(x, ans, kernel_size, stride, order, blocks=None, dilation=1) -> np.ndarray:
    """The mask of each window's first maximum (in row-major window order), where
    PyTorch sends the gradient; from the forward's window blocks when given.
    `order` is x's layout."""
    geometry = window_geometry(x.shape, kernel_size, stride, 0, dilation)
    kh, kw, sh, sw, _, _, oh, ow = geometry
    shape, axes = _mask_layout(ans.shape, order, kh, kw)
    buf = np.empty(shape, bool)
    mask = buf.transpose(axes)
    if blocks is not None:  # contiguous: one long pass
        np.equal(blocks.reshape(kh * kw, -1), ans.transpose(order).reshape(-1),
                 out=buf.reshape(kh * kw, -1))
    elif (sh, sw) == (kh, kw) and dilation == 1:
        # One pass over x's windows. The mask is window-major: each mask[p, q] is one
        # contiguous block laid out like x, so the tie-breaking below and the spread
        # (which multiplies g into it) run over long contiguous stretches.
        np.equal(_tiles(x, geometry).transpose(3, 5, 0, 1, 2, 4), ans, out=mask)
    else:
        for p, q, v in _offsets(x, geometry, dilation):
            np.equal(v, ans, out=mask[p, q])
    _keep_first(buf.reshape(kh * kw, -1))  # each offset's mask, flat
    return mask


def _keep_first(hits) -> None:
    """Clear, in place, every hit but each window's first: hits[k] is the bool mask of
    the windows' k-th entries (row-major window order)."""
    taken = None
    for k in range(1, len(hits)):
        earlier = hits[0] if taken is None else taken
        np.greater(hits[k], earlier, out=hits[k])  # for bools, a > b is a & ~b
        if k < len(hits) - 1:
            taken = np.bitwise_or(earlier, hits[k], out=taken)


def _first_max_generic(xp, slices, ans, kh: int, kw: int):
    """The (kh, kw, n, c, oh, ow) mask of each window's first maximum, from its offset
    slices, with the standard's names."""
    hits, taken = [], None
    for v in slices:
        hit = v == ans
        if taken is not None:
            hit = hit & ~taken
        taken = hit if taken is None else taken | hit
        hits.append(hit)
    return xp.reshape(xp.stack(hits), (kh, kw) + tuple(ans.shape))


def _max_pool2d_grad(xp, g, ans, x, kernel_size, stride=None, dilation=1, saved=None):
    # The winners are constant near any point without ties, so they are read off
    # the values (the arrays under Tensors, under create_graph: no gradient).
    xd, ad = getattr(x, "_data", x), getattr(ans, "_data", ans)
    if type(xd) is not np.ndarray:
        mask = saved
        if mask is None:
            geometry = window_geometry(xd.shape, kernel_size, stride, 0, dilation)
            slices = [v for _, _, v in _offsets(xd, geometry, dilation)]
            mask = _first_max_generic(backend_of(xd).xp, slices, ad, *geometry[:2])
        return xp.window_spread(g, shape=tuple(xd.shape), kernel_size=kernel_size,
                                stride=stride, mask=mask, dilation=dilation)
    xa = np.asarray(x)
    order = layout(xa)
    mask = saved if saved is not None else \
        first_max(xa, np.asarray(ans), kernel_size, stride, order, None, dilation)
    return xp.window_spread(g, shape=xa.shape, kernel_size=kernel_size, stride=stride,
                            mask=mask, order=order, dilation=dilation)


def _avg_pool2d(xp, x, kernel_size, stride=None):
    _check4(x, "avg_pool2d")
    kh, kw = pair(kernel_size)
    out = _window_sum(xp, x, kernel_size, stride)
    out *= 1.0 / (kh * kw)
    return out


def _avg_pool2d_grad(xp, g, ans, x, kernel_size, stride=None):
    kh, kw = pair(kernel_size)
    return xp.window_spread(g * (1.0 / (kh * kw)), shape=x.shape, kernel_size=kernel_size,
                            stride=stride, order=layout(x))


defop("max_pool2d", _max_pool2d, _max_pool2d_grad, linear=True, saves=True,
      sample=lambda rng: (lambda x, params: ((x,), params))(*_sample_pool(rng, True)))
defop("avg_pool2d", _avg_pool2d, _avg_pool2d_grad, linear=True,
      sample=lambda rng: (lambda x, params: ((x,), params))(*_sample_pool(rng,
                                                                        dilation=False)))


# relu(max_pool2d(x)) as one node: it equals max_pool2d(relu(x)), relu being monotone,
# and is what nn.fuse runs for ReLU -> MaxPool2d (nn.ReLUMaxPool2d), with relu on the
# pool's share of the data. One node and two arrays a step fewer than the two ops in turn, and
# the same values and gradients, to the bit: max_pool2d's gradient, of g where the
# window's maximum is positive (relu'(0) = 0, PyTorch's).
def _relu_max_pool2d(xp, x, kernel_size, stride=None, dilation=1, keep=True):
    out, mask = _max_pool2d(xp, x, kernel_size, stride, dilation, keep)  # the mask is of x
    # Against an array of zeros: numpy's maximum with the number 0 takes a slow loop
    # (4.7 us in place at the CNN benchmark's 64 x 8 x 4 x 4 float32; 3.9 us so).
    return xp.maximum(out, xp.zeros_like(out)), mask


def _relu_max_pool2d_grad(xp, g, ans, x, kernel_size, stride=None, dilation=1, saved=None):
    # Recomputed from ans, the mask may pick a window's 0 where its maximum was not
    # positive: g is 0 there.
    g = xp.where(ans > 0, g, 0)
    return _max_pool2d_grad(xp, g, ans, x, kernel_size, stride, dilation, saved)


def _sample_relu_max_pool2d(rng):
    x, params = _sample_pool(rng, True)
    x[x == 0] = 2.0 / max(x.size - 1, 1)  # half a grid step: no maximum at relu's kink
    return (x,), params


defop("relu_max_pool2d", _relu_max_pool2d, _relu_max_pool2d_grad, linear=True,
      saves=True, sample=_sample_relu_max_pool2d)


# -- conv2d -> relu -> max_pool2d as one node ----------------------------------------
# What nn.fuse runs for Conv2d (stride 1, no dilation, one group) -> ReLU -> MaxPool2d
# (stride = kernel, no padding): the im2col columns are ordered by window position
# first, (c, kh, kw) x (p, q, ph, pw, n) for conv output row ph*a + p and column
# pw*b + q, so the conv's product z, one product per window position, is
# (a*b, o, ph*pw*n): the pool is a max over its contiguous blocks, the first-max
# mask one `equal` over z while it is in cache, and the gradient spread one multiply
# into z's layout, which the weight's gradient products read with the columns.
# z as (a*b, o, ...) rather than (o, a*b, ...): at the CNN benchmark's size the max
# takes 3.9 us instead of 5.8, the mask 9.1 instead of 17.3 (its passes then run
# over whole blocks, not o rows each), for a weight gradient of 9.4 us instead of
# 7.7 (a*b products summed rather than one). The conv outputs past the last whole
# window (floor mode) are never computed: the pool would not read them.
def _pooled_columns(x, weight, bias, padding, pool_size) -> tuple:
    """(cols, [W b], (ph, pw)) for numpy x: the columns in window-position order (with
    the bias's row of ones, as conv2d's), the weight matrix to multiply them by, and
    the pooled output's height and width."""
    o, c, kh, kw = weight.shape
    a, b = pool_size
    windows = _windows(x, window_geometry(x.shape, (kh, kw), 1, padding))
    _, _, _, oh, ow, n = windows.shape
    ph, pw = oh // a, ow // b
    if ph < 1 or pw < 1:
        raise ValueError(f"conv2d_relu_max_pool2d: a {a}x{b} pool does not fit the "
                         f"{oh}x{ow} output of the convolution of {x.shape} by "
                         f"{weight.shape} with padding {padding}")
    blocks = windows[:, :, :, :ph * a, :pw * b].reshape(c, kh, kw, ph, a, pw, b, n)
    k, w2 = c * kh * kw, weight.reshape(o, -1)
    if bias is None:
        cols = np.empty((k, a * b * ph * pw * n), x.dtype)
    else:  # the bias rides in the product, as in conv2d
        cols = np.empty((k + 1, a * b * ph * pw * n), np.result_type(x, bias))
        cols[k] = 1
        w2 = np.concatenate([w2, bias.reshape(o, 1)], axis=1)
    np.copyto(cols[:k].reshape(c, kh, kw, a, b, ph, pw, n),
              blocks.transpose(0, 1, 2, 4, 6, 3, 5, 7))
    return cols, w2, (ph, pw)


def _conv2d_relu_max_pool2d(xp, x, weight, bias=None, padding=0, pool_size=2, keep=True):
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d_relu_max_pool2d expects input (N, C, H, W) and weight "
                         f"(O, C, kh, kw), got {x.shape} and {weight.shape}")
    if type(x) is not np.ndarray:  # the two ops' forwards, with the standard's names
        conv = _conv2d(xp, x, weight, bias, padding=padding, keep=False)[0]
        return _relu_max_pool2d(xp, conv, pool_size, keep=False)[0], None
    a, b = pair(pool_size)
    cols, w2, (ph, pw) = _pooled_columns(x, weight, bias, pair(padding), (a, b))
    o, n = weight.shape[0], x.shape[0]
    z = np.matmul(w2, _by_position(cols, a * b))  # (a*b, o, ph*pw*n)
    pooled = np.array(z[0]) if len(z) == 1 else np.maximum(z[0], z[1])
    for k in range(2, len(z)):
        np.maximum(pooled, z[k], out=pooled)
    saved = None
    if keep:
        # The winners are found now, z still in cache. The bool mask is a quarter of
        # z's bytes (float32): less than the unfused ops keep (z itself, as the pool's
        # input). The columns are kept up to conv2d's limit, else recomputed.
        mask = np.equal(z, pooled)
        _keep_first(mask)  # PyTorch's tie rule
        saved = (cols if cols.nbytes <= KEEP_SAVED_BYTES else None, mask)
    # relu(max) = max(relu), on a quarter of the data (see relu_max_pool2d)
    np.maximum(pooled, np.zeros_like(pooled), out=pooled)
    return pooled.reshape(o, ph, pw, n).transpose(3, 0, 1, 2), saved


def _by_position(cols, positions: int):
    """The (a*b, rows, ph*pw*n) view of the columns: one matrix per window position."""
    return cols.reshape(len(cols), positions, -1).swapaxes(0, 1)


def _conv2d_relu_max_pool2d_grads(xp, g, ans, inputs, needs, padding=0, pool_size=2,
                                  saved=None):
    x, weight, bias = inputs
    if saved is None:  # create_graph or another library: the parts' rules in turn
        return _grads_by_parts(xp, g, ans, inputs, needs, padding, pool_size)
    cols, mask = saved
    a, b = pair(pool_size)
    o, c, kh, kw = weight.shape
    # g where the pooled value is positive (relu'(0) = 0), then spread to each window's
    # first maximum: gz is laid out as z, (a*b, o, ph*pw*n). flatten_linear's g is laid
    # out as ans, (o, ph, pw, n) in memory, so these transposes are views.
    positive, gt = ans.transpose(1, 2, 3, 0) > 0, g.transpose(1, 2, 3, 0)
    gz = masked(mask, masked(positive, gt).reshape(o, -1))
    gx = gw = gb = None
    if needs[0] is not None:
        gx = _fold_pooled(np.matmul(weight.reshape(o, -1).T, gz), x.shape, (kh, kw),
                          pair(padding), (a, b))
    if needs[1] is not None:
        if cols is None:
            cols = _pooled_columns(x, weight, bias, pair(padding), (a, b))[0]
        # [dW db], as conv2d's, summed over the window positions' products
        both = np.matmul(gz, _by_position(cols, a * b).swapaxes(1, 2)).sum(axis=0)
        gw = both[:, :c * kh * kw].reshape(weight.shape)
        if needs[2] is not None:
            gb = both[:, -1]
    elif needs[2] is not None:
        gb = gz.sum(axis=(0, 2))
    return gx, gw, gb


def _fold_pooled(gcols, shape, kernel, padding, pool_size):
    """fold (col2im) of (a*b, c*kh*kw, ph*pw*n) columns by window position: each
    kernel offset's columns added into the padded input's (c, h, w, n) through a
    view of the conv output's rows as (ph, a): no reordering copy."""
    n, c, h, w = shape
    (kh, kw), (pad_h, pad_w), (a, b) = kernel, padding, pool_size
    ph, pw = (h + 2 * pad_h - kh + 1) // a, (w + 2 * pad_w - kw + 1) // b
    out = np.zeros((c, h + 2 * pad_h, w + 2 * pad_w, n), gcols.dtype)
    cols = gcols.reshape(a, b, c, kh, kw, ph, pw, n)
    for p in range(kh):
        for q in range(kw):
            dst = out[:, p:p + ph * a, q:q + pw * b].reshape(c, ph, a, pw, b, n)  # a view
            dst += cols[:, :, :, p, q].transpose(2, 3, 0, 4, 1, 5)
    return out[:, pad_h:pad_h + h, pad_w:pad_w + w].transpose(3, 0, 1, 2)


def _grads_by_parts(xp, g, ans, inputs, needs, padding, pool_size):
    """The fused op's gradient as its parts' rules in turn, with the same xp: so it is
    differentiable again under create_graph (xp = the Tensor ops, conv's output
    recorded) and runs on any library, with no second hand-written path."""
    x, weight, bias = inputs
    conv = xp.conv2d(x, weight, bias, padding=padding)
    # The pool's rule finds the winners by equality with its output, so it gets the
    # pool of this conv: the fused forward's product may round otherwise (its columns
    # are in another order), 1e-15 off in float64, and then would match no entry.
    pooled = xp.relu_max_pool2d(conv, kernel_size=pool_size)
    gconv = OP.relu_max_pool2d.vjp(xp, g, pooled, (conv,), (conv,),
                                   kernel_size=pool_size)[0]
    return OP.conv2d.vjp(xp, gconv, conv, inputs, needs, padding=padding)


def _sample_conv2d_relu_max_pool2d(rng):
    """Shapes in scope (maybe a ragged edge the pool drops), values whose conv outputs
    keep away from relu's kink and from ties in a window (redrawn until they do)."""
    while True:
        (kh, kw), (a, b) = rng.integers(1, 4, size=2), rng.integers(1, 3, size=2)
        pad = tuple(int(rng.integers(0, k)) for k in (kh, kw))  # < kernel: no all-pad window
        h, w = (int(v) for v in rng.integers(1, 7, size=2))
        if h + 2 * pad[0] - kh + 1 < a or w + 2 * pad[1] - kw + 1 < b:
            continue
        n, c, o = (int(v) for v in rng.integers(1, 3, size=3))
        x = s.values(rng, (n, c, h, w))
        weight = s.values(rng, (o, c, int(kh), int(kw)))
        bias = s.values(rng, (o,)) if rng.random() < 0.7 else None
        params = {"padding": pad, "pool_size": (int(a), int(b))}
        z = np.asarray(_conv2d(np, x, weight, bias, padding=pad)[0])
        oh, ow = z.shape[2] // a * a, z.shape[3] // b * b
        windows = z[:, :, :oh, :ow].reshape(n, o, oh // a, a, ow // b, b)
        top = np.sort(windows.transpose(0, 1, 2, 4, 3, 5).reshape(n, o, -1, a * b), -1)
        gaps = np.diff(top, axis=-1)
        if np.abs(top[..., -1]).min() > 0.05 and (gaps.size == 0 or gaps.min() > 0.05):
            return (s.any_layout(rng, x), weight, bias), params


defop("conv2d_relu_max_pool2d", _conv2d_relu_max_pool2d,
      vjp=_conv2d_relu_max_pool2d_grads, nin=3, saves=True,
      sample=_sample_conv2d_relu_max_pool2d)
