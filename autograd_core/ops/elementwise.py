"""Elementwise ops: forward on arrays, then the gradient rule for each input.

Rules read `rule(xp, g, ans, *inputs)`: g is the gradient of the output, ans
the output itself (PyTorch's habit: prefer the result over the inputs where
it is cheaper, sigmoid's y(1-y)). Kinks: abs'(0) = 0; maximum/minimum split
the gradient equally on ties; clip passes it on the closed interval (bounds
that require grad make it `clamp`, with PyTorch's rules for them).
"""

from __future__ import annotations

import numpy as np

from .. import sampling as s
from ..grad_mode import STATE
from ..registry import defop
from ..tensor import Tensor
from .shape import shape_str

# -- arithmetic ---------------------------------------------------------------
defop("add", np.add,
      lambda xp, g, ans, a, b: g,
      lambda xp, g, ans, a, b: g,
      sample=s.binary(), linear=True)
defop("subtract", np.subtract,
      lambda xp, g, ans, a, b: g,
      lambda xp, g, ans, a, b: -g,
      sample=s.binary(), linear=True)
defop("multiply", np.multiply,
      lambda xp, g, ans, a, b: g * b,
      lambda xp, g, ans, a, b: g * a,
      fresh=True, sample=s.binary())
defop("divide", np.divide,
      lambda xp, g, ans, a, b: g / b,
      lambda xp, g, ans, a, b: -g * ans / b,
      sample=s.binary(s.REAL, s.NONZERO))


def _values(a) -> np.ndarray:
    """The numbers of a Tensor or an array, to build a mask from (no gradient flows into
    a mask, so the rules build theirs on arrays whether or not they record a graph)."""
    return np.asarray(a._data if isinstance(a, Tensor) else a)


# PyTorch's rules at base 0, where the plain formulas give 0 * inf: d/dx is 0 where
# p == 0 (x**p is constant there), d/dp is 0 where x == 0 and p >= 0 (0**p is 0 or 1,
# flat in p). The usual call, with no zero anywhere, skips the masks.
def _power_grad_base(xp, g, ans, x, p):
    flat = _values(p) == 0
    if not flat.any():
        return g * p * x ** (p - 1)
    # p -> 1 where p == 0 keeps 0 ** -1 (and numpy's warning) out of the branch dropped.
    return xp.where(flat, 0, g * p * x ** (xp.where(flat, 1, p) - 1))


def _power_grad_exponent(xp, g, ans, x, p):
    zero = _values(x) == 0
    if not zero.any():
        return g * ans * xp.log(x)
    # log of the base with its zeros replaced by 1: 0 there, so g * ans * 0 = 0 for
    # p >= 0 (ans is 0 or 1); for p < 0 PyTorch's inf * log(0) = -inf, put back as such.
    log_x = xp.log(xp.where(zero, 1, x))
    below = zero & (_values(p) < 0)
    if below.any():
        log_x = xp.where(below, -np.inf, log_x)
    return g * ans * log_x


defop("power", np.power, _power_grad_base, _power_grad_exponent,
      sample=s.binary(s.POSITIVE, s.REAL))
defop("negative", np.negative,
      lambda xp, g, ans, x: -g,
      sample=s.unary(), linear=True)

# -- exponentials and powers --------------------------------------------------
defop("exp", np.exp, lambda xp, g, ans, x: g * ans, sample=s.unary())
defop("expm1", np.expm1, lambda xp, g, ans, x: g * (ans + 1), sample=s.unary())
defop("log", np.log, lambda xp, g, ans, x: g / x, sample=s.unary(s.POSITIVE))
defop("log1p", np.log1p, lambda xp, g, ans, x: g / (x + 1), sample=s.unary(s.ABOVE_M1))
defop("sqrt", np.sqrt, lambda xp, g, ans, x: g / (ans * 2), sample=s.unary(s.POSITIVE))
defop("square", np.square, lambda xp, g, ans, x: g * (x * 2), sample=s.unary())

# -- trigonometric and hyperbolic ---------------------------------------------
defop("sin", np.sin, lambda xp, g, ans, x: g * xp.cos(x), sample=s.unary())
defop("cos", np.cos, lambda xp, g, ans, x: -g * xp.sin(x), sample=s.unary())
defop("tanh", np.tanh, lambda xp, g, ans, x: g * (1 - ans * ans), sample=s.unary())


def _sigmoid(x):
    # Through e = exp(-|x|) <= 1: finite and exact at +-1e4, no overflow warnings.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


defop("sigmoid", _sigmoid, lambda xp, g, ans, x: g * ans * (1 - ans), sample=s.unary())

# -- piecewise: signs, extrema, clipping, selection ---------------------------
defop("abs", np.abs, lambda xp, g, ans, x: g * xp.sign(x),
      sample=s.unary(s.NONZERO), linear=True)
defop("sign", np.sign, lambda xp, g, ans, x: g * 0,
      sample=s.unary(s.NONZERO), linear=True)


def _tie_split(xp, g, a, b):
    """Gradient of max(a, b) for a: all of it where a wins, half on a tie."""
    return xp.where(a > b, g, xp.where(a == b, g * 0.5, 0))


defop("maximum", np.maximum,
      lambda xp, g, ans, a, b: _tie_split(xp, g, a, b),
      lambda xp, g, ans, a, b: _tie_split(xp, g, b, a),
      sample=s.binary(), linear=True)
defop("minimum", np.minimum,
      lambda xp, g, ans, a, b: _tie_split(xp, g, b, a),
      lambda xp, g, ans, a, b: _tie_split(xp, g, a, b),
      sample=s.binary(), linear=True)


def _bounds_error(x, a_min, a_max) -> ValueError:
    bounds = [f"{name} of shape {shape_str(np.shape(b))}"
              for name, b in (("a_min", a_min), ("a_max", a_max)) if b is not None]
    return ValueError(f"clip: {' and '.join(bounds)} {'do' if len(bounds) > 1 else 'does'} "
                      f"not broadcast against the input of shape {shape_str(np.shape(x))}")


def _constant(bound):
    """A bound as the one-input clip takes it: a Tensor's array, if no gradient is lost."""
    if not isinstance(bound, Tensor):
        return bound
    if bound.requires_grad and STATE.enabled:  # the Tensor method, or OP.clip, called
        raise TypeError("clip: a bound that requires grad must be passed to ag.clip, "
                        "which gives it its gradient")
    return bound.data


def _clip(x, a_min=None, a_max=None):
    if a_min is None and a_max is None:
        return np.array(x, copy=True)
    a_min, a_max = _constant(a_min), _constant(a_max)
    try:
        return np.clip(x, a_min, a_max)
    except ValueError:
        raise _bounds_error(x, a_min, a_max) from None


def _clip_grad(xp, g, ans, x, a_min=None, a_max=None):
    a_min, a_max = (b.data if isinstance(b, Tensor) else b for b in (a_min, a_max))
    inside = (x >= a_min) if a_min is not None else None
    if a_max is not None:
        inside = (x <= a_max) if inside is None else inside & (x <= a_max)
    return g if inside is None else xp.where(inside, g, 0)


# Bounds that require grad are inputs of their own op, with torch.clamp's rules: x
# takes g on the closed interval, a_min where x < a_min, a_max where x > a_max; with
# crossed bounds (a_min > a_max) the output is a_max everywhere, and so is g.
def _clamp_grad_min(xp, g, ans, x, a_min, a_max):
    below = _values(x) < _values(a_min)
    if a_max is not None:
        below = below & (_values(a_min) < _values(a_max))
    return xp.where(below, g, 0)


def _clamp_grad_max(xp, g, ans, x, a_min, a_max):
    above = _values(x) > _values(a_max)
    if a_min is not None:
        above = above | (_values(a_max) < _values(a_min))
    return xp.where(above, g, 0)


def _sample_clamp(rng):
    full = s.shape(rng)
    lo = rng.uniform(-1.5, -0.5, size=s.broadcastable(rng, full))
    hi = rng.uniform(0.5, 1.5, size=s.broadcastable(rng, full))
    if rng.random() < 0.2:
        lo, hi = hi, lo
    # x below both bounds, between them or above both, MARGIN or more from each.
    low, high = np.minimum(lo, hi), np.maximum(lo, hi)
    region = rng.integers(0, 3, size=full)
    gap = rng.uniform(s.MARGIN, 1.0, size=full)
    x = np.select([region == 0, region == 1],
                  [low - gap, low + (high - low) * rng.uniform(0.25, 0.75, size=full)],
                  high + gap)
    drop = int(rng.integers(0, 4))  # sometimes one bound is None
    return (x, None if drop == 1 else lo, None if drop == 2 else hi), {}


def _clamp(x, a_min, a_max):
    return np.clip(x, a_min, a_max)


def clip(x, a_min=None, a_max=None) -> Tensor:
    """numpy's clip; the gradient passes on the closed interval [a_min, a_max].

    Constant bounds (numbers, arrays, Tensors that need no grad) make a one-input
    op; a bound that requires grad gets PyTorch's clamp gradient (see _clamp_grad_min).
    """
    if not any(isinstance(b, Tensor) and b.requires_grad for b in (a_min, a_max)):
        return _CLIP(x, a_min=a_min, a_max=a_max)
    try:
        np.broadcast_shapes(np.shape(x), np.shape(a_min), np.shape(a_max))
    except ValueError:
        raise _bounds_error(x, a_min, a_max) from None
    return _CLAMP(x, a_min, a_max)


_CLIP = defop("clip", _clip, _clip_grad, linear=True, public=clip,
              sample=s.unary((-2.0, 2.0, (-0.5, 1.0)), a_min=-0.5, a_max=1.0))
_CLAMP = defop("clamp", _clamp, _clip_grad, _clamp_grad_min, _clamp_grad_max, linear=True,
               sample=_sample_clamp)


defop("where", np.where,
      None,
      lambda xp, g, ans, c, a, b: xp.where(c, g, 0),
      lambda xp, g, ans, c, a, b: xp.where(c, 0, g),
      linear=True,
      sample=lambda rng: ((lambda full: (rng.random(s.broadcastable(rng, full)) < 0.5,
                                         s.values(rng, s.broadcastable(rng, full)),
                                         s.values(rng, full)))(s.shape(rng)), {}))


def _astype(x, dtype):
    return np.asarray(x).astype(dtype, copy=False)


defop("astype", _astype, lambda xp, g, ans, x, dtype: xp.astype(g, dtype=x.dtype),
      linear=True, sample=s.unary(dtype=np.float64))
