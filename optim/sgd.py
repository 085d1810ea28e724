"""Stochastic gradient descent, with momentum, dampening and Nesterov momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from autograd_core.backend import backend_of

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
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

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

    def _init_state(self, param: Any, group: dict[str, Any]) -> dict[str, Any]:
        # The buffer is created from the first gradient in _update.
        return {}

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        xp = backend_of(param).xp  # the library's names, and axpy: y += a * x in place
        if weight_decay != 0:
            grad = grad + weight_decay * param  # new: p.grad stays untouched
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = xp.asarray(grad, dtype=param.dtype, copy=True)
            else:
                buf *= momentum
                xp.axpy(1 - group["dampening"], grad, buf)
            grad = grad + momentum * buf if group["nesterov"] else buf
        xp.axpy(-lr, grad, param)
