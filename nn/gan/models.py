"""The generator and the discriminator: plain MLPs of nn.Linear and activations.

Activations are passed as factories (`nn.ReLU`, or `lambda: nn.LeakyReLU(0.2)`)
because every hidden layer needs its own module instance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from autograd_core.tensor import Tensor

from ..activation import LeakyReLU, ReLU
from ..layers import Linear
from ..module import Module, Sequential

__all__ = ["Generator", "Discriminator", "mlp"]

Factory = Callable[[], Module]


def _leaky_relu_02() -> Module:
    """LeakyReLU(0.2), the usual GAN discriminator activation (DCGAN)."""
    return LeakyReLU(0.2)


def _make(factory: Factory, what: str) -> Module:
    # A Module instance is itself callable, so `activation=nn.ReLU()` would fail
    # later with a puzzling forward() error; say what is wanted instead.
    if isinstance(factory, Module):
        raise TypeError(f"{what} must be a factory such as nn.ReLU or "
                        f"lambda: nn.LeakyReLU(0.2), not the module instance {factory!r}")
    module = factory()
    if not isinstance(module, Module):
        raise TypeError(f"{what} factory returned {type(module).__name__}, not an nn.Module")
    return module


def mlp(sizes: Sequence[int], activation: Factory,
        out_activation: Factory | None = None) -> Sequential:
    """Linear layers of the given widths, `activation()` between them,
    `out_activation()` (if any) after the last."""
    layers: list[Module] = []
    for i in range(len(sizes) - 1):
        if i:
            layers.append(_make(activation, "activation"))
        layers.append(Linear(sizes[i], sizes[i + 1]))
    if out_activation is not None:
        layers.append(_make(out_activation, "out_activation"))
    return Sequential(*layers)


class Generator(Module):
    """Maps noise z of shape (n, latent_dim) to samples of shape (n, out_dim)."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128),
                 activation: Factory = ReLU, out_activation: Factory | None = None) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.out_dim = out_dim
        self.net = mlp([latent_dim, *hidden, out_dim], activation, out_activation)

    def forward(self, z: Any) -> Tensor:
        return self.net(z)


class Discriminator(Module):
    """Maps samples of shape (n, in_dim) to logits of shape (n, 1): no sigmoid here,
    the losses work on logits so they stay finite however confident D is."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (128, 128),
                 activation: Factory = _leaky_relu_02) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.net = mlp([in_dim, *hidden, 1], activation)

    def forward(self, x: Any) -> Tensor:
        return self.net(x)
