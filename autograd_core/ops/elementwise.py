"""Elementwise ops: forward on arrays, then the gradient rule for each input.

Rules read `rule(xp, g, ans, *inputs)`: g is the gradient of the output, ans
the output itself (PyTorch's habit: prefer the result over the inputs where
it is cheaper, sigmoid's y(1-y)). Kinks: abs'(0) = 0; maximum/minimum split
the gradient equally on ties; clip passes it on the closed interval.
"""

from __future__ import annotations

import numpy as np

from .. import sampling as s
from ..registry import defop

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
defop("power", np.power,
      lambda xp, g, ans, x, p: g * p * x ** (p - 1),
      lambda xp, g, ans, x, p: g * ans * xp.log(x),
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


def _clip(x, a_min=None, a_max=None):
    if a_min is None and a_max is None:
        return np.array(x, copy=True)
    return np.clip(x, a_min, a_max)


def _clip_grad(xp, g, ans, x, a_min=None, a_max=None):
    inside = (x >= a_min) if a_min is not None else None
    if a_max is not None:
        inside = (x <= a_max) if inside is None else inside & (x <= a_max)
    return g if inside is None else xp.where(inside, g, 0)


defop("clip", _clip, _clip_grad, linear=True,
      sample=s.unary((-2.0, 2.0, (-0.5, 1.0)), a_min=-0.5, a_max=1.0))
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
