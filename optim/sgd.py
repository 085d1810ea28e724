"""Stochastic gradient descent, with momentum, dampening and Nesterov momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .fused import axpy, use_blas
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's formulation).

    With learning rate lr, momentum mu, dampening tau, weight decay lambda, at
    step t with gradient g_t of parameter theta:

        g_t  <- g_t + lambda * theta_{t-1}                   (if lambda != 0)
        b_1   = g_1                                          (if mu != 0)
        b_t   = mu * b_{t-1} + (1 - tau) * g_t               (t > 1)
        g_t  <- g_t + mu * b_t   if nesterov,   else  g_t <- b_t
        theta_t = theta_{t-1} - lr * g_t

    The momentum buffer starts at the first gradient, not at zero, so dampening
    does not shrink the first step. Nesterov needs mu > 0 and tau = 0.

    fused: each update above is one BLAS axpy, as PyTorch's add_ with alpha,
    through SciPy: one pass over memory instead of numpy's temporary, each
    element rounded once or twice as the BLAS kernel does it (optim/fused.py),
    so within a rounding of PyTorch's updates. None (the default) uses it when
    SciPy is installed; False always uses numpy's two passes (a temporary,
    two roundings); True insists on SciPy.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)
        self.fused = use_blas(fused, "SGD")

    def _validate(self, group: dict[str, Any]) -> None:
        self._check_numbers(group, "lr", "momentum", "dampening", "weight_decay")
        if group["lr"] < 0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if group["momentum"] < 0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["weight_decay"] < 0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        # The buffer is created from the first gradient in _update.
        return {}

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        # Each step is one of PyTorch's add_(x, alpha=a): a fused multiply-add (see fused.py).
        fused = self.fused
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = _plus(grad, weight_decay, param, fused)  # new: p.grad stays untouched
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=param.dtype)
            else:
                buf *= momentum
                axpy(1 - group["dampening"], grad, buf, fused)
            grad = _plus(grad, momentum, buf, fused) if group["nesterov"] else buf
        axpy(-lr, grad, param, fused)


def _plus(x: np.ndarray, a: float, y: np.ndarray, fused: bool) -> np.ndarray:
    """x + a * y, as a new array."""
    out = np.array(x, dtype=np.result_type(x, y))
    axpy(a, y, out, fused)
    return out
