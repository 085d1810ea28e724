"""Ops that move values without changing them: reshaping, joining, indexing.

All of them are linear, so each rule moves g back the way the forward moved
x. Indexing and scatter-add (`getitem_grad`) are each other's gradient, which
makes repeated integer indices accumulate and double backward free.
"""

from __future__ import annotations

import math

import numpy as np

from .. import sampling as s
from ..backend import device_of, to_device
from ..kernels import full
from ..registry import defop
from ..tensor import Tensor


def shape_str(shape) -> str:
    """A shape as the error messages write it, `(2, 3)`: numpy's own messages say
    `(2,3)`, and a tuple of numpy integers would print as `(np.int64(2), 3)`."""
    dims = (shape,) if np.ndim(shape) == 0 else shape
    return str(tuple(int(n) for n in dims))


# The ndarray methods skip numpy's Python-level wrappers: these two run in every
# CNN step (flatten, and the layout changes inside conv's gradient). So reshape and
# broadcast_to word numpy's error rather than check first: nothing on the hot path.
def _reshape(xp, x, shape):
    try:
        return x.reshape(shape) if type(x) is np.ndarray else xp.reshape(x, _ints(shape))
    except ValueError:
        raise ValueError(f"reshape: cannot reshape an array of shape {shape_str(x.shape)} "
                         f"(size {math.prod(x.shape)}) into shape {shape_str(shape)}") from None


def _ints(shape) -> tuple:
    """A shape as Python ints, which every library takes (one number: a 1-d shape).
    No np.ndim: it makes an array of the shape first (1 us, in every sum's gradient)."""
    try:
        return tuple(map(int, shape))
    except TypeError:  # a number is not iterable
        return (int(shape),)


def _transpose(xp, x, axes=None):
    if type(x) is np.ndarray:
        return x.transpose(axes)
    return xp.permute_dims(x, tuple(range(x.ndim))[::-1] if axes is None else tuple(axes))


def _swapaxes(xp, x, axis1, axis2):
    if type(x) is np.ndarray:
        return x.swapaxes(axis1, axis2)
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return xp.permute_dims(x, tuple(axes))


def _inverse_axes(ndim: int, axes) -> tuple | None:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))


def _squeeze(xp, x, axis=None):
    if axis is None:
        axis = tuple(i for i, n in enumerate(x.shape) if n == 1)
    return xp.squeeze(x, axis=axis if isinstance(axis, tuple) else (axis,))


def _expand_dims(xp, x, axis):
    return xp.expand_dims(x, axis=axis)


def _broadcast_to(xp, x, shape):
    try:
        return xp.broadcast_to(x, _ints(shape))
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast an array of shape "
                         f"{shape_str(x.shape)} to shape {shape_str(shape)}") from None


def _flip(xp, x, axis=None):
    return xp.flip(x, axis=axis)


def _sample_reshape(rng):
    shape = s.shape(rng, 1)
    n = int(np.prod(shape))
    return (s.values(rng, shape),), {"shape": (-1,) if n == 1 else (n // shape[0], -1)}


def _sample_axes(rng):
    shape = s.shape(rng, 1)
    return (s.values(rng, shape),), {"axes": tuple(int(a) for a in rng.permutation(len(shape)))}


def _sample_two_axes(rng):
    shape = s.shape(rng, 2)
    a, b = (int(i) for i in rng.integers(0, len(shape), size=2))
    return (s.values(rng, shape),), {"axis1": a, "axis2": b}


def _sample_squeeze(rng):
    shape = s.shape(rng, 1)
    with_ones = tuple(1 if rng.random() < 0.4 else n for n in shape)
    ones = [i for i, n in enumerate(with_ones) if n == 1]
    axis = None if not ones or rng.random() < 0.5 else ones[0]
    return (s.values(rng, with_ones),), {"axis": axis}


def _sample_expand(rng):
    shape = s.shape(rng)
    return (s.values(rng, shape),), {"axis": int(rng.integers(-len(shape) - 1, len(shape) + 1))}


def _sample_broadcast(rng):
    full = s.shape(rng, 1)
    return (s.values(rng, s.broadcastable(rng, full)),), {"shape": full}


defop("reshape", _reshape, lambda xp, g, ans, x, shape: xp.reshape(g, x.shape),
      sample=_sample_reshape, linear=True)
defop("transpose", _transpose,
      lambda xp, g, ans, x, axes=None: xp.transpose(g, _inverse_axes(x.ndim, axes)),
      sample=_sample_axes, linear=True)
defop("swapaxes", _swapaxes,
      lambda xp, g, ans, x, axis1, axis2: xp.swapaxes(g, axis1, axis2),
      sample=_sample_two_axes, linear=True)
defop("squeeze", _squeeze, lambda xp, g, ans, x, axis=None: xp.reshape(g, x.shape),
      sample=_sample_squeeze, linear=True)
defop("expand_dims", _expand_dims, lambda xp, g, ans, x, axis: xp.reshape(g, x.shape),
      sample=_sample_expand, linear=True)
# The engine sums a gradient back to its operand's shape, so g is the answer.
defop("broadcast_to", _broadcast_to, lambda xp, g, ans, x, shape: g,
      sample=_sample_broadcast, linear=True)
defop("flip", _flip, lambda xp, g, ans, x, axis=None: xp.flip(g, axis),
      sample=lambda rng: (lambda x: ((x,), {"axis": s.axis_params(rng, x.ndim)["axis"]}))(
          s.values(rng, s.shape(rng))), linear=True)


# -- tile: the gradient folds each repetition back onto the original ---------
def _tile(xp, x, reps):
    return xp.tile(x, (reps,) if isinstance(reps, int) else tuple(reps))


def _tile_grad(xp, g, ans, x, reps):
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    d = max(x.ndim, len(reps))
    xs = (1,) * (d - x.ndim) + tuple(x.shape)
    rs = (1,) * (d - len(reps)) + reps
    interleaved = tuple(n for pair in zip(rs, xs, strict=True) for n in pair)
    folded = xp.sum(xp.reshape(g, interleaved), axis=tuple(range(0, 2 * d, 2)))
    return xp.reshape(folded, x.shape)


defop("tile", _tile, _tile_grad, linear=True,
      sample=lambda rng: (lambda x: ((x,), {"reps": tuple(int(r) for r in rng.integers(
          1, 3, size=int(rng.integers(1, 4))))}))(s.values(rng, s.shape(rng))))


# -- joining and splitting ----------------------------------------------------
def _concatenate(xp, *arrays, axis=0):
    return xp.concat(arrays, axis=axis)


def _concatenate_grad(xp, g, ans, inputs, needs, axis=0):
    grads, start = [], 0
    if axis is None:  # numpy flattened every input: each takes its run of g, reshaped
        for x, need in zip(inputs, needs, strict=True):
            stop = start + math.prod(x.shape)
            grads.append(xp.reshape(g[start:stop], x.shape) if need is not None else None)
            start = stop
        return grads
    ax = axis % g.ndim
    for x, need in zip(inputs, needs, strict=True):
        stop = start + x.shape[ax]
        grads.append(None if need is None else g[(slice(None),) * ax + (slice(start, stop), ...)])
        start = stop
    return grads


def _sample_join(stack: bool):
    def sample(rng):
        n = int(rng.integers(1, 4))
        if not stack and rng.random() < 0.2:  # axis=None: any shapes, flattened
            return tuple(s.values(rng, s.shape(rng)) for _ in range(n)), {"axis": None}
        base = s.shape(rng, 1)
        axis = int(rng.integers(-len(base), len(base)))
        shapes = [base if stack else base[:axis % len(base)] + (int(rng.integers(1, 4)),)
                  + base[axis % len(base) + 1:] for _ in range(n)]
        return tuple(s.values(rng, sh) for sh in shapes), {"axis": axis}
    return sample


def _stack(xp, *arrays, axis=0):
    return xp.stack(arrays, axis=axis)


def _stack_grad(xp, g, ans, inputs, needs, axis=0):
    ax = axis % g.ndim
    return [None if need is None else g[(slice(None),) * ax + (i, ...)]
            for i, need in enumerate(needs)]


def _sequence(name: str, tensors) -> None:
    """A Tensor or array is iterable, so numpy would join its rows: not what was meant."""
    if hasattr(tensors, "shape"):
        raise TypeError(f"{name}: expects a sequence of tensors, such as [a, b], got one "
                        f"of shape {shape_str(tensors.shape)}")


def concatenate(tensors, axis: int = 0):
    """Join tensors along an existing axis (numpy's concatenate)."""
    _sequence("concatenate", tensors)
    return _CONCAT(*tensors, axis=axis)


def stack(tensors, axis: int = 0):
    """Join tensors along a new axis (numpy's stack)."""
    _sequence("stack", tensors)
    return _STACK(*tensors, axis=axis)


_CONCAT = defop("concatenate", _concatenate, vjp=_concatenate_grad, nin=-1, linear=True,
                sample=_sample_join(False), public=concatenate,
                array_fn=lambda xp, arrays, axis=0: xp.concat(tuple(arrays), axis=axis))
_STACK = defop("stack", _stack, vjp=_stack_grad, nin=-1, linear=True,
               sample=_sample_join(True), public=stack,
               array_fn=lambda xp, arrays, axis=0: xp.stack(tuple(arrays), axis=axis))


def _pad(xp, x, pad_width, constant_values=0):
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu" or widths.size and widths.min() < 0 or \
            widths.ndim > 2 or widths.shape[-1:] not in ((), (1,), (2,)) or \
            widths.ndim == 2 and len(widths) not in (1, x.ndim):
        raise ValueError(f"pad: pad_width must be (before, after) pairs of non-negative "
                         f"ints, one per axis (or one for all), got {pad_width!r}")
    # A fresh array of the padded shape, x written into its middle (numpy's np.pad
    # does the same, with more checks on the way).
    widths = np.broadcast_to(widths.reshape(1, -1) if widths.ndim < 2 else widths, (x.ndim, 2))
    shape = tuple(int(b) + n + int(a) for (b, a), n in zip(widths, x.shape, strict=True))
    out = xp.full(shape, constant_values, dtype=x.dtype, device=x.device)
    out[tuple(slice(int(b), int(b) + n) for (b, _), n in zip(widths, x.shape, strict=True))] = x
    return out


def _pad_grad(xp, g, ans, x, pad_width, constant_values=0):
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    return g[tuple(slice(int(b), int(b) + n) for (b, _), n in zip(widths, x.shape, strict=True))]


defop("pad", _pad, _pad_grad, linear=True,
      sample=lambda rng: (lambda x: ((x,), {"pad_width": tuple(
          (int(a), int(b)) for a, b in rng.integers(0, 3, size=(x.ndim, 2))),
          "constant_values": float(rng.choice([0.0, -1.5]))}))(
          s.values(rng, s.shape(rng, 1))))


# -- indexing and its dual, scatter-add -----------------------------------------
def _on(index, x):
    """The index with its numpy arrays moved to x's library and device (a rule's
    index made from parameters, as repeat's, lives on the host)."""
    if type(x) is np.ndarray:
        return index
    if isinstance(index, tuple):
        return tuple(_on(i, x) for i in index)
    if type(index) is np.ndarray:
        from ..backend import backend_of
        return backend_of(x).xp.from_host(index, x.device)
    return index


def _getitem(xp, x, index):
    return xp.take_index(x, _on(index, x))


def index_outside(idx: np.ndarray, n: int) -> bool:
    """Whether an integer of idx falls outside [0, n), in one pass: read as unsigned,
    a negative index is larger than any n. Lookups check their indices with it
    (numpy would wrap a negative one)."""
    return bool(idx.size) and np.maximum.reduce(idx.view(f"u{idx.itemsize}"), axis=None) >= n


def _is_basic(index, none: bool = True) -> bool:
    """Slices, ints, None (if `none`), ... and boolean masks only: no position is
    written twice."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, type(Ellipsis))) or i is None and none or
               (hasattr(i, "dtype") and hasattr(i, "shape") and _is_bool(i)) for i in items)


def _is_bool(a) -> bool:
    return a.dtype == bool if isinstance(a, np.ndarray) else "bool" in str(a.dtype)


def _getitem_grad(xp, g, index, shape):
    """zeros(shape) with g added at index (repeated positions accumulate)."""
    index = _on(index, g)
    if type(g) is np.ndarray:
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out
    out = xp.zeros(_ints(shape), dtype=g.dtype, device=g.device)
    if _is_basic(index, none=False):  # the standard's setitem takes no None
        out[full(index, len(shape))] = g
        return out
    return xp.scatter_add(out, index, g)


def _sample_index(rng):
    shape = s.shape(rng, 1, 3)
    x = s.values(rng, shape)
    kind = int(rng.integers(0, 5))
    if kind == 0:  # basic slices, an int, None and a negative step
        index = (slice(0, None, 2), None) + tuple(
            int(rng.integers(0, n)) if i == 0 else slice(None, None, -1)
            for i, n in enumerate(shape[1:]))
    elif kind == 1:  # integer array with repeats
        index = rng.integers(-shape[0], shape[0], size=int(rng.integers(1, 6)))
    elif kind == 2:  # boolean mask over every axis
        index = rng.random(shape) < 0.5
    elif kind == 3:  # ellipsis and an integer array on the last axis
        index = (Ellipsis, rng.integers(0, shape[-1], size=(2, 2)))
    else:  # a plain slice
        index = slice(int(rng.integers(0, shape[0])), None)
    return (x,), {"index": index}


defop("getitem", _getitem,
      lambda xp, g, ans, x, index: xp.getitem_grad(g, index=index, shape=x.shape),
      sample=_sample_index, linear=True)


def _sample_getitem_grad(rng):
    (x,), params = _sample_index(rng)
    g = s.values(rng, np.shape(x[params["index"]]))
    return (g,), {**params, "shape": x.shape}


defop("getitem_grad", _getitem_grad,
      lambda xp, g, ans, x, index, shape: xp.getitem(g, index=index),
      sample=_sample_getitem_grad, linear=True)


def _take_along_axis(xp, x, indices, axis=-1):  # numpy 2.3's default axis
    xs, ids = np.shape(x), np.shape(indices)
    if axis is None:  # numpy's flattened form: 1-D indices into x.ravel()
        fits = len(ids) == 1
    else:  # the other axes broadcast, as numpy's; checked here, or numpy's IndexError
        fits = len(ids) == len(xs) and -len(xs) <= axis < len(xs) and all(
            a == b or 1 in (a, b) for i, (a, b) in enumerate(zip(xs, ids, strict=True))
            if i != axis % len(xs))
    if not fits:
        raise ValueError(f"take_along_axis: indices of shape {shape_str(ids)} do not fit "
                         f"an input of shape {shape_str(xs)} along axis {axis}")
    if axis is None:
        return xp.take_along_axis(xp.reshape(x, (-1,)), indices, axis=0)
    return xp.take_along_axis(x, indices, axis=axis)


def _take_along_axis_grad(xp, g, ans, x, indices, axis=-1):
    return xp.add_along_axis(g, indices, shape=tuple(x.shape), axis=axis)


def _add_along_axis(xp, g, indices, shape, axis=-1):
    """take_along_axis's adjoint: zeros(shape) with g added where take_along_axis(x,
    indices, axis) reads (repeats summing; PyTorch's scatter_add)."""
    n = math.prod(shape)
    if axis is None:
        flat = indices
    else:
        where = xp.reshape(xp.arange(n, device=g.device), shape)
        flat = xp.take_along_axis(where, indices, axis=axis)
    out = xp.scatter_add(xp.zeros(n, dtype=g.dtype, device=g.device),
                         (xp.reshape(flat, (-1,)),), xp.reshape(g, (-1,)))
    return xp.reshape(out, shape)


def _sample_take_along_axis(rng):
    x = s.values(rng, (3, 4) if rng.random() < 0.8 else (1, 4))
    if rng.random() < 0.2:
        return (x, rng.integers(0, x.size, size=int(rng.integers(1, 6)))), {"axis": None}
    ax = int(rng.integers(0, 2))
    shape = list(x.shape)
    shape[ax] = int(rng.integers(1, 4))
    if rng.random() < 0.3:  # the other axis broadcast, from the indices' side
        shape[1 - ax] = 1
    elif x.shape[1 - ax] == 1:  # or from x's
        shape[1 - ax] = 3
    indices = rng.integers(0, x.shape[ax], size=tuple(shape))
    return (x, indices), {"axis": ax - 2 * int(rng.random() < 0.5)}


defop("take_along_axis", _take_along_axis, _take_along_axis_grad, None, linear=True,
      sample=_sample_take_along_axis)


def _sample_add_along_axis(rng):
    (x, indices), params = _sample_take_along_axis(rng)
    g = s.values(rng, _take_along_axis(np, x, indices, **params).shape)
    return (g, indices), {"shape": x.shape, **params}


defop("add_along_axis", _add_along_axis,
      lambda xp, g, ans, g_, indices, shape, axis=-1: xp.take_along_axis(g, indices, axis=axis),
      None, linear=True, sample=_sample_add_along_axis)


def _repeat(xp, x, repeats, axis=None):
    if not isinstance(repeats, int) and type(x) is not np.ndarray:
        repeats = xp.asarray(repeats, device=x.device)  # a parameter: host data
    return xp.repeat(x, repeats, axis=axis)


def _repeat_grad(xp, g, ans, x, repeats, axis=None):
    shape = (math.prod(x.shape),) if axis is None else tuple(x.shape)
    ax = 0 if axis is None else axis % x.ndim
    if isinstance(repeats, int):  # each source's copies are adjacent: sum them
        split = shape[:ax] + (shape[ax], repeats) + shape[ax + 1:]
        return xp.reshape(xp.sum(xp.reshape(g, split), axis=ax + 1), x.shape)
    # Each output position came from one source position: scatter-add it back.
    source = np.repeat(np.arange(shape[ax]), repeats)
    summed = xp.getitem_grad(g, index=(slice(None),) * ax + (source,), shape=shape)
    return xp.reshape(summed, x.shape)


defop("repeat", _repeat, _repeat_grad, linear=True,
      sample=lambda rng: (lambda x, per_row: ((x,), {
          "repeats": [int(r) for r in rng.integers(0, 3, size=x.shape[0])] if per_row
          else int(rng.integers(1, 4)), "axis": 0 if per_row or rng.random() < 0.5 else None}))(
          s.values(rng, s.shape(rng, 1)), rng.random() < 0.5))


# -- copies and moves between devices ---------------------------------------------
defop("copy", lambda xp, x: xp.asarray(x, copy=True), lambda xp, g, ans, x: g,
      sample=s.unary(), linear=True)


def _device(x) -> str:
    return x.device if isinstance(x, Tensor) else device_of(x)


# The one op that crosses devices: its gradient crosses back.
defop("to_device", lambda xp, x, device: to_device(x, device),
      lambda xp, g, ans, x, device: xp.to_device(g, device=_device(x)),
      sample=s.unary(device="cpu"), linear=True)
