"""Ops that move values without changing them: reshaping, joining, indexing.

All of them are linear, so each rule moves g back the way the forward moved
x. Indexing and scatter-add (`index_add`) are each other's gradient, which
makes repeated integer indices accumulate and double backward free.
"""

from __future__ import annotations

import numpy as np

from .. import sampling as s
from ..registry import defop


# The ndarray methods skip numpy's Python-level wrappers: these two run in every
# CNN step (flatten, and the layout changes inside conv's gradient).
def _reshape(x, shape):
    return x.reshape(shape) if type(x) is np.ndarray else np.reshape(x, shape)


def _transpose(x, axes=None):
    return x.transpose(axes) if type(x) is np.ndarray else np.transpose(x, axes)


def _inverse_axes(ndim: int, axes) -> tuple | None:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))


def _squeeze(x, axis=None):
    return np.squeeze(x, axis)


def _expand_dims(x, axis):
    return np.expand_dims(x, axis)


def _broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


def _flip(x, axis=None):
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
defop("swapaxes", np.swapaxes,
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
def _tile(x, reps):
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
def _concatenate(*arrays, axis=0):
    return np.concatenate(arrays, axis=axis)


def _concatenate_grad(xp, g, ans, inputs, needs, axis=0):
    grads, start = [], 0
    ax = axis % g.ndim
    for x, need in zip(inputs, needs, strict=True):
        stop = start + x.shape[ax]
        grads.append(g[(slice(None),) * ax + (slice(start, stop),)] if need else None)
        start = stop
    return grads


def _sample_join(stack: bool):
    def sample(rng):
        base = s.shape(rng, 1)
        axis = int(rng.integers(-len(base), len(base)))
        n = int(rng.integers(1, 4))
        shapes = [base if stack else base[:axis % len(base)] + (int(rng.integers(1, 4)),)
                  + base[axis % len(base) + 1:] for _ in range(n)]
        return tuple(s.values(rng, sh) for sh in shapes), {"axis": axis}
    return sample


def _stack(*arrays, axis=0):
    return np.stack(arrays, axis=axis)


def _stack_grad(xp, g, ans, inputs, needs, axis=0):
    ax = axis % g.ndim
    return [g[(slice(None),) * ax + (i,)] if need else None for i, need in enumerate(needs)]


def concatenate(tensors, axis: int = 0):
    """Join tensors along an existing axis (numpy's concatenate)."""
    return _CONCAT(*tensors, axis=axis)


def stack(tensors, axis: int = 0):
    """Join tensors along a new axis (numpy's stack)."""
    return _STACK(*tensors, axis=axis)


_CONCAT = defop("concatenate", _concatenate, vjp=_concatenate_grad, nin=-1, linear=True,
                sample=_sample_join(False), public=concatenate,
                np_fn=lambda arrays, axis=0: np.concatenate(arrays, axis=axis))
_STACK = defop("stack", _stack, vjp=_stack_grad, nin=-1, linear=True,
               sample=_sample_join(True), public=stack,
               np_fn=lambda arrays, axis=0: np.stack(arrays, axis=axis))


def _pad(x, pad_width, constant_values=0):
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
def _getitem(x, index):
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


def _index_add(g, index, shape):
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
      lambda xp, g, ans, x, index: xp.index_add(g, index=index, shape=x.shape),
      sample=_sample_index, linear=True)


def _sample_index_add(rng):
    (x,), params = _sample_index(rng)
    g = s.values(rng, np.shape(x[params["index"]]))
    return (g,), {**params, "shape": x.shape}


defop("index_add", _index_add, lambda xp, g, ans, x, index, shape: g[index],
      sample=_sample_index_add, linear=True)


def _along_axis_index(indices, axis: int) -> tuple:
    """The full integer index that `take_along_axis(x, indices, axis)` reads."""
    axis %= indices.ndim
    grids = np.ogrid[tuple(slice(n) for n in indices.shape)]
    return tuple(indices if i == axis else grid for i, grid in enumerate(grids))


def _take_along_axis(x, indices, axis):
    return np.take_along_axis(x, indices, axis)


defop("take_along_axis", _take_along_axis,
      lambda xp, g, ans, x, indices, axis:
          xp.index_add(g, index=_along_axis_index(np.asarray(indices), axis), shape=x.shape),
      None, linear=True,
      sample=lambda rng: (lambda x, ax: ((x, rng.integers(0, x.shape[ax], size=x.shape[:ax] + (
          int(rng.integers(1, 4)),) + x.shape[ax + 1:])), {"axis": ax}))(
          s.values(rng, (3, 4)), int(rng.integers(0, 2))))


def _repeat(x, repeats, axis=None):
    return np.repeat(x, repeats, axis)


def _repeat_grad(xp, g, ans, x, repeats, axis=None):
    # Each output position came from one source position: scatter-add it back.
    shape = (x.size,) if axis is None else x.shape
    ax = 0 if axis is None else axis % x.ndim
    source = np.repeat(np.arange(shape[ax]), repeats)
    summed = xp.index_add(g, index=(slice(None),) * ax + (source,), shape=shape)
    return xp.reshape(summed, x.shape)


defop("repeat", _repeat, _repeat_grad, linear=True,
      sample=lambda rng: (lambda x, per_row: ((x,), {
          "repeats": [int(r) for r in rng.integers(0, 3, size=x.shape[0])] if per_row
          else int(rng.integers(1, 4)), "axis": 0 if per_row or rng.random() < 0.5 else None}))(
          s.values(rng, s.shape(rng, 1)), rng.random() < 0.5))
