"""Normalisations over groups, instances and root-mean-squares, and vector normalising.

All composites of registered ops (mean, sqrt, norm, clip, ...), PyTorch's formulas
and defaults; the gradient checks cover each through its registration below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import sampling as s
from autograd_core.registry import OP, defcomposite
from autograd_core.tensor import Tensor

from ._constants import axis_of, data_of, float_dtype_of
from .layers import _normalize

__all__ = ["group_norm", "instance_norm", "rms_norm", "normalize", "cosine_similarity"]


def _shape(x: Any) -> tuple:
    return tuple(data_of(x).shape) if hasattr(data_of(x), "shape") else np.shape(x)


def _per_channel(name: str, what: str, a: Any, c: int, shape: tuple) -> None:
    if a is not None and _shape(a) != (c,):
        raise ValueError(f"{name}: {what} must have shape ({c},) for the {c} channels of "
                         f"input {shape}, got {_shape(a)}")


def _affine(y: Tensor, weight: Any, bias: Any, ndim: int) -> Tensor:
    """y * weight + bias, per channel (axis 1)."""
    bshape = (-1,) + (1,) * (ndim - 2)
    if weight is not None:
        y = y * OP.reshape(weight, shape=bshape)
    if bias is not None:
        y = y + OP.reshape(bias, shape=bshape)
    return y


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's group_norm: the C channels of input (N, C, *) split into num_groups
    groups, each normalised over its channels and every spatial position with the
    biased variance, (x - mean) / sqrt(var + eps); then weight and bias (C,) per
    channel."""
    shape = _shape(input)
    if len(shape) < 2 or not isinstance(num_groups, (int, np.integer)) or num_groups < 1 \
            or shape[1] % num_groups:
        raise ValueError(f"group_norm: expects input (N, C, *) with C divisible by "
                         f"num_groups = {num_groups}, got shape {shape}")
    _per_channel("group_norm", "weight", weight, shape[1], shape)
    _per_channel("group_norm", "bias", bias, shape[1], shape)
    grouped = OP.reshape(input, shape=(shape[0], int(num_groups), -1))
    y = OP.reshape(_normalize(grouped, (2,), eps)[0], shape=shape)
    return _affine(y, weight, bias, len(shape))


def instance_norm(input: Any, running_mean: Any = None, running_var: Any = None,
                  weight: Any = None, bias: Any = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """PyTorch's instance_norm: each (sample, channel) of input (N, C, *) normalised
    over its spatial positions (biased variance); then weight and bias (C,).
    With running_mean / running_var (ndarrays, updated in place, as batch_norm):
    use_input_stats=True updates them with the batch's mean of each instance's mean
    and unbiased variance; use_input_stats=False normalises with them instead."""
    shape = _shape(input)
    if len(shape) < 3:
        raise ValueError(f"instance_norm: expects input (N, C, *) with at least one "
                         f"spatial axis, got shape {shape}")
    c = shape[1]
    for what, a in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _per_channel("instance_norm", what, a, c, shape)
    axes = tuple(range(2, len(shape)))
    if use_input_stats:
        n = int(np.prod(shape[2:]))
        if n <= 1:
            raise ValueError(f"instance_norm: expected more than 1 spatial element when "
                             f"training, got input of shape {shape}")
        y, mean, var = _normalize(input, axes, eps)
        if running_mean is not None:
            m = np.asarray(data_of(mean)).reshape(shape[0], c).mean(axis=0)
            running_mean *= 1 - momentum
            running_mean += momentum * m
        if running_var is not None:
            v = np.asarray(data_of(var)).reshape(shape[0], c).mean(axis=0) * (n / (n - 1))
            running_var *= 1 - momentum
            running_var += momentum * v
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        dtype = float_dtype_of(input)
        bshape = (c,) + (1,) * len(axes)
        mean = np.asarray(running_mean, dtype).reshape(bshape)
        inv = (1.0 / np.sqrt(np.asarray(running_var, dtype) + eps)).astype(dtype)
        y = (input - mean) * inv.reshape(bshape)
    return _affine(y, weight, bias, len(shape))


def rms_norm(input: Any, normalized_shape: int | tuple, weight: Any = None,
             eps: float | None = None) -> Tensor:
    """PyTorch's rms_norm: x / sqrt(mean(x^2) + eps) over the trailing
    normalized_shape axes, times weight (normalized_shape). eps None is the
    machine epsilon of x's dtype (torch.finfo(dtype).eps)."""
    norm = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    shape = _shape(input)
    if not norm or tuple(shape[len(shape) - len(norm):]) != norm or len(norm) > len(shape):
        raise ValueError(f"rms_norm: input shape {shape} does not end with the normalized "
                         f"shape {norm}")
    if weight is not None and _shape(weight) != norm:
        raise ValueError(f"rms_norm: weight must have the normalized shape {norm}, got "
                         f"{_shape(weight)}")
    if eps is None:
        eps = float(np.finfo(float_dtype_of(input)).eps)
    axes = tuple(range(-len(norm), 0))
    y = input * (1.0 / OP.sqrt(OP.mean(input * input, axis=axes, keepdims=True) + eps))
    return y if weight is None else y * weight


def _p_norm(x: Any, p: float, axis: int) -> Tensor:
    """The p-norm along axis, kept: 2 through `norm` (gradient 0 at 0), 1 the sum of
    |x|, inf the largest |x|, others (sum |x|^p)^(1/p)."""
    if p == 2:
        return OP.norm(x, axis=axis, keepdims=True)
    if p == 1:
        return OP.sum(OP.abs(x), axis=axis, keepdims=True)
    if p == np.inf:
        return OP.max(OP.abs(x), axis=axis, keepdims=True)
    if not p > 0:
        raise ValueError(f"normalize: p must be positive, got {p}")
    return OP.sum(OP.abs(x) ** p, axis=axis, keepdims=True) ** (1.0 / p)


def normalize(input: Any, p: float = 2.0, axis: int | None = None, eps: float = 1e-12,
              *, dim: int | None = None) -> Tensor:
    """PyTorch's normalize: x / max(||x||_p, eps) along axis (default 1; `dim` is
    PyTorch's name). The gradient passes through the norm where it is >= eps, as
    PyTorch's clamp_min."""
    axis = axis_of("normalize", axis, dim, 1)
    shape = _shape(input)
    if not -len(shape) <= axis < max(len(shape), 1):
        raise ValueError(f"normalize: axis {axis} is out of range for input of shape {shape}")
    denom = OP.clip(_p_norm(input, float(p), axis), a_min=eps)
    return input / denom


def cosine_similarity(x1: Any, x2: Any, axis: int | None = None, eps: float = 1e-8, *,
                      dim: int | None = None) -> Tensor:
    """PyTorch 2.x's cosine_similarity along axis (default 1): each input divided by
    its 2-norm clamped below at eps, then the dot product, sum(x1/|x1| * x2/|x2|).
    As in PyTorch the clamp passes no gradient of its own (the norm's gradient flows
    as if unclamped), and the inputs broadcast against each other first."""
    axis = axis_of("cosine_similarity", axis, dim, 1)
    s1, s2 = _shape(x1), _shape(x2)
    try:
        full = np.broadcast_shapes(s1, s2)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {s1} and {s2} do not broadcast") from None
    if not -len(full) <= axis < max(len(full), 1):
        raise ValueError(f"cosine_similarity: axis {axis} is out of range for shapes {s1} "
                         f"and {s2}")
    if s1 != full:
        x1 = OP.broadcast_to(x1, shape=full)
    if s2 != full:
        x2 = OP.broadcast_to(x2, shape=full)

    def clamped_norm(x):
        n = OP.norm(x, axis=axis, keepdims=True)
        # max(n, eps) in value; n's gradient (PyTorch clamps in place under no_grad)
        return n + (OP.clip(n, a_min=eps) - n).detach()

    return OP.sum((x1 / clamped_norm(x1)) * (x2 / clamped_norm(x2)), axis=axis)


# -- registered for the gradient checks ---------------------------------------------------
def _sample_group_norm(rng):
    g = int(rng.integers(1, 3))
    shape = (int(rng.integers(1, 3)), g * int(rng.integers(1, 3))) + s.shape(rng, 1, 2, 3)
    if int(np.prod(shape[1:])) // g < 2:
        shape = shape[:2] + (3,) + shape[3:]
    c = shape[1]
    return (s.values(rng, shape), g, s.values(rng, (c,)), s.values(rng, (c,))), {}


def _instance_norm_case(x, weight=None, bias=None):
    return instance_norm(x, None, None, weight, bias)


def _sample_instance_affine(rng):
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(2, 5))) \
        + s.shape(rng, 0, 1, 3)
    x, c = s.values(rng, shape), shape[1]
    return (x, s.values(rng, (c,)), s.values(rng, (c,))), {}


def _sample_rms_norm(rng):
    shape = s.shape(rng, 1, 3)
    k = int(rng.integers(1, len(shape) + 1))
    norm = shape[-k:]
    weight = s.values(rng, norm) if rng.random() < 0.7 else None
    return (s.values(rng, shape), weight), {"normalized_shape": norm, "eps": 1e-5}


def _rms_norm_case(x, weight, normalized_shape, eps):
    return rms_norm(x, normalized_shape, weight, eps)


def _sample_normalize(rng):
    shape = s.shape(rng, 1, 3)
    p = float(rng.choice([1.0, 2.0, 3.0]))
    return (s.values(rng, shape, s.NONZERO),), \
        {"p": p, "axis": int(rng.integers(-len(shape), len(shape)))}


def _sample_cosine(rng):
    full = s.shape(rng, 1, 3)
    return (s.values(rng, full), s.values(rng, s.broadcastable(rng, full) or full[-1:])), \
        {"axis": -1}


defcomposite("group_norm", group_norm, sample=_sample_group_norm)
defcomposite("instance_norm", _instance_norm_case, sample=_sample_instance_affine)
defcomposite("rms_norm", _rms_norm_case, sample=_sample_rms_norm)
defcomposite("normalize", normalize, sample=_sample_normalize)
defcomposite("cosine_similarity", cosine_similarity, sample=_sample_cosine)
