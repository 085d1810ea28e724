"""Activation functions, with PyTorch's defaults and numerics.

Smooth ones that pay for it are fused ops: a forward on the inputs' array namespace
`xp` (the array API standard), one rule written against registered ops (so
create_graph differentiates it again), and a sampler for the
registry-driven gradient tests. The rest are composites of registered ops.

Numerics by construction: sigmoid, softplus, logsigmoid and mish go through
exp(-|x|) <= 1; softmax and log_softmax are shifted by the max; nothing
overflows at +-1e4, +-inf gives PyTorch's value (see _limits: nan where its
formula meets inf * 0), and no RuntimeWarning is raised. Kinks take the
subgradient PyTorch takes: the left side's (relu'(0) = 0, leaky_relu'(0) =
slope, elu'(0) = alpha), hardtanh and hardsigmoid 0 on their corners,
hardswish 0 at -3 and 1 at 3 (as PyTorch 2.x).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import sampling as s
from autograd_core.backend import is_floating
from autograd_core.random import RNG
from autograd_core.registry import OP, defcomposite, defop
from autograd_core.tensor import Tensor

from ._inputs import array_of, float_dtype, like, namespace, tensor_or_array
from ._special import erf, erfc

__all__ = ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "rrelu", "elu", "selu", "celu",
           "gelu", "silu", "mish", "softplus", "softsign", "hardtanh", "relu6", "hardsigmoid",
           "hardswish", "logsigmoid", "softmax", "log_softmax", "erf", "erfc"]

# sigmoid(x) = 1 / (1 + e^-x) and tanh are the engine's own ops.
sigmoid = ag.sigmoid
tanh = ag.tanh

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_BETA = math.sqrt(2 / math.pi)  # tanh approximation: tanh(beta (x + kappa x^3))
_GELU_KAPPA = 0.044715


def _params(rng: np.random.Generator, **choices: tuple) -> dict:
    """One value drawn from each tuple of choices (the samplers' parameters)."""
    return {k: v[int(rng.integers(len(v)))] for k, v in choices.items()}


# -- numerics at the ends of the line -------------------------------------------
# Where a formula multiplies a factor that tends to 0 by x, x = +-inf gives 0 * inf =
# nan (and a RuntimeWarning on numpy). Those ops compute on _finite(x) and put in
# PyTorch's values at +-inf with _limits: where-masks, so no inf reaches a product
# and no warning arises. PyTorch's kernels give nan where their formula meets
# inf * 0 (silu, gelu, mish, hardswish at -inf; softsign at +-inf; the gradients of
# silu, gelu, mish and softsign at +-inf), and so do these: results follow PyTorch.
def _finite(xp, x):
    """x with +-inf set to 0 (nan kept)."""
    return xp.where(xp.abs(x) == math.inf, 0, x)


def _limits(xp, x, y, at_pos, at_neg):
    """y, with at_pos where x is +inf and at_neg where x is -inf."""
    return xp.where(x == math.inf, at_pos, xp.where(x == -math.inf, at_neg, y))


def _nan_at_inf(xp, x, grad):
    """grad, nan where x is +-inf (PyTorch's gradient there)."""
    return xp.where(xp.abs(x) == math.inf, math.nan, grad)


def _sigmoid(xp, x):
    return OP.sigmoid.forward(xp, x)


# -- rectifiers: piecewise linear -----------------------------------------------
# relu(x) = max(x, 0); relu'(0) = 0.
_RELU = defop("relu", lambda xp, x: xp.maximum(x, 0),
              lambda xp, g, ans, x: xp.where(ans > 0, g, 0),
              sample=s.unary(s.NONZERO), linear=True)


def relu(x: Any) -> Tensor:
    """max(x, 0), with gradient 0 at 0."""
    return _RELU(x)


# leaky_relu(x) = x if x > 0 else slope * x
def _leaky_relu(xp, x, negative_slope=0.01):
    return xp.where(x > 0, x, x * negative_slope)


_LEAKY = defop("leaky_relu", _leaky_relu,
               lambda xp, g, ans, x, negative_slope:
                   xp.where(x > 0, g, g * negative_slope),
               linear=True,
               sample=lambda rng: ((s.values(rng, s.shape(rng), s.NONZERO),),
                                   _params(rng, negative_slope=(0.01, 0.2, -0.5))))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    return _LEAKY(x, negative_slope=negative_slope)


# hardtanh(x) = clip(x, min_val, max_val); gradient 1 strictly inside, 0 on the corners.
def _hardtanh(xp, x, min_val=-1.0, max_val=1.0):
    return xp.clip(x, min_val, max_val)


_HARDTANH = defop("hardtanh", _hardtanh,
                  lambda xp, g, ans, x, min_val, max_val:
                      xp.where((x > min_val) & (x < max_val), g, 0),
                  linear=True, sample=s.unary((-2.0, 2.0, (-1.0, 1.0))))


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return _HARDTANH(x, min_val=min_val, max_val=max_val)


def relu6(x: Any) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6)."""
    return _HARDTANH(x, min_val=0.0, max_val=6.0)


# hardsigmoid(x) = relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3).
_HARDSIGMOID = defop("hardsigmoid", lambda xp, x: xp.clip(x + 3, 0, 6) / 6,
                     lambda xp, g, ans, x: xp.where((x > -3) & (x < 3), g / 6, 0),
                     linear=True, sample=s.unary((-4.5, 4.5, (-3.0, 3.0))))


def hardsigmoid(x: Any) -> Tensor:
    return _HARDSIGMOID(x)


# hardswish(x) = x relu6(x + 3) / 6: 0 up to -3, x (x + 3) / 6 on (-3, 3), x from 3
# (the middle piece on x clipped to [-3, 3]: no -inf * 0 at -inf);
# gradient 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3.
def _hardswish(xp, x):
    xc = xp.clip(x, -3, 3)
    return xp.where(x >= 3, x, xp.where(x == -math.inf, math.nan, xc * (xc + 3) / 6))


_HARDSWISH = defop("hardswish", _hardswish,
                   lambda xp, g, ans, x:
                       xp.where(x <= -3, 0, xp.where(x < 3, g * (x / 3 + 0.5), g)),
                   sample=s.unary((-4.5, 4.5, (-3.0, 3.0))))


def hardswish(x: Any) -> Tensor:
    return _HARDSWISH(x)


def prelu(x: Any, weight: Any) -> Tensor:
    """x if x > 0 else weight * x; weight has 1 entry or one per channel (axis 1).
    weight multiplies x only where x <= 0, so x = +inf gives weight no 0 * inf."""
    data = array_of(x)
    n, ndim = math.prod(tuple(getattr(weight, "shape", None) or array_of(weight).shape)), \
        data.ndim
    channels = data.shape[1] if ndim >= 2 else 1
    if n not in (1, channels):
        raise ValueError(f"prelu: weight has {n} parameters but the input of shape "
                         f"{tuple(data.shape)} has {channels} channels (axis 1)")
    w = ag.reshape(weight, () if n == 1 else (n,) + (1,) * (ndim - 2))
    positive = data > 0
    return ag.where(positive, x, ag.multiply(ag.where(positive, 0, x), w))


def rrelu(x: Any, lower: float = 1 / 8, upper: float = 1 / 3,
          training: bool = False) -> Tensor:
    """Randomized leaky ReLU: in training each x <= 0 gets a slope drawn from
    U(lower, upper) (autograd_core's RNG); in eval the mean slope (lower + upper) / 2."""
    if lower > upper:
        raise ValueError(f"rrelu: lower ({lower}) must not exceed upper ({upper})")
    if not training:
        return _LEAKY(x, negative_slope=(lower + upper) / 2)
    data = array_of(x)
    noise = like(data, RNG.uniform(lower, upper, size=tuple(data.shape)))
    xp = namespace(data)
    return ag.multiply(x, xp.where(data > 0, xp.ones_like(noise), noise))


# -- exponential family ---------------------------------------------------------
# elu(x) = scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1)), PyTorch's one
# kernel behind elu, selu and celu. exp only sees min(x, 0): no overflow for large x.
def _elu(xp, x, alpha=1.0, scale=1.0, input_scale=1.0):
    neg = xp.expm1(xp.minimum(x, 0) * input_scale) * alpha
    out = xp.where(x > 0, x, neg)
    return out * scale if scale != 1 else out


def _elu_grad(xp, g, ans, x, alpha, scale, input_scale):
    neg = g * (alpha * scale * input_scale) * xp.exp(xp.minimum(x, 0) * input_scale)
    return xp.where(x > 0, g * scale if scale != 1 else g, neg)


_ELU = defop("elu", _elu, _elu_grad,
             sample=lambda rng: ((s.values(rng, s.shape(rng), (-4.0, 2.0, (0.0,))),),
                                 _params(rng, alpha=(1.0, 0.5, 2.0), scale=(1.0, 1.5),
                                         input_scale=(1.0, 0.5))))


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else alpha (e^x - 1); tends to -alpha on the left."""
    return _ELU(x, alpha=alpha)


def selu(x: Any) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return _ELU(x, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha of 0 is not allowed (it divides x)")
    return _ELU(x, alpha=alpha, input_scale=1 / alpha)


# softplus(x) = log(1 + e^(beta x)) / beta, and x itself once beta x > threshold.
# Computed as (max(bx, 0) + log1p(e^-|bx|)) / beta: e^-|bx| <= 1 never overflows.
def _softplus(xp, x, beta=1.0, threshold=20.0):
    bx = x * beta if beta != 1 else x
    soft = xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))
    if beta != 1:
        soft = soft / beta
    return xp.where(bx > threshold, x, soft)


def _sample_softplus(rng):
    p = _params(rng, beta=(1.0, 0.5, 2.0), threshold=(20.0, 1.0))
    return (s.values(rng, s.shape(rng), (-2.5, 2.5, (p["threshold"] / p["beta"],))),), p


# softplus'(x) = sigmoid(beta x)
_SOFTPLUS = defop("softplus", _softplus,
                  lambda xp, g, ans, x, beta, threshold:
                      xp.where(x * beta > threshold, g, g * xp.sigmoid(x * beta)),
                  sample=_sample_softplus)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _SOFTPLUS(x, beta=beta, threshold=threshold)


# logsigmoid(x) = -softplus(-x) = min(x, 0) - log1p(e^-|x|); its derivative sigmoid(-x).
_LOGSIGMOID = defop("logsigmoid",
                    lambda xp, x: xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x))),
                    lambda xp, g, ans, x: g * xp.sigmoid(-x),
                    sample=s.unary((-4.0, 4.0, ())))


def logsigmoid(x: Any) -> Tensor:
    return _LOGSIGMOID(x)


# silu(x) = x sigmoid(x); silu' = s (1 + x (1 - s)) with s = sigmoid(x).
# Limits: silu(+inf) = inf, silu(-inf) = 0; silu'(+inf) = 1, silu'(-inf) = 0.
def _silu(xp, x):
    xf = _finite(xp, x)
    return _limits(xp, x, xf * _sigmoid(xp, xf), math.inf, math.nan)


def _silu_grad(xp, g, ans, x):
    sg = xp.sigmoid(x)
    return _nan_at_inf(xp, x, g * sg * (1 + _finite(xp, x) * (1 - sg)))


_SILU = defop("silu", _silu, _silu_grad, sample=s.unary((-4.0, 4.0, ())))


def silu(x: Any) -> Tensor:
    return _SILU(x)


# mish(x) = x tanh(softplus(x)); mish' = t + x sigmoid(x) (1 - t^2) with t = tanh(softplus(x)).
# Limits: mish(+inf) = inf, mish(-inf) = 0; mish'(+inf) = 1, mish'(-inf) = 0.
def _mish(xp, x):
    xf = _finite(xp, x)
    return _limits(xp, x, xf * xp.tanh(_softplus(xp, xf, 1.0, math.inf)), math.inf,
                   math.nan)


def _mish_grad(xp, g, ans, x):
    t = xp.tanh(xp.softplus(x, beta=1.0, threshold=math.inf))
    return _nan_at_inf(xp, x, g * (t + _finite(xp, x) * xp.sigmoid(x) * (1 - t * t)))


_MISH = defop("mish", _mish, _mish_grad, sample=s.unary((-4.0, 4.0, ())))


def mish(x: Any) -> Tensor:
    return _MISH(x)


# gelu(x) = x Phi(x), Phi the standard normal cdf = erfc(-x / sqrt 2) / 2;
# gelu'(x) = Phi(x) + x phi(x). approximate='tanh': 0.5 x (1 + tanh(beta (x + kappa x^3))).
# Limits: gelu(+inf) = inf, gelu(-inf) = 0. x phi(x) is taken on x clipped to +-40
# (phi(40) = 0 in float64), the cubic on x clipped to +-10 (tanh(beta (10 + 1000
# kappa)) = 1 in float64), so neither x^2 nor x^3 overflows or meets inf * 0.
def _gelu(xp, x, approximate="none"):
    xf = _finite(xp, x)
    if approximate == "tanh":
        xc = xp.clip(x, -10.0, 10.0)
        y = 0.5 * xf * (1 + xp.tanh(_GELU_BETA * (xc + _GELU_KAPPA * (xc * xc * xc))))
    else:
        y = 0.5 * xf * OP.erfc.forward(xp, -x * _SQRT1_2)
    return _limits(xp, x, y, math.inf, math.nan)


def _gelu_grad(xp, g, ans, x, approximate):
    if approximate == "tanh":
        xc = xp.clip(x, -10.0, 10.0)
        t = xp.tanh(_GELU_BETA * (xc + _GELU_KAPPA * (xc * xc * xc)))
        inner = _GELU_BETA * (1 + 3 * _GELU_KAPPA * (xc * xc))
        return _nan_at_inf(xp, x, g * (0.5 * (1 + t) + 0.5 * xc * (1 - t * t) * inner))
    xc = xp.clip(x, -40.0, 40.0)
    return _nan_at_inf(xp, x, g * (0.5 * xp.erfc(-x * _SQRT1_2)
                                   + xc * (_INV_SQRT_2PI * xp.exp(-0.5 * (xc * xc)))))


_GELU = defop("gelu", _gelu, _gelu_grad,
              sample=lambda rng: ((s.values(rng, s.shape(rng), (-4.0, 4.0, ())),),
                                  _params(rng, approximate=("none", "tanh"))))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Phi(x) with the exact normal cdf, or PyTorch's tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _GELU(x, approximate=approximate)


# softsign(x) = x / (1 + |x|), +-1 at +-inf; softsign' = 1 / (1 + |x|)^2, squared after
# the division (no overflow), without the cancellation of the quotient rule far out.
def _softsign(xp, x):
    xf = _finite(xp, x)
    return _limits(xp, x, xf / (1 + xp.abs(xf)), math.nan, math.nan)


_SOFTSIGN = defop("softsign", _softsign,
                  lambda xp, g, ans, x: _nan_at_inf(xp, x, g * xp.square(1 / (1 + xp.abs(x)))),
                  sample=s.unary(s.NONZERO))


def softsign(x: Any) -> Tensor:
    return _SOFTSIGN(x)


# -- normalising: softmax and log_softmax over an axis -----------------------------
def _shifted(xp, x, axis):
    """x - max(x) along axis. A slice whose max is not finite (+inf or nan in it, or
    all -inf) is nan, as PyTorch's x - max gives, without computing inf - inf: such
    a max is replaced by nan, and x - nan raises no warning. (The mask is taken on
    the max, one entry per slice: masking x - max itself took 11.3 us at 64 x 10,
    this 8.6, both with np.max; 5.5 with numpy's own max kernel, kernels.numpy_max,
    which takes the max of short rows faster.)"""
    m = xp.max(x, axis=axis, keepdims=True)
    return x - xp.where(xp.isfinite(m), m, math.nan)


# Classifier logits are (N, C) with C small, reduced over C. numpy reduces such a short
# contiguous axis slowly: their sum as a product with ones takes 4 us at 1024 x 10
# (23 us as a sum).
def _sum_keep(xp, x, axis):
    if x.ndim == 2 and axis in (1, -1) and x.shape[1] <= 32:
        return xp.matmul(x, xp.ones((x.shape[1], 1), dtype=x.dtype, device=x.device))
    return xp.sum(x, axis=axis, keepdims=True)


def _axis(x, axis):
    """The reduction axis; None for a 0-d x, whose axes are -1 and 0 (as PyTorch's)."""
    if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise ValueError(f"axis {axis} is out of bounds for an input of {x.ndim} dimensions")
    return axis if x.ndim else None


# softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m), m = max(x); backward: y (g - sum(g y)).
def _softmax(xp, x, axis=-1):
    axis = _axis(x, axis)
    if x.ndim and x.shape[axis] == 0:
        return xp.asarray(x, copy=True)
    e = xp.exp(_shifted(xp, x, axis))
    return e / _sum_keep(xp, e, axis)


# log_softmax(x) = x - m - log(sum e^(x - m)); backward: g - softmax * sum(g).
def _log_softmax(xp, x, axis=-1):
    axis = _axis(x, axis)
    if x.ndim and x.shape[axis] == 0:
        return xp.asarray(x, copy=True)
    z = _shifted(xp, x, axis)
    return z - xp.log(_sum_keep(xp, xp.exp(z), axis))


def _sample_axis(rng):
    shape = s.shape(rng, 1)
    return (s.values(rng, shape, (-3.0, 3.0, ())),), {"axis": int(rng.integers(-len(shape),
                                                                              len(shape)))}


_SOFTMAX = defop("softmax", _softmax,
                 lambda xp, g, ans, x, axis:
                     ans * (g - xp.sum(g * ans, axis=_axis(ans, axis), keepdims=True)),
                 sample=_sample_axis)
_LOG_SOFTMAX = defop("log_softmax", _log_softmax,
                     lambda xp, g, ans, x, axis:
                         g - xp.exp(ans) * xp.sum(g, axis=_axis(ans, axis), keepdims=True),
                     sample=_sample_axis)


def _float_input(x: Any) -> Any:
    """x, or for integer or bool input its values in the default float32, the rule of
    the other activations (ag.exp of integers is float32)."""
    x = tensor_or_array(x)
    data = x.data if isinstance(x, Tensor) else x
    if not is_floating(data.dtype):
        return namespace(data).astype(data, float_dtype(data))  # integers carry no gradient
    return x


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Probabilities along `axis`: positive, summing to 1 (a 0-d input gives 1, with
    gradient 0, as PyTorch). Integer input computes in float32."""
    return _SOFTMAX(_float_input(x), axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log(softmax(x)), computed without forming softmax (exact for large |x|); a 0-d
    input gives 0. Integer input computes in float32."""
    return _LOG_SOFTMAX(_float_input(x), axis=axis)


# Composites: checked by the gradient tests through their parts.
defcomposite("prelu", prelu, sample=lambda rng: (lambda shape: (
    (s.values(rng, shape, s.NONZERO), rng.uniform(-0.5, 0.5, size=(
        shape[1] if len(shape) >= 2 and rng.random() < 0.7 else 1,))), {}))(s.shape(rng, 1)))
defcomposite("rrelu", rrelu, sample=s.unary(s.NONZERO, lower=0.1, upper=0.3))
defcomposite("selu", selu, sample=s.unary((-3.0, 2.0, (0.0,))))
defcomposite("celu", celu, sample=lambda rng: ((s.values(rng, s.shape(rng), s.NONZERO),),
                                              _params(rng, alpha=(1.0, 0.5, 2.0))))
defcomposite("relu6", relu6, sample=s.unary((-1.0, 7.0, (0.0, 6.0))))
