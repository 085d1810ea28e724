"""Indexing and scatter along an axis, with PyTorch's semantics and `axis=` names.

Two registered ops carry every gradient here, each the other's rule:

    take_flat(x, index)           x.reshape(-1)[index]                (a gather)
    scatter_flat(src, index, shape)  zeros(shape) with src summed in at the
                                  flat positions index (repeats add up)

gather, index_select, scatter, scatter_add, index_add, masked_fill, tril and
triu are functions of them (and of `where`): each turns its indices into flat
positions of its input (integer arithmetic on the indices, no gradient) and
calls them. So all of them are linear, differentiable to every order, and run
on every backend (the scatter is the backend's `index_add` kernel).

Index checks: shapes always; index values (PyTorch's "index out of bounds") on
numpy only, since reading them back from a device would stall it.
scatter with the same position indexed twice is undefined in PyTorch; here the
sources written there are summed. Only unique indices are supported.
"""

from __future__ import annotations

from operator import index as _index
from typing import Any

import numpy as np

from .. import sampling as s
from ..backend import NUMPY, backend_of
from ..registry import OP, defcomposite, defop
from ..tensor import Tensor, _make
from .shape import shape_str


def _data(x: Any):
    """The array of a Tensor, a backend array as it is, anything else as numpy's."""
    if isinstance(x, Tensor):
        return x._data
    if hasattr(x, "__array_namespace__") and not isinstance(x, np.generic):
        return x
    return np.asarray(x)


# -- the two ops ---------------------------------------------------------------
def _take_flat(xp, x, index):
    flat = xp.take(xp.reshape(x, (-1,)), xp.reshape(index, (-1,)), axis=0)
    return xp.reshape(flat, index.shape)


def _scatter_flat(xp, src, index, shape):
    n = 1
    for side in shape:
        n *= side
    zeros = xp.zeros((n,), dtype=src.dtype, device=src.device)
    flat = xp.index_add(zeros, 0, xp.reshape(index, (-1,)), xp.reshape(src, (-1,)))
    return xp.reshape(flat, tuple(shape))


def _sample_flat(rng):
    x = s.values(rng, s.shape(rng, 1))
    return (x, rng.integers(0, x.size, size=s.shape(rng))), {}


def _sample_scatter_flat(rng):
    shape = s.shape(rng, 1)
    index = rng.integers(0, int(np.prod(shape)), size=s.shape(rng))
    return (s.values(rng, index.shape), index), {"shape": shape}


_TAKE = defop("take_flat", _take_flat,
              lambda xp, g, ans, x, index: xp.scatter_flat(g, index, shape=x.shape), None,
              sample=_sample_flat, linear=True,
              doc="x.reshape(-1)[index], shaped as index (gather's kernel).")
_SCATTER = defop("scatter_flat", _scatter_flat,
                 lambda xp, g, ans, src, index, shape: xp.take_flat(g, index), None,
                 sample=_sample_scatter_flat, linear=True,
                 doc="zeros(shape) with src summed in at the flat positions index.")


# -- flat positions from indices along an axis ------------------------------------
def _axis(name: str, axis: Any, shape: tuple) -> int:
    n = len(shape)
    axis = _index(axis)
    if not -max(n, 1) <= axis < max(n, 1):
        raise IndexError(f"{name}: axis {axis} is out of range for an input of shape "
                         f"{shape_str(shape)}")
    return axis % n if n else 0


def _integer(name: str, index):
    xp = backend_of(index).xp
    if not xp.isdtype(index.dtype, "integral"):
        raise TypeError(f"{name}: index must hold integers, got dtype {index.dtype} "
                        f"(shape {shape_str(tuple(index.shape))})")
    return xp


def _in_range(name: str, index, n: int, what: str) -> None:
    """PyTorch's bounds check, where it costs no device round trip (numpy)."""
    if backend_of(index) is NUMPY and index.size:
        low, high = int(index.min()), int(index.max())
        if low < 0 or high >= n:
            bad = low if low < 0 else high
            raise IndexError(f"{name}: index {bad} is out of bounds for {what} of size {n}")


def _positions(index, axis: int, out_shape: tuple, shape: tuple):
    """Flat positions in an array of `shape`: index (broadcast to out_shape) along
    axis, and each other axis's own coordinate."""
    xp = backend_of(index).xp
    if not shape:
        return xp.astype(xp.reshape(index, ()), xp.int64)
    strides, step = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d], step = step, step * shape[d]
    flat = xp.astype(index, xp.int64) * strides[axis]
    for d, side in enumerate(out_shape):
        if d != axis:
            where = [1] * len(out_shape)
            where[d] = side
            coord = xp.arange(side, dtype=xp.int64, device=index.device)
            flat = flat + xp.reshape(coord, tuple(where)) * strides[d]
    return xp.broadcast_to(flat, tuple(out_shape))


def _along_index(name: str, x_shape: tuple, axis: Any, index, src_shape=None):
    """(axis, flat positions) for torch's gather/scatter index: as many dims as the
    input, no longer than it on the other axes (nor than src on any)."""
    _integer(name, index)
    ax = _axis(name, axis, x_shape)
    ids = tuple(index.shape)
    ok = len(ids) == len(x_shape) and all(
        i <= n for d, (i, n) in enumerate(zip(ids, x_shape)) if d != ax)
    if src_shape is not None:
        ok = ok and len(src_shape) == len(ids) and all(
            i <= n for i, n in zip(ids, src_shape))
    if not ok:
        src = "" if src_shape is None else f" and src of shape {shape_str(src_shape)}"
        raise ValueError(f"{name}: index of shape {shape_str(ids)} does not match input of "
                         f"shape {shape_str(x_shape)}{src} along axis {axis}")
    _in_range(name, index, x_shape[ax] if x_shape else 1, f"axis {axis}")
    return ax, _positions(index, ax, ids, x_shape)


def _vector_index(name: str, x_shape: tuple, axis: Any, index):
    _integer(name, index)
    if index.ndim > 1:
        raise ValueError(f"{name}: index must be 1-d, got shape {shape_str(tuple(index.shape))}")
    ax = _axis(name, axis, x_shape)
    n = x_shape[ax] if x_shape else 1
    _in_range(name, index, n, f"axis {axis}")
    xp = backend_of(index).xp
    index = xp.reshape(index, (-1,))
    if not x_shape:
        return ax, (), index
    out_shape = x_shape[:ax] + (index.shape[0],) + x_shape[ax + 1:]
    where = [1] * len(x_shape)
    where[ax] = index.shape[0]
    return ax, out_shape, _positions(xp.reshape(index, tuple(where)), ax, out_shape, x_shape)


def _leading(src, shape: tuple):
    """src cut to `shape` (torch uses only the first index.shape entries of src)."""
    if tuple(src.shape) == tuple(shape):
        return src
    return src[tuple(slice(0, n) for n in shape)]


# -- the functions -----------------------------------------------------------------
def gather(x: Any, axis: int, index: Any) -> Tensor:
    """out[i][j][k] = x[index[i][j][k]][j][k] for axis 0 (torch.gather): index has x's
    number of dims, out has index's shape."""
    shape = tuple(_data(x).shape)
    _, flat = _along_index("gather", shape, axis, _data(index))
    return _TAKE(x, flat)


def index_select(x: Any, axis: int, index: Any) -> Tensor:
    """The slices of x at the 1-d `index` along axis (torch.index_select)."""
    shape = tuple(_data(x).shape)
    _, out_shape, flat = _vector_index("index_select", shape, axis, _data(index))
    return _TAKE(x, flat)


def scatter_add(x: Any, axis: int, index: Any, src: Any) -> Tensor:
    """x with src[i][j][k] added at [index[i][j][k]][j][k] for axis 0
    (torch.scatter_add); repeated positions add up."""
    shape = tuple(_data(x).shape)
    src_shape = tuple(_data(src).shape)
    index = _data(index)
    _, flat = _along_index("scatter_add", shape, axis, index, src_shape)
    return OP.add(x, _SCATTER(_leading(src, tuple(index.shape)), flat, shape=shape))


def scatter(x: Any, axis: int, index: Any, src: Any) -> Tensor:
    """x with src[i][j][k] written at [index[i][j][k]][j][k] for axis 0 (torch.scatter;
    src may be a number). The gradient of x is g with the written positions zeroed,
    that of src g gathered there. A position written twice is undefined (PyTorch's
    result depends on the order of the writes): do not rely on it."""
    shape = tuple(_data(x).shape)
    index = _data(index)
    number = not isinstance(src, Tensor) and np.ndim(src) == 0 and not hasattr(
        src, "__array_namespace__")
    src_shape = None if number else tuple(_data(src).shape)
    _, flat = _along_index("scatter", shape, axis, index, src_shape)
    xp = backend_of(flat).xp
    ones = xp.ones(tuple(index.shape), dtype=xp.float32, device=flat.device)
    hit = _scatter_flat(xp, ones, flat, shape) > 0
    written = src if number else _SCATTER(_leading(src, tuple(index.shape)), flat, shape=shape)
    return OP.where(_make(hit, None), written, x)


def index_add(x: Any, axis: int, index: Any, src: Any, *, alpha: float = 1) -> Tensor:
    """x with alpha * src[..., i, ...] added at x[..., index[i], ...] along axis
    (torch.index_add); repeated indices add up. src has x's shape but len(index) on axis."""
    shape = tuple(_data(x).shape)
    _, out_shape, flat = _vector_index("index_add", shape, axis, _data(index))
    src_shape = tuple(_data(src).shape)
    if src_shape != tuple(out_shape):
        raise ValueError(f"index_add: src of shape {shape_str(src_shape)} does not match "
                         f"{shape_str(out_shape)}, the input of shape {shape_str(shape)} with "
                         f"axis {axis} the length of index")
    if alpha != 1:
        src = OP.multiply(src, alpha)
    return OP.add(x, _SCATTER(src, flat, shape=shape))


def masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """x with `value` where mask is true (a bool array that broadcasts to x's shape);
    the gradient of x is 0 there, and a Tensor value gets the sum of g there."""
    shape, m = tuple(_data(x).shape), _data(mask)
    if m.dtype != backend_of(m).xp.bool:
        raise TypeError(f"masked_fill: mask must be bool, got dtype {m.dtype}")
    try:
        fits = np.broadcast_shapes(tuple(m.shape), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"masked_fill: mask of shape {shape_str(tuple(m.shape))} does not "
                         f"broadcast to the input of shape {shape_str(shape)}")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                         f"{shape_str(value.shape)}")
    return OP.where(mask if isinstance(mask, Tensor) else _make(m, None), value, x)


def _triangle(name: str, x: Any, k: int, lower: bool) -> Tensor:
    data = _data(x)
    if data.ndim < 2:
        raise ValueError(f"{name}: needs an input of 2 or more dims, got shape "
                         f"{shape_str(tuple(data.shape))}")
    xp = backend_of(data).xp
    n, m = data.shape[-2:]
    rows = xp.reshape(xp.arange(n, device=data.device), (n, 1))
    cols = xp.reshape(xp.arange(m, device=data.device), (1, m))
    keep = (cols - rows <= _index(k)) if lower else (cols - rows >= _index(k))
    return OP.where(_make(keep, None), x, 0)


def tril(x: Any, k: int = 0) -> Tensor:
    """x with the entries above the k-th diagonal of its last two axes zeroed."""
    return _triangle("tril", x, k, True)


def triu(x: Any, k: int = 0) -> Tensor:
    """x with the entries below the k-th diagonal of its last two axes zeroed."""
    return _triangle("triu", x, k, False)


def one_hot(labels: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows (torch.nn.functional.one_hot): labels (...) -> (..., num_classes),
    num_classes = max(labels) + 1 by default. No gradient."""
    data = _data(labels)
    xp = _integer("one_hot", data)
    num_classes = _index(num_classes)
    if num_classes == -1:
        if data.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty labels")
        num_classes = int(xp.max(data)) + 1
    if data.size:  # PyTorch checks too (it reads the labels back from a device)
        low, high = int(xp.min(data)), int(xp.max(data))
        if low < 0 or high >= num_classes:
            raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got "
                             f"{low if low < 0 else high} (labels of shape "
                             f"{shape_str(tuple(data.shape))})")
    classes = xp.arange(num_classes, dtype=data.dtype, device=data.device)
    return _make(xp.astype(data[..., None] == classes, xp.int64), None)


# -- samplers for the gradient checks --------------------------------------------
def _sample_gather(rng):
    shape = s.shape(rng, 1)
    ax = int(rng.integers(0, len(shape)))
    ids = tuple(int(rng.integers(1, 5)) if d == ax else int(rng.integers(1, n + 1))
                for d, n in enumerate(shape))
    index = rng.integers(0, shape[ax], size=ids)
    return (s.values(rng, shape), index), {"axis": ax - len(shape) * int(rng.random() < 0.3)}


def _sample_scatter(unique: bool):
    def sample(rng):
        shape = s.shape(rng, 1)
        ax = int(rng.integers(0, len(shape)))
        ids = tuple(int(rng.integers(1, n + 1)) for n in shape)
        if unique:  # distinct positions along the axis for each of the others
            order = np.argsort(rng.random(ids[:ax] + (shape[ax],) + ids[ax + 1:]), axis=ax)
            index = np.take(order, np.arange(ids[ax]), axis=ax)
        else:
            index = rng.integers(0, shape[ax], size=ids)
        src_shape = tuple(i + int(rng.integers(0, 2)) for i in ids)
        return (s.values(rng, shape), index, s.values(rng, src_shape)), {"axis": ax}
    return sample


def _sample_vector(with_src: bool):
    def sample(rng):
        shape = s.shape(rng, 1)
        ax = int(rng.integers(0, len(shape)))
        index = rng.integers(0, shape[ax], size=int(rng.integers(0, 5)))
        src = s.values(rng, shape[:ax] + (len(index),) + shape[ax + 1:])
        return (s.values(rng, shape), index) + ((src,) if with_src else ()), {"axis": ax}
    return sample


def _sample_masked_fill(rng):
    shape = s.shape(rng)
    mask = rng.random(s.broadcastable(rng, shape)) < 0.5
    value = np.array(rng.uniform(-2, 2)) if rng.random() < 0.5 else float(rng.uniform(-2, 2))
    return (s.values(rng, shape), mask, value), {}


def _sample_triangle(rng):
    return (s.values(rng, s.shape(rng, 2)),), {"k": int(rng.integers(-2, 3))}


defcomposite("gather", lambda x, index, axis: gather(x, axis, index), sample=_sample_gather)
defcomposite("index_select", lambda x, index, axis: index_select(x, axis, index),
             sample=_sample_vector(False))
defcomposite("scatter", lambda x, index, src, axis: scatter(x, axis, index, src),
             sample=_sample_scatter(True))
defcomposite("scatter_add", lambda x, index, src, axis: scatter_add(x, axis, index, src),
             sample=_sample_scatter(False))
defcomposite("index_add", lambda x, index, src, axis: index_add(x, axis, index, src),
             sample=_sample_vector(True))
defcomposite("masked_fill", masked_fill, sample=_sample_masked_fill)
defcomposite("tril", tril, sample=_sample_triangle)
defcomposite("triu", triu, sample=_sample_triangle)
