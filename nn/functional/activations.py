"""Activation functions, with PyTorch's defaults and numerics.

Smooth ones that pay for it are fused ops: forward in numpy, one rule written
against `xp` (so create_graph differentiates it again), and a sampler for the
registry-driven gradient tests. The rest are composites of registered ops.

Numerics by construction: sigmoid, softplus, logsigmoid and mish go through
exp(-|x|) <= 1; softmax and log_softmax are shifted by the max; nothing
overflows at +-1e4. Kinks take the subgradient PyTorch takes: the left
side's (relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha), hardtanh
and hardsigmoid 0 on their corners, hardswish 0 at -3 and 1 at 3 (as PyTorch 2.x).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import sampling as s
from autograd_core.ops.linalg import row_sums
from autograd_core.random import RNG
from autograd_core.registry import NP, defcomposite, defop
from autograd_core.tensor import Tensor

from ._inputs import array_of, float_dtype, tensor_or_array
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


# -- rectifiers: piecewise linear -----------------------------------------------
# relu(x) = max(x, 0); relu'(0) = 0.
_RELU = defop("relu", lambda xp, x: xp.maximum(x, 0),
              lambda xp, g, ans, x: g * (ans > 0),
              sample=s.unary(s.NONZERO), linear=True)


def relu(x: Any) -> Tensor:
    """max(x, 0), with gradient 0 at 0."""
    return _RELU(x)


# leaky_relu(x) = x if x > 0 else slope * x
def _leaky_relu(xp, x, negative_slope=0.01):
    return np.where(x > 0, x, x * negative_slope)


_LEAKY = defop("leaky_relu", _leaky_relu,
               lambda xp, g, ans, x, negative_slope=0.01:
                   xp.where(x > 0, g, g * negative_slope),
               linear=True,
               sample=lambda rng: ((s.values(rng, s.shape(rng), s.NONZERO),),
                                   _params(rng, negative_slope=(0.01, 0.2, -0.5))))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    return _LEAKY(x, negative_slope=negative_slope)


# hardtanh(x) = clip(x, min_val, max_val); gradient 1 strictly inside, 0 on the corners.
def _hardtanh(xp, x, min_val=-1.0, max_val=1.0):
    return np.clip(x, min_val, max_val)


_HARDTANH = defop("hardtanh", _hardtanh,
                  lambda xp, g, ans, x, min_val=-1.0, max_val=1.0:
                      g * ((x > min_val) & (x < max_val)),
                  linear=True, sample=s.unary((-2.0, 2.0, (-1.0, 1.0))))


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return _HARDTANH(x, min_val=min_val, max_val=max_val)


def relu6(x: Any) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6)."""
    return _HARDTANH(x, min_val=0.0, max_val=6.0)


# hardsigmoid(x) = relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3).
_HARDSIGMOID = defop("hardsigmoid", lambda xp, x: np.minimum(np.maximum(x + 3, 0), 6) / 6,
                     lambda xp, g, ans, x: g * ((x > -3) & (x < 3)) / 6,
                     linear=True, sample=s.unary((-4.5, 4.5, (-3.0, 3.0))))


def hardsigmoid(x: Any) -> Tensor:
    return _HARDSIGMOID(x)


# hardswish(x) = x relu6(x + 3) / 6; gradient 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3.
_HARDSWISH = defop("hardswish", lambda xp, x: x * np.minimum(np.maximum(x + 3, 0), 6) / 6,
                   lambda xp, g, ans, x:
                       xp.where(x <= -3, 0, xp.where(x < 3, g * (x / 3 + 0.5), g)),
                   sample=s.unary((-4.5, 4.5, (-3.0, 3.0))))


def hardswish(x: Any) -> Tensor:
    return _HARDSWISH(x)


def prelu(x: Any, weight: Any) -> Tensor:
    """x if x > 0 else weight * x; weight has 1 entry or one per channel (axis 1)."""
    data = array_of(x)
    n, ndim = int(np.size(weight)), data.ndim
    channels = data.shape[1] if ndim >= 2 else 1
    if n not in (1, channels):
        raise ValueError(f"prelu: weight has {n} parameters but the input of shape "
                         f"{data.shape} has {channels} channels (axis 1)")
    w = ag.reshape(weight, () if n == 1 else (n,) + (1,) * (ndim - 2))
    return ag.where(data > 0, x, ag.multiply(x, w))


def rrelu(x: Any, lower: float = 1 / 8, upper: float = 1 / 3,
          training: bool = False) -> Tensor:
    """Randomized leaky ReLU: in training each x <= 0 gets a slope drawn from
    U(lower, upper) (autograd_core's RNG); in eval the mean slope (lower + upper) / 2."""
    if lower > upper:
        raise ValueError(f"rrelu: lower ({lower}) must not exceed upper ({upper})")
    if not training:
        return _LEAKY(x, negative_slope=(lower + upper) / 2)
    data = array_of(x)
    noise = RNG.uniform(lower, upper, size=data.shape)
    slope = np.where(data > 0, 1.0, noise).astype(float_dtype(data), copy=False)
    return ag.multiply(x, slope)


# -- exponential family ---------------------------------------------------------
# elu(x) = scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1)), PyTorch's one
# kernel behind elu, selu and celu. exp only sees min(x, 0): no overflow for large x.
def _elu(xp, x, alpha=1.0, scale=1.0, input_scale=1.0):
    neg = np.expm1(np.minimum(x, 0) * input_scale) * alpha
    out = np.where(x > 0, x, neg)
    return out * scale if scale != 1 else out


def _elu_grad(xp, g, ans, x, alpha=1.0, scale=1.0, input_scale=1.0):
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
    soft = np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))
    if beta != 1:
        soft = soft / beta
    return np.where(bx > threshold, x, soft)


def _sample_softplus(rng):
    p = _params(rng, beta=(1.0, 0.5, 2.0), threshold=(20.0, 1.0))
    return (s.values(rng, s.shape(rng), (-2.5, 2.5, (p["threshold"] / p["beta"],))),), p


# softplus'(x) = sigmoid(beta x)
_SOFTPLUS = defop("softplus", _softplus,
                  lambda xp, g, ans, x, beta=1.0, threshold=20.0:
                      xp.where(x * beta > threshold, g, g * xp.sigmoid(x * beta)),
                  sample=_sample_softplus)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _SOFTPLUS(x, beta=beta, threshold=threshold)


# logsigmoid(x) = -softplus(-x) = min(x, 0) - log1p(e^-|x|); its derivative sigmoid(-x).
_LOGSIGMOID = defop("logsigmoid",
                    lambda xp, x: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))),
                    lambda xp, g, ans, x: g * xp.sigmoid(-x),
                    sample=s.unary((-4.0, 4.0, ())))


def logsigmoid(x: Any) -> Tensor:
    return _LOGSIGMOID(x)


# silu(x) = x sigmoid(x); silu' = s (1 + x (1 - s)) with s = sigmoid(x).
def _silu_grad(xp, g, ans, x):
    sg = xp.sigmoid(x)
    return g * sg * (1 + x * (1 - sg))


_SILU = defop("silu", lambda xp, x: x * NP.sigmoid(x), _silu_grad, sample=s.unary((-4.0, 4.0, ())))


def silu(x: Any) -> Tensor:
    return _SILU(x)


# mish(x) = x tanh(softplus(x)); mish' = t + x sigmoid(x) (1 - t^2) with t = tanh(softplus(x)).
def _mish_grad(xp, g, ans, x):
    t = xp.tanh(xp.softplus(x, beta=1.0, threshold=math.inf))
    return g * (t + x * xp.sigmoid(x) * (1 - t * t))


_MISH = defop("mish", lambda xp, x: x * np.tanh(_softplus(xp, x, 1.0, math.inf)), _mish_grad,
              sample=s.unary((-4.0, 4.0, ())))


def mish(x: Any) -> Tensor:
    return _MISH(x)


# gelu(x) = x Phi(x), Phi the standard normal cdf = erfc(-x / sqrt 2) / 2;
# gelu'(x) = Phi(x) + x phi(x). approximate='tanh': 0.5 x (1 + tanh(beta (x + kappa x^3))).
def _gelu(xp, x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(_GELU_BETA * (x + _GELU_KAPPA * (x * x * x))))
    return 0.5 * x * NP.erfc(-x * _SQRT1_2)


def _gelu_grad(xp, g, ans, x, approximate="none"):
    if approximate == "tanh":
        t = xp.tanh(_GELU_BETA * (x + _GELU_KAPPA * (x * x * x)))
        inner = _GELU_BETA * (1 + 3 * _GELU_KAPPA * (x * x))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner)
    return g * (0.5 * xp.erfc(-x * _SQRT1_2) + x * (_INV_SQRT_2PI * xp.exp(-0.5 * (x * x))))


_GELU = defop("gelu", _gelu, _gelu_grad,
              sample=lambda rng: ((s.values(rng, s.shape(rng), (-4.0, 4.0, ())),),
                                  _params(rng, approximate=("none", "tanh"))))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x Phi(x) with the exact normal cdf, or PyTorch's tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _GELU(x, approximate=approximate)


# softsign(x) = x / (1 + |x|); softsign' = 1 / (1 + |x|)^2, without the cancellation
# of the quotient rule's two terms far out.
_SOFTSIGN = defop("softsign", lambda xp, x: x / (1 + np.abs(x)),
                  lambda xp, g, ans, x: g / xp.square(1 + xp.abs(x)),
                  sample=s.unary(s.NONZERO))


def softsign(x: Any) -> Tensor:
    return _SOFTSIGN(x)


# -- normalising: softmax and log_softmax over an axis -----------------------------
# numpy reduces a short contiguous axis slowly (max over the rows of a 1024 x 10
# array: 60 us); over a transposed copy (5 us) or as a product with ones (3 us)
# it is vectorised. Classifier logits are exactly that shape.
def _max_keep(x, axis):
    if x.ndim == 2 and axis in (1, -1) and x.shape[1] <= 32:
        return np.maximum.reduce(np.ascontiguousarray(x.T), axis=0)[:, None]
    return np.max(x, axis=axis, keepdims=True)


def _sum_keep(x, axis):
    if x.ndim == 2 and axis in (1, -1) and x.dtype.kind == "f":
        return row_sums(NP, x)[:, None]
    return np.sum(x, axis=axis, keepdims=True)


# softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m), m = max(x); backward: y (g - sum(g y)).
def _softmax(xp, x, axis=-1):
    if x.size == 0:  # an empty axis (or batch): an empty result, as PyTorch's
        return xp.zeros_like(x)
    e = x - _max_keep(x, axis)
    if e.ndim:
        np.exp(e, out=e)
    else:  # a 0-d input: numpy made e a scalar, which has no buffer to write into
        e = np.exp(e)
    e /= _sum_keep(e, axis)
    return e


# log_softmax(x) = x - m - log(sum e^(x - m)); backward: g - softmax * sum(g).
def _log_softmax(xp, x, axis=-1):
    if x.size == 0:
        return xp.zeros_like(x)
    z = x - _max_keep(x, axis)
    z -= np.log(_sum_keep(np.exp(z), axis))
    return z


def _sample_axis(rng):
    shape = s.shape(rng, 1)
    return (s.values(rng, shape, (-3.0, 3.0, ())),), {"axis": int(rng.integers(-len(shape),
                                                                              len(shape)))}


_SOFTMAX = defop("softmax", _softmax,
                 lambda xp, g, ans, x, axis=-1:
                     ans * (g - xp.sum(g * ans, axis=axis, keepdims=True)),
                 sample=_sample_axis)
_LOG_SOFTMAX = defop("log_softmax", _log_softmax,
                     lambda xp, g, ans, x, axis=-1:
                         g - xp.exp(ans) * xp.sum(g, axis=axis, keepdims=True),
                     sample=_sample_axis)


def _float_input(x: Any) -> Any:
    """x, or for integer or bool input its values in the default float32, the rule of
    the other activations (ag.exp of integers is float32): the fused forwards compute
    in place, in the input's dtype."""
    x = tensor_or_array(x)
    data = x.data if isinstance(x, Tensor) else x
    if data.dtype.kind in "biu":
        return data.astype(float_dtype(data))  # integer tensors carry no gradient
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
