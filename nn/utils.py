"""Gradient clipping and flat parameter vectors (torch.nn.utils' names and formulas)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from autograd_core.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0) -> float:
    """Scale all gradients together, in place, so their joint norm is at most max_norm.

    total = (sum_p ||grad_p||^norm_type)^(1/norm_type) (the max for norm_type=inf);
    grads are multiplied by max_norm / (total + 1e-6) when that is below 1.
    Returns total, the norm before clipping.
    """
    params = _with_grads(parameters)
    if not params:
        return 0.0
    norm_type = float(norm_type)
    grads = [p.grad.data for p in params]
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads)
        total = total ** (1.0 / norm_type)
    coef = float(max_norm) / (total + 1e-6)
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
    clip_value = float(clip_value)
    for p in _with_grads(parameters):
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
    data = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    start = 0
    for p in parameters:
        n = p.data.size
        if start + n > data.size:
            raise ValueError(f"vector of length {data.size} is too short for the parameters")
        p.data[...] = data[start:start + n].reshape(p.shape)
        start += n
    if start != data.size:
        raise ValueError(f"vector of length {data.size} does not match the parameters' "
                         f"total size {start}")
