"""Per-coordinate adaptive step sizes: Adagrad, Adadelta and RMSprop."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, lerp_

__all__ = ["Adagrad", "Adadelta", "RMSprop"]


def _check_nonnegative(opt: Optimizer, group: dict[str, Any], *names: str) -> None:
    opt._check_numbers(group, *names)
    for name in names:
        if group[name] < 0:
            raise ValueError(f"Invalid {name} value: {group[name]}")


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), PyTorch's formulation.

    With learning rate lr, learning-rate decay eta, weight decay lambda, the sum
    s_0 = initial_accumulator_value, at step t with gradient g_t:

        g_t  <- g_t + lambda * theta_{t-1}                   (if lambda != 0)
        lr_t  = lr / (1 + (t - 1) * eta)
        s_t   = s_{t-1} + g_t^2
        theta_t = theta_{t-1} - lr_t * g_t / (sqrt(s_t) + eps)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        _check_nonnegative(
            self, group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"
        )

    def _init_state(self, param: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = param.__array_namespace__()
        return {"step": 0, "sum": xp.full_like(param, group["initial_accumulator_value"])}

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = param.__array_namespace__()
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        std = xp.sqrt(state["sum"])
        std += group["eps"]
        update = grad / std  # g / (sqrt(s) + eps)
        update *= clr
        param -= update


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), PyTorch's formulation.

    With decay rho, weight decay lambda, running averages v_0 = u_0 = 0, at step t
    with gradient g_t:

        g_t  <- g_t + lambda * theta_{t-1}                   (if lambda != 0)
        v_t   = rho * v_{t-1} + (1 - rho) * g_t^2
        dx_t  = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
        u_t   = rho * u_{t-1} + (1 - rho) * dx_t^2
        theta_t = theta_{t-1} - lr * dx_t

    (v is state['square_avg'], u is state['acc_delta']; lr scales the step and is
    1.0 in the original method.)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
    ) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _validate(self, group: dict[str, Any]) -> None:
        _check_nonnegative(self, group, "lr", "eps", "weight_decay")
        self._check_numbers(group, "rho")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")

    def _init_state(self, param: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = param.__array_namespace__()
        return {"step": 0, "square_avg": xp.zeros_like(param), "acc_delta": xp.zeros_like(param)}

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = param.__array_namespace__()
        rho, eps = group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        std = xp.sqrt(square_avg + eps)
        delta = xp.sqrt(acc_delta + eps)
        delta /= std
        delta *= grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        delta *= group["lr"]
        param -= delta


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, 2012), PyTorch's formulation.

    With smoothing alpha, weight decay lambda, momentum mu, v_0 = m_0 = b_0 = 0,
    at step t with gradient g_t:

        g_t  <- g_t + lambda * theta_{t-1}                   (if lambda != 0)
        v_t   = alpha * v_{t-1} + (1 - alpha) * g_t^2
        m_t   = alpha * m_{t-1} + (1 - alpha) * g_t          (if centered)
        d_t   = sqrt(v_t - m_t^2) + eps   if centered,   else  sqrt(v_t) + eps
        b_t   = mu * b_{t-1} + g_t / d_t                     (if mu > 0)
        theta_t = theta_{t-1} - lr * b_t   if mu > 0,   else  theta_{t-1} - lr * g_t / d_t

    Note eps is added outside the square root, and the momentum buffer holds the
    normalised gradient (lr is applied afterwards).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        _check_nonnegative(self, group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _init_state(self, param: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = param.__array_namespace__()
        state: dict[str, Any] = {"step": 0, "square_avg": xp.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(param)
        return state

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = param.__array_namespace__()
        alpha, square_avg = group["alpha"], state["square_avg"]
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = lerp_(state["grad_avg"], grad, 1 - alpha)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += group["eps"]
        avg = grad / avg  # g / d
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += avg
            param -= group["lr"] * buf
        else:
            avg *= group["lr"]
            param -= avg
