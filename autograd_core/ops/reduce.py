"""Reductions over `axis` (None, an int or a tuple) with numpy's `keepdims`.

Every rule first puts the reduced axes back into g (`_expand`) so it
broadcasts against the input. Ties in max/min share the gradient equally.
"""

from __future__ import annotations

import math

import numpy as np

from .. import sampling as s
from ..registry import defop


def _kept_shape(shape: tuple, axis) -> tuple:
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand(xp, g, shape: tuple, axis, keepdims: bool):
    """g with the reduced axes of an input of `shape` restored as size 1."""
    return g if keepdims else xp.reshape(g, _kept_shape(shape, axis))


def _count(x, ans) -> int:
    """How many inputs went into each output element."""
    return x.size // max(ans.size, 1)


def _sum(xp, x, axis=None, keepdims=False):
    return xp.sum(x, axis=axis, keepdims=keepdims)


def _mean(xp, x, axis=None, keepdims=False):
    return xp.mean(x, axis=axis, keepdims=keepdims)


def _prod(xp, x, axis=None, keepdims=False):
    return xp.prod(x, axis=axis, keepdims=keepdims)


defop("sum", _sum,
      lambda xp, g, ans, x, axis=None, keepdims=False:
          xp.broadcast_to(_expand(xp, g, x.shape, axis, keepdims), x.shape),
      sample=s.reduction(), linear=True)
defop("mean", _mean,
      lambda xp, g, ans, x, axis=None, keepdims=False:
          xp.broadcast_to(_expand(xp, g, x.shape, axis, keepdims), x.shape) / _count(x, ans),
      sample=s.reduction(), linear=True)
def _sample_prod(rng):
    """Values with some zeros (one or two per slice), where the gradient is subtle."""
    (x,), params = s.reduction()(rng)
    if rng.random() < 0.5:
        x = np.where(rng.random(x.shape) < 0.25, 0.0, x)
    return (x,), params


def _prod_grad(xp, g, ans, x, axis=None, keepdims=False):
    # d prod / d x_i = the product of the others = (x_0 ... x_(i-1)) (x_(i+1) ... x_(n-1)):
    # exclusive cumulative products from either end, over the reduced axes moved last
    # and flattened. No division, so it holds at zeros, and cumprod's rule (also free
    # of division) keeps the second derivative right there: d2/dx0 dx1 of
    # prod([0, 0, 2, 3]) is 6.
    g_all = xp.broadcast_to(_expand(xp, g, x.shape, axis, keepdims), x.shape)
    reduced = _axes(axis, x.ndim)
    reduced = tuple(sorted(a % x.ndim for a in reduced))
    if x.size == 0 or not reduced:
        return g_all
    kept = tuple(a for a in range(x.ndim) if a not in reduced)
    order = kept + reduced
    moved = xp.transpose(x, order) if order != tuple(range(x.ndim)) else x
    m = 1
    for a in reduced:
        m *= x.shape[a]
    flat = xp.reshape(moved, tuple(x.shape[a] for a in kept) + (m,))
    before = xp.cumprod(_shift_in(xp, flat, 1), axis=-1)
    after = xp.cumprod(_shift_in(xp, flat, -1), axis=-1, reverse=True)
    others = xp.reshape(before * after, moved.shape)
    if order != tuple(range(x.ndim)):
        others = xp.transpose(others, tuple(order.index(a) for a in range(x.ndim)))
    return g_all * others


def _shift_in(xp, a, d: int):
    """a moved d places along its last axis, towards the end (d > 0) or the start,
    1 coming in: the exclusive running products' operand."""
    widths = ((0, 0),) * (a.ndim - 1) + (((d, 0) if d > 0 else (0, -d)),)
    n = a.shape[-1]
    kept = a[..., :n - d] if d > 0 else a[..., -d:]
    return xp.pad(kept, pad_width=widths, constant_values=1.0)


defop("prod", _prod, _prod_grad, sample=_sample_prod)


def _extreme_grad(xp, g, ans, x, axis=None, keepdims=False):
    winners = x == _expand(xp, ans, x.shape, axis, keepdims)
    count = xp.sum(xp.astype(winners, dtype=g.dtype), axis=axis, keepdims=True)
    share = _expand(xp, g, x.shape, axis, keepdims) / count
    return xp.where(winners, share, 0)


def _max(xp, x, axis=None, keepdims=False):
    return xp.max(x, axis=axis, keepdims=keepdims)


def _min(xp, x, axis=None, keepdims=False):
    return xp.min(x, axis=axis, keepdims=keepdims)


defop("max", _max, _extreme_grad, sample=s.reduction(ties=True), linear=True)
defop("min", _min, _extreme_grad, sample=s.reduction(ties=True), linear=True)


def _var(xp, x, axis=None, ddof=0, keepdims=False):
    return xp.var(x, axis=axis, correction=ddof, keepdims=keepdims)


def _std(xp, x, axis=None, ddof=0, keepdims=False):
    return xp.std(x, axis=axis, correction=ddof, keepdims=keepdims)


def _centred(xp, x, axis):
    return x - xp.mean(x, axis=axis, keepdims=True)


# var = sum((x - mean)^2) / (n - ddof); its gradient is 2 (x - mean) / (n - ddof).
defop("var", _var,
      lambda xp, g, ans, x, axis=None, ddof=0, keepdims=False:
          _expand(xp, g, x.shape, axis, keepdims) * _centred(xp, x, axis)
          * (2.0 / (_count(x, ans) - ddof)),
      sample=s.reduction(ddof=0))


def _std_grad(xp, g, ans, x, axis=None, ddof=0, keepdims=False):
    # std = sqrt(var): var's gradient times g / (2 std), which PyTorch sets to 0 where
    # the std is 0 (constant data) rather than 0/0. The divisor is made 1 there first,
    # so no nan (nor numpy's warning) arises in the entries the mask drops.
    zero = ans == 0
    scaled = xp.where(zero, 0, g / xp.where(zero, 1, ans))
    return (_expand(xp, scaled, x.shape, axis, keepdims) * _centred(xp, x, axis)
            * (1.0 / (_count(x, ans) - ddof)))


defop("std", _std, _std_grad,
      sample=lambda rng: ((s.values(rng, (3, 4)),),
                          {"axis": int(rng.integers(0, 2)), "ddof": int(rng.integers(0, 2))}))


def _logsumexp(xp, x, axis=None, keepdims=False):
    # Shift by the max so exp never overflows; an all -inf slice stays -inf, and the
    # sum of nothing is -inf (PyTorch's), not an error.
    if x.size == 0:
        shape = xp.sum(x, axis=axis, keepdims=keepdims).shape
        return xp.full(shape, -math.inf, dtype=x.dtype, device=x.device)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else xp.squeeze(out, axis=_axes(axis, x.ndim))


def _axes(axis, ndim: int) -> tuple:
    return tuple(range(ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis


defop("logsumexp", _logsumexp,
      lambda xp, g, ans, x, axis=None, keepdims=False:
          _expand(xp, g, x.shape, axis, keepdims)
          * xp.exp(x - _expand(xp, ans, x.shape, axis, keepdims)),
      sample=s.reduction())


def _norm(xp, x, axis=None, keepdims=False):
    return xp.sqrt(xp.sum(x * x, axis=axis, keepdims=keepdims))


def _norm_grad(xp, g, ans, x, axis=None, keepdims=False):
    # x / |x|, with 0 rather than 0/0 at the origin.
    r = _expand(xp, ans, x.shape, axis, keepdims)
    return _expand(xp, g, x.shape, axis, keepdims) * x / xp.where(r == 0, 1, r)


defop("norm", _norm, _norm_grad, sample=s.reduction())
