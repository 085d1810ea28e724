"""GAN: alternating discriminator and generator updates.

Each step starts from clean gradients (both models' and both optimizers'
gradients are dropped first), so nothing computed in one step leaks into the
next. The discriminator step sees generator samples made under no_grad, so no
graph reaches G; the generator step freezes D's parameters, so D gets no
gradient (and the weight-gradient products for D are skipped).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import random as _random
from autograd_core.tensor import Tensor

from ..module import Module
from .losses import GanLoss, get_loss, gradient_penalty

__all__ = ["GAN", "progress_bar"]


def _dtype(module: Module) -> np.dtype:
    """The floating dtype of a module's parameters (float32 unless .double() was called)."""
    for p in module.parameters():
        if p.dtype.kind == "f":
            return p.dtype
    return np.dtype(np.float32)


@contextlib.contextmanager
def _frozen(module: Module) -> Iterator[None]:
    """Parameters of `module` stop requiring grad inside the block, then are restored."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class _NoBar:
    """Stands in for a tqdm bar when there is none: every call does nothing."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kw: Any) -> None:
        pass


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    """A tqdm bar (a context manager) when asked for and tqdm is installed, else a no-op."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return tqdm(total=total, desc=desc)
    return _NoBar()


class GAN:
    """Trains `generator` against `discriminator` with one of the losses of nn.gan.losses.

    `d_steps` discriminator steps (each with fresh noise, all on the same real
    batch) precede each generator step. `gp_weight` is wgan_gp's lambda.
    """

    def __init__(self, generator: Module, discriminator: Module, g_optimizer: Any,
                 d_optimizer: Any, loss: str | GanLoss = "non_saturating", d_steps: int = 1,
                 gp_weight: float = 10.0) -> None:
        if int(d_steps) != d_steps or d_steps < 1:
            raise ValueError(f"d_steps must be a positive integer, got {d_steps!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.loss = get_loss(loss)
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)

    # -- pieces -------------------------------------------------------------
    def noise(self, n: int) -> Tensor:
        """n standard normal latent vectors from the seeded generator (ag.manual_seed)."""
        return ag.randn(n, self.generator.latent_dim, dtype=_dtype(self.generator))

    def _real(self, batch: Any) -> np.ndarray:
        # Real data is a constant: take the array (dropping any graph), in D's dtype.
        data = batch.data if isinstance(batch, Tensor) else batch
        return np.asarray(data, dtype=_dtype(self.discriminator))

    def _zero_grads(self) -> None:
        for m in (self.generator, self.discriminator):
            m.zero_grad()
        for opt in (self.g_optimizer, self.d_optimizer):
            opt.zero_grad()

    # -- steps --------------------------------------------------------------
    def discriminator_step(self, real: np.ndarray) -> dict[str, float]:
        """One update of D on `real` and a fresh batch of fakes; G is not touched."""
        self._zero_grads()
        with ag.no_grad():  # fakes are constants for D: no graph back into G
            fake = self.generator(self.noise(len(real)))
        D = self.discriminator
        l_real, l_fake = D(ag.tensor(real)), D(fake)
        loss = self.loss.discriminator(l_real, l_fake)
        metrics = {}
        if self.loss.gradient_penalty:
            gp = gradient_penalty(D, real, fake)
            loss = loss + self.gp_weight * gp
            metrics["gp"] = gp.item()
        loss.backward()
        self.d_optimizer.step()
        return {"d_loss": loss.item(), "d_real": self.loss.score(l_real),
                "d_fake": self.loss.score(l_fake), **metrics}

    def generator_step(self, n: int) -> float:
        """One update of G on n fresh fakes; D's parameters are frozen and not touched."""
        self._zero_grads()
        with _frozen(self.discriminator):
            loss = self.loss.generator(self.discriminator(self.generator(self.noise(n))))
            loss.backward()
        self.g_optimizer.step()
        return loss.item()

    def train_step(self, real_batch: Any) -> dict[str, float]:
        """d_steps D updates, then one G update. Returns d_loss, d_real, d_fake (and gp
        for wgan_gp) of the last D update, and g_loss; all Python floats."""
        real = self._real(real_batch)
        for _ in range(self.d_steps):
            metrics = self.discriminator_step(real)
        metrics["g_loss"] = self.generator_step(len(real))
        return metrics

    def fit(self, data: Any, epochs: int, batch_size: int,
            progress: bool = True) -> list[dict[str, float]]:
        """Train for `epochs` passes over `data`, reshuffled each epoch with the seeded
        generator; the last batch of an epoch may be smaller. One dict per step."""
        data = self._real(data)
        n = len(data)
        history = []
        steps = epochs * math.ceil(n / batch_size)
        with progress_bar(steps, progress, f"GAN ({self.loss.name})") as bar:
            for _ in range(epochs):
                order = _random.RNG.permutation(n)
                for start in range(0, n, batch_size):
                    last = self.train_step(data[order[start:start + batch_size]])
                    history.append(last)
                    bar.set_postfix(d_loss=f"{last['d_loss']:.3f}",
                                    g_loss=f"{last['g_loss']:.3f}", refresh=False)
                    bar.update()
        return history

    def sample(self, n: int) -> Tensor:
        """n generator samples, shape (n, out_dim), built without a graph."""
        with ag.no_grad():
            return self.generator(self.noise(n))
