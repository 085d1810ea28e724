"""Elementwise ops: forward on arrays, then the gradient rule for each input.

Rules read `rule(xp, g, ans, *inputs)`: g is the gradient of the output, ans
the output itself (PyTorch's habit: prefer the result over the inputs where
it is cheaper, sigmoid's y(1-y)). Kinks: abs'(0) = 0; maximum/minimum split
the gradient equally on ties; clip passes it on the closed interval (bounds
that require grad make it `clamp`, with PyTorch's rules for them).
"""

from __future__ import annotations

import math
from numbers import Number

import numpy as np

from .. import sampling as s
from ..registry import defop
from ..tensor import Tensor
from .shape import shape_str

# -- arithmetic ---------------------------------------------------------------
defop("add", "add",
      lambda xp, g, ans, a, b: g,
      lambda xp, g, ans, a, b: g,
      sample=s.binary(), linear=True)
defop("subtract", "subtract",
      lambda xp, g, ans, a, b: g,
      lambda xp, g, ans, a, b: -g,
      sample=s.binary(), linear=True)
defop("multiply", "multiply",
      lambda xp, g, ans, a, b: g * b,
      lambda xp, g, ans, a, b: g * a, sample=s.binary())
defop("divide", "divide",
      lambda xp, g, ans, a, b: g / b,
      lambda xp, g, ans, a, b: -g * ans / b,
      sample=s.binary(s.REAL, s.NONZERO))


# PyTorch's rules at base 0, where the plain formulas give 0 * inf: d/dx is 0 where
# p == 0 (x**p is constant there), d/dp is 0 where x == 0 and p >= 0 (0**p is 0 or 1,
# flat in p), and -inf where x == 0 and p < 0. Array expressions, no branch on values:
# a branch would read the numbers back from a device.
def _power_grad_base(xp, g, ans, x, p):
    if isinstance(p, Number):
        return g * p * x ** (p - 1) if p != 0 else g * 0
    flat = p == 0  # p -> 1 there keeps 0 ** -1 out of the branch dropped
    return xp.where(flat, 0, g * p * x ** (xp.where(flat, 1, p) - 1))


def _power_grad_exponent(xp, g, ans, x, p):
    if isinstance(x, Number) and x > 0:  # a constant base, as in 2.0 ** t
        return g * ans * math.log(x)
    zero = x == 0
    log_x = xp.where(zero, 0, xp.log(xp.where(zero, 1, x)))
    return g * ans * xp.where(zero & (p < 0), -math.inf, log_x)


defop("power", "pow", _power_grad_base, _power_grad_exponent,
      sample=s.binary(s.POSITIVE, s.REAL))
defop("negative", "negative",
      lambda xp, g, ans, x: -g,
      sample=s.unary(), linear=True)

# -- exponentials and powers --------------------------------------------------
defop("exp", "exp", lambda xp, g, ans, x: g * ans, sample=s.unary())
defop("expm1", "expm1", lambda xp, g, ans, x: g * (ans + 1), sample=s.unary())
defop("log", "log", lambda xp, g, ans, x: g / x, sample=s.unary(s.POSITIVE))
defop("log1p", "log1p", lambda xp, g, ans, x: g / (x + 1),
      sample=s.unary(s.ABOVE_M1))
defop("sqrt", "sqrt", lambda xp, g, ans, x: g / (ans * 2),
      sample=s.unary(s.POSITIVE))
defop("square", "square", lambda xp, g, ans, x: g * (x * 2), sample=s.unary())

# -- trigonometric and hyperbolic ---------------------------------------------
defop("sin", "sin", lambda xp, g, ans, x: g * xp.cos(x), sample=s.unary())
defop("cos", "cos", lambda xp, g, ans, x: -g * xp.sin(x), sample=s.unary())
defop("tanh", "tanh", lambda xp, g, ans, x: g * (1 - ans * ans), sample=s.unary())


def _sigmoid(xp, x):
    # Through e = exp(-|x|) <= 1: finite and exact at +-1e4, no overflow warnings.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


defop("sigmoid", _sigmoid, lambda xp, g, ans, x: g * ans * (1 - ans), sample=s.unary())

# -- piecewise: signs, extrema, clipping, selection ---------------------------
defop("abs", "abs", lambda xp, g, ans, x: g * xp.sign(x),
      sample=s.unary(s.NONZERO), linear=True)
defop("sign", "sign", lambda xp, g, ans, x: g * 0,
      sample=s.unary(s.NONZERO), linear=True)


def _tie_split(xp, g, a, b):
    """Gradient of max(a, b) for a: all of it where a wins, half on a tie."""
    return xp.where(a > b, g, xp.where(a == b, g * 0.5, 0))


defop("maximum", "maximum",
      lambda xp, g, ans, a, b: _tie_split(xp, g, a, b),
      lambda xp, g, ans, a, b: _tie_split(xp, g, b, a),
      sample=s.binary(), linear=True)
defop("minimum", "minimum",
      lambda xp, g, ans, a, b: _tie_split(xp, g, b, a),
      lambda xp, g, ans, a, b: _tie_split(xp, g, a, b),
      sample=s.binary(), linear=True)


def _bounds_error(x, a_min, a_max) -> ValueError:
    bounds = [f"{name} of shape {shape_str(_shape(b))}"
              for name, b in (("a_min", a_min), ("a_max", a_max)) if b is not None]
    return ValueError(f"clip: {' and '.join(bounds)} {'do' if len(bounds) > 1 else 'does'} "
                      f"not broadcast against the input of shape {shape_str(_shape(x))}")


def _clip(xp, x, a_min=None, a_max=None):
    a_min, a_max = _constant(a_min), _constant(a_max)
    if a_min is None and a_max is None:
        return xp.asarray(x, copy=True)
    return xp.clip(x, a_min, a_max)


def _constant(bound):
    """A bound as the one-input clip takes it: a Tensor's array, if no gradient is lost."""
    if not isinstance(bound, Tensor):
        return bound
    if bound.requires_grad:  # OP.clip called directly, which has no input for it
        raise TypeError("clip: a bound that requires grad must be passed to ag.clip, "
                        "which gives it its gradient")
    return bound.data


def _clip_grad(xp, g, ans, x, a_min, a_max):
    inside = (x >= a_min) if a_min is not None else None
    if a_max is not None:
        inside = (x <= a_max) if inside is None else inside & (x <= a_max)
    return g if inside is None else xp.where(inside, g, 0)


# Bounds that require grad are inputs of their own op, with torch.clamp's rules: x
# takes g on the closed interval, a_min where x < a_min, a_max where x > a_max; with
# crossed bounds (a_min > a_max) the output is a_max everywhere, and so is g.
def _clamp_grad_min(xp, g, ans, x, a_min, a_max):
    below = x < a_min
    if a_max is not None:
        below = below & (a_min < a_max)
    return xp.where(below, g, 0)


def _clamp_grad_max(xp, g, ans, x, a_min, a_max):
    above = x > a_max
    if a_min is not None:
        above = above | (a_max < a_min)
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


def _clamp(xp, x, a_min, a_max):
    return xp.clip(x, a_min, a_max)


def clip(x, a_min=None, a_max=None) -> Tensor:
    """numpy's clip; the gradient passes on the closed interval [a_min, a_max].

    Constant bounds (numbers, arrays, Tensors that need no grad) make a one-input
    op; a bound that requires grad gets PyTorch's clamp gradient (see _clamp_grad_min).
    """
    try:
        np.broadcast_shapes(*(_shape(b) for b in (x, a_min, a_max)))
    except ValueError:
        raise _bounds_error(x, a_min, a_max) from None
    if not any(isinstance(b, Tensor) and b.requires_grad for b in (a_min, a_max)):
        a_min, a_max = (b.data if isinstance(b, Tensor) else b for b in (a_min, a_max))
        return _CLIP(x, a_min=a_min, a_max=a_max)
    return _CLAMP(x, a_min, a_max)


def _shape(a) -> tuple:
    return tuple(a.shape) if hasattr(a, "shape") else np.shape(a)


_CLIP = defop("clip", _clip, _clip_grad, linear=True, public=clip,
              sample=s.unary((-2.0, 2.0, (-0.5, 1.0)), a_min=-0.5, a_max=1.0))
_CLAMP = defop("clamp", _clamp, _clip_grad, _clamp_grad_min, _clamp_grad_max, linear=True,
               sample=_sample_clamp)


defop("where", "where", None,
      lambda xp, g, ans, c, a, b: xp.where(c, g, 0),
      lambda xp, g, ans, c, a, b: xp.where(c, 0, g),
      linear=True,
      sample=lambda rng: ((lambda full: (rng.random(s.broadcastable(rng, full)) < 0.5,
                                         s.values(rng, s.broadcastable(rng, full)),
                                         s.values(rng, full)))(s.shape(rng)), {}))


def _astype(xp, x, dtype):
    return xp.astype(x, dtype, copy=False)


defop("astype", _astype, lambda xp, g, ans, x, dtype: xp.astype(g, dtype=x.dtype),
      linear=True, sample=s.unary(dtype=np.float64))

# -- more logarithms, powers, trigonometric and hyperbolic functions -------------
# arctan2(y, x) is the angle of the point (x, y): its gradient is (x, -y) / (x^2 + y^2),
# made 0 at the origin (where the angle has none) rather than 0/0, as norm's.
_LN2, _LN10 = math.log(2.0), math.log(10.0)
TRIG: s.Domain = (-1.2, 1.2, ())  # tan: away from its poles at +-pi/2


def _atan2_grads(xp, g, ans, y, x, needs):
    r2 = x * x + y * y
    origin = r2 == 0
    scale = xp.where(origin, 0, g / xp.where(origin, 1, r2))
    return (scale * x if needs[0] is not None else None,
            -scale * y if needs[1] is not None else None)


defop("log2", "log2", lambda xp, g, ans, x: g / (x * _LN2),
      sample=s.unary(s.POSITIVE))
defop("log10", "log10", lambda xp, g, ans, x: g / (x * _LN10),
      sample=s.unary(s.POSITIVE))
defop("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda xp, g, ans, x: g * (ans * ans * ans) * -0.5,
      sample=s.unary(s.POSITIVE), doc="1 / sqrt(x).")
defop("reciprocal", lambda xp, x: 1 / x, lambda xp, g, ans, x: -g * (ans * ans),
      sample=s.unary(s.NONZERO), doc="1 / x.")
defop("tan", "tan", lambda xp, g, ans, x: g * (1 + ans * ans),
      sample=s.unary(TRIG))
defop("sinh", "sinh", lambda xp, g, ans, x: g * xp.cosh(x), sample=s.unary())
defop("cosh", "cosh", lambda xp, g, ans, x: g * xp.sinh(x), sample=s.unary())
defop("arcsin", "asin", lambda xp, g, ans, x: g / xp.sqrt(1 - x * x),
      sample=s.unary(s.UNIT))
defop("arccos", "acos", lambda xp, g, ans, x: -g / xp.sqrt(1 - x * x),
      sample=s.unary(s.UNIT))
defop("arctan", "atan", lambda xp, g, ans, x: g / (1 + x * x),
      sample=s.unary())
defop("arctan2", "atan2",
      vjp=lambda xp, g, ans, inputs, needs: _atan2_grads(xp, g, ans, *inputs, needs), nin=2,
      sample=s.binary(s.REAL, s.NONZERO), doc="The angle of the point (x, y), in [-pi, pi].")
