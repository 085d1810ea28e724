"""Scans and order: cumsum, cumprod, sort, argsort, topk.

cumsum's gradient is the cumulative sum of g taken from the other end (the op's
`reverse=True`, as jax's). cumprod's never divides: with E_k = x_0 ... x_(k-1)
(the exclusive product) and y = cumprod(x),

    d/dx_k sum_i g_i y_i = E_k * S_k,   S_k = sum_(i >= k) g_i x_(k+1) ... x_i,

and S solves S_k = g_k + x_(k+1) S_(k+1), an affine recurrence that log2(n)
doubling steps scan (each step makes every S_k reach twice as far). Both are
products and sums of registered ops, so the rule is right at zeros of x, to
every order (the quotient y_i / x_k is not).

sort and topk are an argsort of the data (no gradient, stable) and a gather of
the input at those indices: the gather's rules give the values their gradient
through the permutation, to every order, with no rules of their own.
"""

from __future__ import annotations

from operator import index as _index
from typing import Any

import numpy as np

from .. import sampling as s
from ..backend import backend_of
from ..registry import defcomposite, defop
from ..tensor import Tensor, _make
from .index import _axis, _data, gather
from .shape import shape_str


def _scan(xp, name, fn, x, axis, reverse):
    if x.ndim == 0:
        _axis(name, axis, ())
        return xp.asarray(x, copy=True)
    axis = _axis(name, axis, x.shape)
    if not reverse:
        return fn(x, axis=axis)
    return xp.flip(fn(xp.flip(x, axis=axis), axis=axis), axis=axis)


def _cumsum(xp, x, axis, reverse=False):
    return _scan(xp, "cumsum", xp.cumulative_sum, x, axis, reverse)


def _cumprod(xp, x, axis, reverse=False):
    return _scan(xp, "cumprod", xp.cumulative_prod, x, axis, reverse)


def _along(ndim: int, axis: int, part: slice) -> tuple:
    return (slice(None),) * axis + (part, ...)


def _shift(xp, a, axis: int, d: int, fill: float = 0.0):
    """a moved d places towards index 0 along axis (d < 0: towards the end), `fill`
    coming in behind."""
    n = a.shape[axis]
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, d) if d > 0 else (-d, 0)
    kept = a[_along(a.ndim, axis, slice(d, None) if d > 0 else slice(0, n + d))]
    return xp.pad(kept, pad_width=tuple(widths), constant_values=fill)


def _cumprod_grad(xp, g, ans, x, axis, reverse=False):
    if x.ndim == 0 or x.shape[_axis("cumprod", axis, x.shape)] <= 1:
        return g
    axis = _axis("cumprod", axis, x.shape)
    if reverse:  # the same scan on the flipped arrays
        flipped = _cumprod_grad(xp, xp.flip(g, axis=axis), None, xp.flip(x, axis=axis), axis)
        return xp.flip(flipped, axis=axis)
    n = x.shape[axis]
    a, b = _shift(xp, x, axis, 1), g  # S_k = b_k + a_k S_(k+1), nothing past the end
    d = 1
    while d < n:
        b = b + a * _shift(xp, b, axis, d)
        if 2 * d < n:
            a = a * _shift(xp, a, axis, d)
        d *= 2
    exclusive = xp.cumprod(_shift(xp, x, axis, -1, fill=1.0), axis=axis)
    return exclusive * b


def _sample_scan(domain):
    def sample(rng):
        shape = s.shape(rng, 1, max_side=6)
        x = s.values(rng, shape, domain)
        if domain is s.REAL and rng.random() < 0.3:  # zeros, one or two in a row
            x = np.where(rng.random(shape) < 0.3, 0.0, x)
        return (x,), {"axis": int(rng.integers(-len(shape), len(shape))),
                      "reverse": bool(rng.random() < 0.3)}
    return sample


defop("cumsum", _cumsum,
      lambda xp, g, ans, x, axis, reverse: xp.cumsum(g, axis=axis, reverse=not reverse),
      sample=_sample_scan(s.REAL), linear=True,
      doc="Running sums along axis (from the end with reverse=True).")
defop("cumprod", _cumprod, _cumprod_grad, sample=_sample_scan(s.REAL),
      doc="Running products along axis (from the end with reverse=True).")


# -- order: indices without gradient, values gathered at them -----------------
def _argsort_data(data, axis: int, descending: bool):
    """A stable argsort of an array. Descending: the ascending order of the reversed
    axis, reversed back, so ties keep their order and NaN comes first (PyTorch's)."""
    xp = backend_of(data).xp
    if data.ndim == 0:
        return xp.zeros((), dtype=xp.int64, device=data.device)
    if not descending:
        return xp.argsort(data, axis=axis, stable=True)
    n = data.shape[axis]
    order = xp.argsort(xp.flip(data, axis=axis), axis=axis, stable=True)
    return (n - 1) - xp.flip(order, axis=axis)


def _check_axis(name: str, x, axis):
    data = _data(x)
    return data, _axis(name, axis, tuple(data.shape))


def argsort(x: Any, axis: int = -1, descending: bool = False) -> Tensor:
    """The indices that sort x along axis (stable; no gradient), int64 as PyTorch's."""
    data, ax = _check_axis("argsort", x, axis)
    return _make(_argsort_data(data, ax, descending), None)


def _values(x, indices, axis: int) -> Tensor:
    if not isinstance(x, Tensor):
        x = _make(_data(x), None)
    if x.ndim == 0:
        return gather(x.reshape((1,)), 0, _make(indices, None).reshape((1,))).reshape(())
    return gather(x, axis, _make(indices, None))


def sort(x: Any, axis: int = -1, descending: bool = False) -> tuple[Tensor, Tensor]:
    """(values, indices): x sorted along axis (stable, NaN last, or first when
    descending, as PyTorch); the values carry x's gradient through the permutation."""
    data, ax = _check_axis("sort", x, axis)
    indices = _argsort_data(data, ax, descending)
    return _values(x, indices, ax), _make(indices, None)


def topk(x: Any, k: int, axis: int = -1, largest: bool = True) -> tuple[Tensor, Tensor]:
    """(values, indices) of the k largest (or smallest) entries along axis, sorted so,
    as torch.topk; the values carry x's gradient."""
    data, ax = _check_axis("topk", x, axis)
    n = data.shape[ax] if data.ndim else 1
    k = _index(k)
    if not 0 <= k <= n:
        raise ValueError(f"topk: k ({k}) is out of range for axis {axis} of size {n} "
                         f"(an input of shape {shape_str(tuple(data.shape))})")
    indices = _argsort_data(data, ax, largest)
    if data.ndim:
        indices = indices[_along(data.ndim, ax, slice(0, k))]
    return _values(x, indices, ax), _make(indices, None)


def _sample_order(rng):
    shape = s.shape(rng, 1, max_side=5)
    x = s.distinct(rng, shape)
    return (x,), {"axis": int(rng.integers(-len(shape), len(shape))),
                  "descending": bool(rng.random() < 0.5)}


def _sample_topk(rng):
    (x,), params = _sample_order(rng)
    n = x.shape[params["axis"]]
    return (x,), {"k": int(rng.integers(0, n + 1)), "axis": params["axis"],
                  "largest": params.pop("descending")}


defcomposite("sort", lambda x, **kw: sort(x, **kw)[0], sample=_sample_order)
defcomposite("topk", lambda x, **kw: topk(x, **kw)[0], sample=_sample_topk)
