"""Ops that move values without changing them: reshaping, joining, indexing.

All of them are linear, so each rule moves g back the way the forward moved
x. Indexing and scatter-add (`getitem_grad`) are each other's gradient, which
makes repeated integer indices accumulate and double backward free.
"""

from __future__ import annotations

import numpy as np

from .. import sampling as s
from ..backend import device_of, to_device
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
        return x.reshape(shape) if type(x) is np.ndarray else np.reshape(x, shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape an array of shape {shape_str(np.shape(x))} "
                         f"(size {np.size(x)}) into shape {shape_str(shape)}") from None


def _transpose(xp, x, axes=None):
    return x.transpose(axes) if type(x) is np.ndarray else np.transpose(x, axes)


def _inverse_axes(ndim: int, axes) -> tuple | None:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))


def _squeeze(xp, x, axis=None):
    return np.squeeze(x, axis)


def _expand_dims(xp, x, axis):
    return np.expand_dims(x, axis)


def _broadcast_to(xp, x, shape):
    try:
        return np.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast an array of shape "
                         f"{shape_str(np.shape(x))} to shape {shape_str(shape)}") from None


def _flip(xp, x, axis=None):
    return np.flip(x, axis)


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
defop("swapaxes", lambda xp, x, axis1, axis2: np.swapaxes(x, axis1, axis2),
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
    return np.tile(x, reps)


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
    return np.concatenate(arrays, axis=axis)


def _concatenate_grad(xp, g, ans, inputs, needs, axis=0):
    grads, start = [], 0
    if axis is None:  # numpy flattened every input: each takes its run of g, reshaped
        for x, need in zip(inputs, needs, strict=True):
            stop = start + int(np.size(x))
            grads.append(xp.reshape(g[start:stop], np.shape(x)) if need else None)
            start = stop
        return grads
    ax = axis % g.ndim
    for x, need in zip(inputs, needs, strict=True):
        stop = start + x.shape[ax]
        grads.append(g[(slice(None),) * ax + (slice(start, stop),)] if need else None)
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
    return np.stack(arrays, axis=axis)


def _stack_grad(xp, g, ans, inputs, needs, axis=0):
    ax = axis % g.ndim
    return [g[(slice(None),) * ax + (i,)] if need else None for i, need in enumerate(needs)]


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
                array_fn=lambda xp, arrays, axis=0: np.concatenate(arrays, axis=axis))
_STACK = defop("stack", _stack, vjp=_stack_grad, nin=-1, linear=True,
               sample=_sample_join(True), public=stack,
               array_fn=lambda xp, arrays, axis=0: np.stack(arrays, axis=axis))


def _pad(xp, x, pad_width, constant_values=0):
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu" or widths.size and widths.min() < 0 or \
            widths.ndim > 2 or widths.shape[-1:] not in ((), (1,), (2,)) or \
            widths.ndim == 2 and len(widths) not in (1, np.ndim(x)):
        raise ValueError(f"pad: pad_width must be (before, after) pairs of non-negative "
                         f"ints, one per axis (or one for all), got {pad_width!r}")
    return np.pad(x, pad_width, constant_values=constant_values)


def _pad_grad(xp, g, ans, x, pad_width, constant_values=0):
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    return g[tuple(slice(int(b), int(b) + n) for (b, _), n in zip(widths, x.shape, strict=True))]


defop("pad", _pad, _pad_grad, linear=True,
      sample=lambda rng: (lambda x: ((x,), {"pad_width": tuple(
          (int(a), int(b)) for a, b in rng.integers(0, 3, size=(x.ndim, 2))),
          "constant_values": float(rng.choice([0.0, -1.5]))}))(
          s.values(rng, s.shape(rng, 1))))


# -- indexing and its dual, scatter-add -----------------------------------------
def _getitem(xp, x, index):
    return x[index]


def index_outside(idx: np.ndarray, n: int) -> bool:
    """Whether an integer of idx falls outside [0, n), in one pass: read as unsigned,
    a negative index is larger than any n. Lookups check their indices with it
    (numpy would wrap a negative one)."""
    return bool(idx.size) and np.maximum.reduce(idx.view(f"u{idx.itemsize}"), axis=None) >= n


def _is_basic(index) -> bool:
    """Slices, ints, None and ... only: no position is written twice."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) or
               (isinstance(i, np.ndarray) and i.dtype == bool) for i in items)


def _getitem_grad(xp, g, index, shape):
    """zeros(shape) with g added at index (repeated positions accumulate)."""
    out = np.zeros(shape, dtype=np.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


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


defop("getitem_grad", _getitem_grad, lambda xp, g, ans, x, index, shape: g[index],
      sample=_sample_getitem_grad, linear=True)


def _along_axis_index(indices, axis: int, shape: tuple) -> tuple:
    """The full integer index that `take_along_axis(x, indices, axis)` reads from an x
    of `shape`, the other axes of the two broadcast against each other as numpy does."""
    axis %= indices.ndim
    out = np.broadcast_shapes(indices.shape, shape[:axis] + (1,) + shape[axis + 1:])
    grids = np.ogrid[tuple(slice(n) for n in out)]
    return tuple(np.broadcast_to(indices, out) if i == axis else grid if shape[i] != 1 else 0
                 for i, grid in enumerate(grids))


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
    return np.take_along_axis(x, indices, axis)


def _take_along_axis_grad(xp, g, ans, x, indices, axis=-1):
    indices = np.asarray(indices)
    if axis is None:
        flat = xp.getitem_grad(g, index=(indices,), shape=(int(np.size(x)),))
        return xp.reshape(flat, np.shape(x))
    shape = np.shape(x)
    return xp.getitem_grad(g, index=_along_axis_index(indices, axis, shape), shape=shape)


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


def _repeat(xp, x, repeats, axis=None):
    return np.repeat(x, repeats, axis)


def _repeat_grad(xp, g, ans, x, repeats, axis=None):
    # Each output position came from one source position: scatter-add it back.
    shape = (x.size,) if axis is None else x.shape
    ax = 0 if axis is None else axis % x.ndim
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
