"""Adam and AdamW: bias-corrected first and second moment estimates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, lerp_

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), PyTorch's formulation.

    With betas (beta1, beta2), weight decay lambda, m_0 = v_0 = 0, at step t with
    gradient g_t:

        g_t  <- g_t + lambda * theta_{t-1}        (coupled: decay enters the moments)
        m_t   = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t   = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        vmax_t = max(vmax_{t-1}, v_t)             (amsgrad; then v_t <- vmax_t below)
        theta_t = theta_{t-1} - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

    eps is added after the bias correction of v, as in PyTorch. With
    `decoupled_weight_decay=True` (what AdamW sets) the decay is instead applied
    to the parameter directly, theta_{t-1} <- theta_{t-1} * (1 - lr * lambda),
    and the gradient is left alone.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas) if isinstance(betas, (tuple, list)) else betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        self._check_numbers(group, "lr", "eps", "weight_decay")
        self._check_betas(group)
        for name in ("lr", "eps", "weight_decay"):
            if group[name] < 0:
                raise ValueError(f"Invalid {name} value: {group[name]}")
        beta1, beta2 = group["betas"]
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"Invalid betas: {group['betas']} (each must be in [0, 1))")

    def _init_state(self, param: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = param.__array_namespace__()
        state: dict[str, Any] = {
            "step": 0,
            "exp_avg": xp.zeros_like(param),
            "exp_avg_sq": xp.zeros_like(param),
        }
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(param)
        return state

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = param.__array_namespace__()
        lr, weight_decay, (beta1, beta2) = group["lr"], group["weight_decay"], group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = state["step"]
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param

        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            # The running maximum keeps the effective step size non-increasing.
            second = state["max_exp_avg_sq"]
            second[...] = xp.maximum(second, exp_avg_sq)
        else:
            second = exp_avg_sq

        step_size = lr / (1 - beta1**step)
        denom = xp.sqrt(second)
        denom /= (1 - beta2**step) ** 0.5
        denom += group["eps"]
        update = exp_avg / denom  # m_t / (sqrt(v_hat) + eps)
        update *= step_size
        param -= update


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    Each step first shrinks the parameter, then takes a plain Adam step:

        theta_{t-1} <- theta_{t-1} * (1 - lr * lambda)
        m_t   = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t   = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        theta_t = theta_{t-1} - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

    The gradient never sees lambda, so the decay is not rescaled by the adaptive
    denominator (unlike Adam's coupled weight_decay). Default lambda is 0.01.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)
