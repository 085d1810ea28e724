"""The generator and the discriminator: plain MLPs of nn.Linear and activations.

Activations are passed as factories (`nn.ReLU`, or `lambda: nn.LeakyReLU(0.2)`)
because every hidden layer needs its own module instance.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterable, Sequence
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


_WANT = "must make a module, such as nn.ReLU or lambda: nn.LeakyReLU(0.2)"


def _describe(obj: Any) -> str:
    if inspect.isroutine(obj):
        return f"the function {getattr(obj, '__name__', repr(obj))}"
    return f"{type(obj).__name__} {obj!r}"


def _make(factory: Factory, what: str) -> Module:
    # A Module instance is itself callable, so `activation=nn.ReLU()` would fail
    # later with a puzzling forward() error; say what is wanted instead.
    if isinstance(factory, Module):
        raise TypeError(f"{what} must be a factory such as nn.ReLU or "
                        f"lambda: nn.LeakyReLU(0.2), not the module instance {factory!r}")
    if not callable(factory):
        raise TypeError(f"{what} {_WANT}; got {_describe(factory)}")
    try:
        module = factory()
    except TypeError as err:
        # Typically a functional activation such as F.relu, which needs an input.
        if isinstance(factory, type):
            raise
        raise TypeError(f"{what} {_WANT}; got {_describe(factory)}, which failed when "
                        f"called with no arguments ({err})") from err
    if not isinstance(module, Module):
        raise TypeError(f"{what} {_WANT}; got {_describe(factory)}, which returned "
                        f"{type(module).__name__}, not an nn.Module")
    return module


def _is_width(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def _check_width(owner: str, name: str, value: Any) -> int:
    if not _is_width(value):
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _check_hidden(owner: str, hidden: Any) -> list[int]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Iterable):
        raise TypeError(f"{owner}: hidden must be a sequence of layer widths such as (128,), "
                        f"got {hidden!r}")
    hidden = list(hidden)
    for width in hidden:
        if not _is_width(width):
            raise ValueError(f"{owner}: hidden must hold positive integer layer widths, "
                             f"got {width!r} in {hidden!r}")
    return [int(w) for w in hidden]


def mlp(sizes: Sequence[int], activation: Factory,
        out_activation: Factory | None = None, *, name: str = "mlp") -> Sequential:
    """Linear layers of the given widths, `activation()` between them,
    `out_activation()` (if any) after the last. `name` starts any error message."""
    layers: list[Module] = []
    for i in range(len(sizes) - 1):
        if i:
            layers.append(_make(activation, f"{name}: activation"))
        layers.append(Linear(sizes[i], sizes[i + 1]))
    if out_activation is not None:
        layers.append(_make(out_activation, f"{name}: out_activation"))
    return Sequential(*layers)


class Generator(Module):
    """Maps noise z of shape (n, latent_dim) to samples of shape (n, out_dim)."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128),
                 activation: Factory = ReLU, out_activation: Factory | None = None) -> None:
        super().__init__()
        self.latent_dim = _check_width("Generator", "latent_dim", latent_dim)
        self.out_dim = _check_width("Generator", "out_dim", out_dim)
        hidden = _check_hidden("Generator", hidden)
        self.net = mlp([self.latent_dim, *hidden, self.out_dim], activation, out_activation,
                       name="Generator")

    def forward(self, z: Any) -> Tensor:
        return self.net(z)


class Discriminator(Module):
    """Maps samples of shape (n, in_dim) to logits of shape (n, 1): no sigmoid here,
    the losses work on logits so they stay finite however confident D is."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (128, 128),
                 activation: Factory = _leaky_relu_02) -> None:
        super().__init__()
        self.in_dim = _check_width("Discriminator", "in_dim", in_dim)
        hidden = _check_hidden("Discriminator", hidden)
        self.net = mlp([self.in_dim, *hidden, 1], activation, name="Discriminator")

    def forward(self, x: Any) -> Tensor:
        return self.net(x)
