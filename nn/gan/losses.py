"""The four GAN objectives, written on the discriminator's logits l, and the
WGAN-GP gradient penalty.

Every loss is computed from logits with stable forms (BCE-with-logits and
softplus go through -|l|), so logits of +-1e4 give finite losses and gradients.
Writing sigma = sigmoid and E for the batch mean:

    minimax         D: BCE(l_real, 1) + BCE(l_fake, 0)
                       = E[softplus(-l_real)] + E[softplus(l_fake)]
                    G: E[log(1 - sigma(l_fake))] = -E[softplus(l_fake)]
                       (saturates: its gradient -sigma(l_fake) vanishes exactly
                       when D rejects the fakes, early in training)
    non_saturating  D: as minimax
                    G: BCE(l_fake, 1) = E[softplus(-l_fake)]
    lsgan           D: 0.5 E[(l_real - 1)^2] + 0.5 E[l_fake^2]
                    G: 0.5 E[(l_fake - 1)^2]
    wgan_gp         D: E[l_fake] - E[l_real] + gp_weight * GP   (GP added by GAN)
                    G: -E[l_fake]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core.tensor import Tensor

from .. import functional as F

__all__ = ["GanLoss", "LOSSES", "get_loss", "gradient_penalty"]


def _bce(logits: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, np.full(logits.shape, target, logits.dtype))


def _bce_real(l_real: Tensor) -> Tensor:  # BCE(l, 1) = E[softplus(-l)]
    return _bce(l_real, 1.0)


def _bce_fake(l_fake: Tensor) -> Tensor:  # BCE(l, 0) = E[softplus(l)]
    return _bce(l_fake, 0.0)


def _minimax_g(l_fake: Tensor) -> Tensor:  # E[log(1 - sigma(l))] = -E[softplus(l)]
    return -ag.mean(F.softplus(l_fake))


def _ls_real(l_real: Tensor) -> Tensor:  # 0.5 E[(l - 1)^2]
    return 0.5 * ag.mean((l_real - 1.0) ** 2)


def _ls_fake(l_fake: Tensor) -> Tensor:  # 0.5 E[l^2]
    return 0.5 * ag.mean(l_fake ** 2)


def _wgan_real(l_real: Tensor) -> Tensor:  # -E[l]: the critic scores real data high
    return -ag.mean(l_real)


def _wgan_fake(l_fake: Tensor) -> Tensor:  # E[l]: and fakes low
    return ag.mean(l_fake)


@dataclass(frozen=True)
class GanLoss:
    """One objective: D's loss is `d_real(l_real) + d_fake(l_fake)`, G's is `g(l_fake)`.

    `probability` says how d_real/d_fake are reported: as the mean sigmoid
    probability (the BCE losses, whose D is a classifier) or as the mean raw
    score (lsgan's regression target, wgan's critic value).
    """

    name: str
    d_real: Callable[[Tensor], Tensor]
    d_fake: Callable[[Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    probability: bool
    gradient_penalty: bool = False

    def discriminator(self, l_real: Tensor, l_fake: Tensor) -> Tensor:
        return self.d_real(l_real) + self.d_fake(l_fake)

    def generator(self, l_fake: Tensor) -> Tensor:
        return self.g(l_fake)

    def score(self, logits: Tensor | np.ndarray) -> float:
        """Mean discriminator output as reported: sigmoid probability or raw score."""
        x = np.asarray(logits.data if isinstance(logits, Tensor) else logits, np.float64)
        if self.probability:
            x = 0.5 * (1.0 + np.tanh(0.5 * x))  # sigmoid, no overflow at any x
        return float(np.mean(x))


LOSSES: dict[str, GanLoss] = {
    "minimax": GanLoss("minimax", _bce_real, _bce_fake, _minimax_g, probability=True),
    "non_saturating": GanLoss("non_saturating", _bce_real, _bce_fake, _bce_real,
                              probability=True),
    "lsgan": GanLoss("lsgan", _ls_real, _ls_fake, _ls_real, probability=False),
    "wgan_gp": GanLoss("wgan_gp", _wgan_real, _wgan_fake, _wgan_real, probability=False,
                       gradient_penalty=True),
}


def get_loss(name: str | GanLoss) -> GanLoss:
    if isinstance(name, GanLoss):
        return name
    if name not in LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Any, fake: Any,
                     eps: np.ndarray | None = None) -> Tensor:
    """GP = E[(||grad_x D(x_hat)||_2 - 1)^2] on x_hat = eps real + (1 - eps) fake.

    eps ~ U(0, 1), one per sample, drawn from the library's seeded generator
    unless given. real and fake are constants here (their graphs are dropped);
    the gradient w.r.t. x_hat is built with create_graph=True, so the penalty
    is differentiable w.r.t. the critic's parameters through every layer.
    """
    real, fake = _array(real), _array(fake)
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real of shape {real.shape} and fake of shape "
                         f"{fake.shape} must have the same shape")
    n = real.shape[0]
    if eps is None:
        eps = ag.rand(n, *([1] * (real.ndim - 1)), dtype=real.dtype).data
    x_hat = ag.tensor(eps * real + (1 - eps) * fake, requires_grad=True)
    # Sum over the batch: sample i's output depends only on x_hat[i], so the
    # gradient of the sum holds every per-sample gradient in one backward pass.
    (grad,) = ag.gradients(ag.sum(critic(x_hat)), x_hat, create_graph=True)
    norms = ag.norm(ag.reshape(grad, (n, -1)), axis=1)
    return ag.mean((norms - 1.0) ** 2)
