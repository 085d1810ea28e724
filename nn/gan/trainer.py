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
import numbers
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


def _is_count(x: Any, least: int) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) and x >= least


def _param_ids(optimizer: Any) -> set[int]:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


class GAN:
    """Trains `generator` against `discriminator` with one of the losses of nn.gan.losses.

    `d_steps` discriminator steps (each with fresh noise, all on the same real
    batch) precede each generator step. `gp_weight` is wgan_gp's lambda.
    """

    def __init__(self, generator: Module, discriminator: Module, g_optimizer: Any,
                 d_optimizer: Any, loss: str | GanLoss = "non_saturating", d_steps: int = 1,
                 gp_weight: float = 10.0) -> None:
        if not _is_count(d_steps, 1):
            raise ValueError(f"GAN: d_steps must be a positive integer, got {d_steps!r}")
        for name, model in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(model, Module):
                raise TypeError(f"GAN: {name} must be an nn.Module, got {type(model).__name__}")
        if not hasattr(generator, "latent_dim"):
            raise TypeError(f"GAN: the generator ({type(generator).__name__}) has no latent_dim "
                            "attribute, the width of the noise it takes")
        out_dim = getattr(generator, "out_dim", None)
        in_dim = getattr(discriminator, "in_dim", None)
        if out_dim is not None and in_dim is not None and out_dim != in_dim:
            raise ValueError(f"GAN: the generator makes {out_dim} features (out_dim) but the "
                             f"discriminator takes {in_dim} (in_dim)")
        self._check_optimizers(generator, discriminator, g_optimizer, d_optimizer)
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.loss = get_loss(loss)
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)

    @staticmethod
    def _check_optimizers(generator: Module, discriminator: Module, g_optimizer: Any,
                          d_optimizer: Any) -> None:
        models = {"g_optimizer": (generator, "generator"),
                  "d_optimizer": (discriminator, "discriminator")}
        for name, opt in (("g_optimizer", g_optimizer), ("d_optimizer", d_optimizer)):
            if not (callable(getattr(opt, "step", None))
                    and callable(getattr(opt, "zero_grad", None))):
                raise TypeError(f"GAN: {name} must be an optimizer (with step() and "
                                f"zero_grad()), got {type(opt).__name__}")
            if not hasattr(opt, "param_groups"):
                continue  # not an optim.Optimizer: nothing to compare
            model, what = models[name]
            own = {id(p) for p in model.parameters()}
            if own and not own & _param_ids(opt):
                other = discriminator if what == "generator" else generator
                hint = ""
                if {id(p) for p in other.parameters()} & _param_ids(opt):
                    hint = (" (it holds the other model's: are g_optimizer and d_optimizer "
                            "swapped? the order is GAN(G, D, g_optimizer, d_optimizer))")
                raise ValueError(f"GAN: {name} does not hold the {what}'s parameters{hint}")

    # -- pieces -------------------------------------------------------------
    def noise(self, n: int) -> Tensor:
        """n standard normal latent vectors from the seeded generator (ag.manual_seed)."""
        return ag.randn(n, self.generator.latent_dim, dtype=_dtype(self.generator))

    def _real(self, batch: Any, where: str = "GAN.train_step") -> np.ndarray:
        # Real data is a constant: take the array (dropping any graph), in D's dtype.
        data = batch.data if isinstance(batch, Tensor) else batch
        try:
            real = np.asarray(data, dtype=_dtype(self.discriminator))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{where}: the real batch must be an array of numbers of shape "
                            f"(n, features), got {type(batch).__name__} ({err})") from None
        if real.ndim != 2:
            raise ValueError(f"{where}: the real batch must be 2-D (n, features), got shape "
                             f"{real.shape}")
        in_dim = getattr(self.discriminator, "in_dim", None)
        if in_dim is not None and real.shape[1] != in_dim:
            raise ValueError(f"{where}: the real batch of shape {real.shape} has "
                             f"{real.shape[1]} features, the discriminator takes {in_dim}")
        if len(real) == 0:
            raise ValueError(f"{where}: the real batch is empty (shape {real.shape})")
        return real

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
        if not _is_count(epochs, 0):
            raise ValueError(f"GAN.fit: epochs must be a non-negative integer, got {epochs!r}")
        if not _is_count(batch_size, 1):
            raise ValueError(f"GAN.fit: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        data = self._real(data, "GAN.fit")
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
        if not _is_count(n, 0):
            raise ValueError(f"GAN.sample: n must be a non-negative integer, got {n!r}")
        with ag.no_grad():
            return self.generator(self.noise(n))
