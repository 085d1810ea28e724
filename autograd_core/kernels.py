"""Kernels the array API standard lacks, written once with its names.

backend.py puts them on each library's namespace (``xp.einsum``,
``xp.take_index``, ``xp.scatter_add``, ``xp.windows``); numpy gets a faster
kernel of its own beside some of them (np.einsum, np.add.at, strided
views), tested equal to the generic one (tests/test_backends.py).
Nothing here reads an array's values back to the host: every branch is on
shapes and on the index's structure.
"""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided


# -- indexing -----------------------------------------------------------------------
def _is_int_array(i) -> bool:
    return hasattr(i, "dtype") and hasattr(i, "shape") and not isinstance(i, (bool, int)) \
        and _kind(i) == "i"


def _is_bool_array(i) -> bool:
    return hasattr(i, "dtype") and hasattr(i, "shape") and _kind(i) == "b"


def _kind(a) -> str:
    if isinstance(a, np.ndarray):
        return "i" if a.dtype.kind in "iu" else a.dtype.kind
    name = str(a.dtype)
    return "b" if "bool" in name else "i" if "int" in name else "f"


def _items(index) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def _consumed(item) -> int:
    """How many input axes an index item uses."""
    if item is None or item is Ellipsis:
        return 0
    if _is_bool_array(item):
        return len(item.shape)
    return 1


def _expand_ellipsis(items: tuple, ndim: int) -> tuple:
    """items with the ellipsis (or a trailing one) spelled out as slices."""
    used = sum(_consumed(i) for i in items)
    if not any(i is Ellipsis for i in items):
        items = items + (Ellipsis,)
    at = next(k for k, i in enumerate(items) if i is Ellipsis)
    return items[:at] + (slice(None),) * (ndim - used) + items[at + 1:]


def full(index, ndim: int):
    """The index with a trailing ellipsis where it names fewer axes than `ndim` (numpy
    reads the rest as whole; the standard asks for the ellipsis)."""
    items = _items(index)
    if any(i is Ellipsis for i in items) or sum(_consumed(i) for i in items) >= ndim:
        return index
    return items + (Ellipsis,)


def take_index(xp, x, index):
    """x[index] with numpy's meaning, for libraries that take only the standard's
    indices: basic ones, one boolean array, or integer arrays with integers only.
    One integer array among slices becomes a `take`; integer arrays on every
    axis become one `take` from the flattened x."""
    items = _items(index)
    arrays = [k for k, i in enumerate(items) if _is_int_array(i)]
    if not arrays:
        return x[full(index, x.ndim)]
    items = _expand_ellipsis(items, x.ndim)
    if all(_is_int_array(i) or isinstance(i, int) for i in items):
        return _take_flat(xp, x, items)
    if len(arrays) != 1:
        raise IndexError(f"getitem: integer arrays mixed with slices are supported one at "
                         f"a time, got the index {index!r}")
    (k,) = [j for j, i in enumerate(items) if _is_int_array(i)]
    idx = items[k]
    basic = items[:k] + (slice(None),) + items[k + 1:]
    y = x[basic]
    axis = sum(0 if isinstance(i, int) else 1 for i in items[:k])  # no bools here
    n = y.shape[axis]
    flat = xp.reshape(idx, (-1,))
    flat = xp.where(flat < 0, flat + n, flat)
    taken = xp.take(y, flat, axis=axis)
    return xp.reshape(taken, y.shape[:axis] + tuple(idx.shape) + y.shape[axis + 1:])


def _take_flat(xp, x, items):
    """x[i0, i1, ...] for integer arrays (and ints) on every axis: one take."""
    shape = x.shape
    flat = None
    for i, n in zip(items, shape, strict=True):
        if not isinstance(i, int):
            i = xp.where(i < 0, i + n, i)
        elif i < 0:
            i += n
        flat = i if flat is None else flat * n + i
    out_shape = tuple(flat.shape) if hasattr(flat, "shape") else ()
    taken = xp.take(xp.reshape(x, (-1,)), xp.reshape(flat, (-1,)), axis=0)
    return xp.reshape(taken, out_shape)


def positions(xp, shape: tuple, index, device=None):
    """The flat position in an array of `shape` of each entry x[index] reads."""
    n = math.prod(shape)
    pos = xp.reshape(xp.arange(n, device=device), shape)
    return take_index(xp, pos, index)


def generic_scatter_add(xp, index_add):
    def scatter_add(x, index, src):
        """x with src added at x[index], repeated positions summing (numpy's add.at)."""
        pos = positions(xp, tuple(x.shape), index, device=x.device)
        src = xp.broadcast_to(xp.asarray(src, dtype=x.dtype, device=x.device), pos.shape)
        n = math.prod(x.shape)
        flat = index_add(xp.reshape(x, (n,)), 0, xp.reshape(pos, (-1,)),
                            xp.reshape(src, (-1,)))
        return xp.reshape(flat, x.shape)
    return scatter_add


def numpy_scatter_add(x, index, src):
    out = np.array(x, copy=True)
    np.add.at(out, index, src)
    return out


# -- einsum ---------------------------------------------------------------------------
def generic_einsum(xp):
    def einsum(subscripts: str, *operands):
        """Einstein summation in explicit form ('ij,jk->ik', no ellipsis) through
        diagonals, sums, permutes and batched matmuls, left to right."""
        ins, out = subscripts.replace(" ", "").split("->")
        terms = ins.split(",")
        ops = []
        for k, (t, x) in enumerate(zip(terms, operands, strict=True)):
            later = out + "".join(terms[k + 1:]) + "".join(terms[:k])
            t, x = _diagonal(xp, t, x)
            gone = [a for a, c in enumerate(t) if c not in later]
            if gone:
                x = xp.sum(x, axis=tuple(gone))
                t = "".join(c for c in t if c in later)
            ops.append((t, x))
        t, x = ops[0]
        for k in range(1, len(ops)):
            needed = out + "".join(tt for tt, _ in ops[k + 1:])
            t, x = _pair(xp, t, x, *ops[k], needed)
        gone = [a for a, c in enumerate(t) if c not in out]
        if gone:
            x = xp.sum(x, axis=tuple(gone))
            t = "".join(c for c in t if c in out)
        if t != out:
            x = xp.permute_dims(x, tuple(t.index(c) for c in out))
        return x
    return einsum


def _diagonal(xp, term: str, x):
    """A term's repeated letters ('ii') reduced to one axis (the diagonal)."""
    if len(set(term)) == len(term):
        return term, x
    unique = "".join(dict.fromkeys(term))
    sizes = {c: n for c, n in zip(term, x.shape, strict=True)}
    grids = []
    for c in term:
        shape = tuple(sizes[u] if u == c else 1 for u in unique)
        grids.append(xp.reshape(xp.arange(sizes[c], device=x.device), shape))
    return unique, _take_flat(xp, x, tuple(grids))


def _pair(xp, ta: str, a, tb: str, b, needed: str):
    """The product of two terms, keeping the letters `needed` later or in the output."""
    batch = [c for c in ta if c in tb and c in needed]
    summed = [c for c in ta if c in tb and c not in needed]
    only_a = [c for c in ta if c not in tb]
    only_b = [c for c in tb if c not in ta]
    size = {}
    for t, x in ((ta, a), (tb, b)):
        for c, n in zip(t, x.shape, strict=True):
            size[c] = max(size.get(c, 1), n)
    a = xp.permute_dims(a, tuple(ta.index(c) for c in batch + only_a + summed))
    b = xp.permute_dims(b, tuple(tb.index(c) for c in batch + summed + only_b))
    # Broadcast (size-1) summed letters to their full size; batch ones broadcast in matmul.
    a = xp.broadcast_to(a, a.shape[:len(batch) + len(only_a)] + tuple(size[c] for c in summed))
    b = xp.broadcast_to(b, b.shape[:len(batch)] + tuple(size[c] for c in summed)
                        + b.shape[len(batch) + len(summed):])
    m = math.prod(size[c] for c in only_a)
    k = math.prod(size[c] for c in summed)
    n = math.prod(size[c] for c in only_b)
    a2 = xp.reshape(a, a.shape[:len(batch)] + (m, k))
    b2 = xp.reshape(b, b.shape[:len(batch)] + (k, n))
    c = xp.matmul(a2, b2)
    c = xp.reshape(c, c.shape[:len(batch)] + tuple(size[c_] for c_ in only_a + only_b))
    return "".join(batch + only_a + only_b), c


def numpy_einsum(subscripts: str, *operands):
    return np.einsum(subscripts, *operands, optimize=len(operands) > 2)


SPARE_LETTERS = string.ascii_letters


# -- windows (im2col) -----------------------------------------------------------------
def numpy_windows(x, geometry: tuple, dilation: tuple = (1, 1)):
    """The (c, kh, kw, oh, ow, n) strided view of x's (padded) windows: no copy."""
    kh, kw, sh, sw, ph, pw, oh, ow = geometry
    dh, dw = dilation
    n, c, h, w = x.shape
    xt = x.transpose(1, 2, 3, 0)  # (c, h, w, n): the batch innermost
    shape = (c, kh, kw, oh, ow, n)
    if ph or pw:
        padded = np.zeros((c, h + 2 * ph, w + 2 * pw, n), x.dtype)
        padded[:, ph:ph + h, pw:pw + w] = xt
        s0, s1, s2, s3 = padded.strides
        # A fresh contiguous buffer: ndarray() makes the view faster than as_strided.
        return np.ndarray(shape, x.dtype, padded, 0,
                          (s0, s1 * dh, s2 * dw, s1 * sh, s2 * sw, s3))
    s0, s1, s2, s3 = xt.strides
    return as_strided(xt, shape, (s0, s1 * dh, s2 * dw, s1 * sh, s2 * sw, s3),
                      writeable=False)


def generic_windows(xp):
    def windows(x, geometry: tuple, dilation: tuple = (1, 1)):
        """The (c, kh, kw, oh, ow, n) array of x's (padded) windows: kh*kw offset
        slices of the padded (c, h, w, n) input, stacked."""
        kh, kw, sh, sw, ph, pw, oh, ow = geometry
        dh, dw = dilation
        n, c, h, w = x.shape
        xt = xp.permute_dims(x, (1, 2, 3, 0))
        if ph or pw:
            padded = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype, device=x.device)
            padded[:, ph:ph + h, pw:pw + w, :] = xt
            xt = padded
        slices = [xt[:, p * dh:p * dh + sh * (oh - 1) + 1:sh,
                     q * dw:q * dw + sw * (ow - 1) + 1:sw, :]
                  for p in range(kh) for q in range(kw)]
        stacked = xp.reshape(xp.stack(slices, axis=1), (c, kh, kw, oh, ow, n))
        return stacked
    return windows


def extras(library: Any, index_add) -> dict[str, Any]:
    """The generic kernels on `library`'s namespace (`index_add`: its scatter-add
    along one axis)."""
    return {"einsum": generic_einsum(library),
            "scatter_add": generic_scatter_add(library, index_add),
            "take_index": lambda x, index: take_index(library, x, index),
            "windows": generic_windows(library)}


def _is_zero(v) -> bool:
    return (type(v) is float or type(v) is int) and v == 0


_BITS = {np.dtype(t): np.dtype(f"i{np.dtype(t).itemsize}")
         for t in (np.float16, np.float32, np.float64)}


def masked(mask: np.ndarray, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """np.where(mask, a, 0) for a bool mask and a float array a (broadcasting), bit for
    bit (+0.0 where masked, inf and nan kept), as a's bits times the mask, integers:
    one multiply without branches. np.where branches per element (16 x 256 float32:
    6.3 us against 2.3; 1024 x 256: 958 against 58), and a float product of the
    mask would turn a masked inf into nan. `out`: a float array to write into."""
    bits = _BITS[a.dtype]
    product = np.multiply(a.view(bits), mask.view(np.int8),
                          out=None if out is None else out.view(bits))
    return product.view(a.dtype) if out is None else out


def numpy_where(condition, x1, x2, /):
    """np.where(condition, x1, x2); where one branch is the number 0 and the other a
    float array of the condition's shape (a gradient being masked, relu's), `masked`."""
    if type(condition) is np.ndarray and condition.size >= 256 \
            and condition.dtype == np.bool_:  # small ones: not worth the checks
        if _is_zero(x2):
            kept, mask = x1, condition
        elif _is_zero(x1):
            kept, mask = x2, ~condition
        else:
            return np.where(condition, x1, x2)
        if type(kept) is np.ndarray and kept.dtype in _BITS and kept.shape == condition.shape:
            return masked(mask, kept)
    return np.where(condition, x1, x2)


def numpy_max(x, /, *, axis=None, keepdims=False):
    """np.max(x, axis=axis, keepdims=keepdims); over the short rows of a 2-d array
    (classifier logits, (N, C) with C <= 32, the max of softmax and cross-entropy),
    a column-wise maximum of the transposed copy: numpy reduces a short contiguous
    axis row by row, slowly (64 x 10 float32: 5.1 us against 2.0; 1024 x 10: 47
    against 6.6). The same values."""
    if type(x) is np.ndarray and x.ndim == 2 and (axis == 1 or axis == -1) \
            and 0 < x.shape[1] <= 32:
        m = np.maximum.reduce(np.ascontiguousarray(x.T), axis=0)
        return m[:, None] if keepdims else m
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


# numpy's sum, max, min, astype and reshape are Python wrappers around the C routes
# below, which they take for every array, and the wrapper costs as much as a small
# array's work: at 64 x 10 float32, np.sum over rows 3.6 us against np.add.reduce's
# 2.3, np.astype 1.1 against 0.5, np.reshape 0.7 against 0.14. The rules and
# forwards call these names on every node. The same values, types and errors.
def numpy_sum(x, /, axis=None, dtype=None, keepdims=False):
    return np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)


def numpy_min(x, /, axis=None, keepdims=False):
    return np.minimum.reduce(x, axis=axis, keepdims=keepdims)


def numpy_astype(x, dtype, /, *, copy=True, device=None):
    return x.astype(dtype, copy=copy) if isinstance(x, (np.ndarray, np.generic)) \
        else np.astype(x, dtype, copy=copy, device=device)


def numpy_reshape(x, /, shape, *, copy=None):
    return x.reshape(shape, copy=copy) if type(x) is np.ndarray \
        else np.reshape(x, shape, copy=copy)


NUMPY_EXTRAS = {"einsum": numpy_einsum, "scatter_add": numpy_scatter_add,
                "take_index": lambda x, index: x[index], "windows": numpy_windows,
                "where": numpy_where, "max": numpy_max, "min": numpy_min,
                "sum": numpy_sum, "astype": numpy_astype, "reshape": numpy_reshape}
