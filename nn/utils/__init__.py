"""Gradient clipping and flat parameter vectors (torch.nn.utils' names and formulas)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from autograd_core.tensor import Tensor

from ..module import Module
from . import data  # nn.utils.data, as torch.utils.data

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def _with_grads(fn: str, parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The tensors that have a grad; a TypeError naming fn for anything but tensors."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    elif isinstance(parameters, Module):
        raise TypeError(f"{fn}: expected parameters, got a {type(parameters).__name__} "
                        f"module; pass model.parameters()")
    elif not isinstance(parameters, Iterable):
        raise TypeError(f"{fn}: expected a Tensor or an iterable of them (model.parameters()), "
                        f"got {type(parameters).__name__}")
    params = []
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: expected Tensors (model.parameters()), got an item of "
                            f"type {type(p).__name__}")
        if p.grad is not None:
            params.append(p)
    return params


def _number(fn: str, name: str, value: float, positive: bool = False) -> float:
    """float(value) if it is >= 0 (> 0 if positive; inf and 'inf' count), else a
    ValueError naming fn and the argument."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if not (x > 0 or x == 0 and not positive):
        what = "a positive number or inf" if positive else "a non-negative number"
        raise ValueError(f"{fn}: {name} must be {what}, got {value!r}")
    return x


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0) -> float:
    """Scale all gradients together, in place, so their joint norm is at most max_norm.

    total = (sum_p ||grad_p||^norm_type)^(1/norm_type) (the max for norm_type=inf);
    grads are multiplied by max_norm / (total + 1e-6) when that is below 1.
    Returns total, the norm before clipping.
    """
    max_norm = _number("clip_grad_norm_", "max_norm", max_norm)
    norm_type = _number("clip_grad_norm_", "norm_type", norm_type, positive=True)
    params = _with_grads("clip_grad_norm_", parameters)
    if not params:
        return 0.0
    grads = [p.grad.data for p in params]
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads)
        total = total ** (1.0 / norm_type)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            g = p.grad.data
            if g.flags.writeable:
                g *= coef  # in place: the grad arrays keep their identity
            else:
                p.grad = Tensor(g * np.asarray(coef, g.dtype))
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element, in place, to [-clip_value, clip_value]."""
    clip_value = _number("clip_grad_value_", "clip_value", clip_value)
    for p in _with_grads("clip_grad_value_", parameters):
        g = p.grad.data
        if g.flags.writeable:
            np.clip(g, -clip_value, clip_value, out=g)
        else:
            p.grad = Tensor(np.clip(g, -clip_value, clip_value))


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one (detached) vector."""
    return Tensor(np.concatenate([np.ravel(p.data) for p in parameters]))


def vector_to_parameters(vec: Tensor | np.ndarray, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of vec into the parameters, in place."""
    flat = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    start = 0
    for p in parameters:
        n = p.data.size
        if start + n > flat.size:
            raise ValueError(f"vector of length {flat.size} is too short for the parameters")
        p.data[...] = flat[start:start + n].reshape(p.shape)
        start += n
    if start != flat.size:
        raise ValueError(f"vector of length {flat.size} does not match the parameters' "
                         f"total size {start}")
