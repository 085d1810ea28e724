"""Learning-rate schedules, with PyTorch's semantics.

A scheduler rewrites `group['lr']` in its optimizer's param groups. Constructing
one records `group['initial_lr']` (the base rate) and performs the initial step, so
`last_epoch == 0` and the groups hold the epoch-0 rate. Call `scheduler.step()` once
per epoch, after `optimizer.step()`.

The epoch-based schedules update the current rate multiplicatively ("chainable"
form, exactly as PyTorch computes them), so two schedulers on one optimizer
compose; each class documents the closed form the rates follow.
"""

from __future__ import annotations

import math
import numbers
import types
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from autograd_core.tensor import Tensor

from .optimizer import Optimizer

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "ReduceLROnPlateau",
]


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_optimizer(owner: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: optimizer must be an Optimizer, "
                        f"got {type(optimizer).__name__}")


def _check_gamma(owner: str, gamma: Any) -> None:
    # gamma = 0 (drop the rate to zero) is unusual but legitimate; a negative or
    # non-finite gamma would flip or blow up the rate.
    if not _is_number(gamma):
        raise TypeError(f"{owner}: gamma must be a number, got {type(gamma).__name__}")
    if not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"{owner}: gamma must be a finite number >= 0, got {gamma!r}")


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_state_dict(owner: Any, state_dict: Any) -> None:
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"{type(owner).__name__}.load_state_dict: expected a dict (a scheduler "
            f"state_dict), got {type(state_dict).__name__}"
        )


class LRScheduler:
    """Base class: subclasses implement `get_lr()`, the rates for `self.last_epoch`."""

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(type(self).__name__, optimizer)
        if not (_is_int(last_epoch) and last_epoch >= -1):
            raise ValueError(
                f"{type(self).__name__}: last_epoch must be an integer >= -1, got {last_epoch!r}"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when "
                        "resuming a scheduler with last_epoch >= 0; load the optimizer's "
                        "state dict first"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and write the new rates into the optimizer."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates set by the most recent step, one per param group."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _check_state_dict(self, state_dict)
        self.__dict__.update(state_dict)


class LambdaLR(LRScheduler):
    """lr_t = base_lr * lr_lambda(t); one function, or a list with one per group."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("LambdaLR", optimizer)  # before its param_groups are read
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(
                    f"LambdaLR: Expected {n} lr_lambdas (one per param group), "
                    f"but got {len(lr_lambda)}"
                )
            for i, f in enumerate(lr_lambda):
                if not callable(f):
                    raise TypeError(
                        f"LambdaLR: lr_lambda[{i}] must be a function, got {type(f).__name__}"
                    )
            self.lr_lambdas = list(lr_lambda)
        else:
            if not callable(lr_lambda):
                raise TypeError(
                    "LambdaLR: lr_lambda must be a function (or a list of them), "
                    f"got {type(lr_lambda).__name__}"
                )
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factors = [f(self.last_epoch) for f in self.lr_lambdas]
        if self._is_initial:  # checked once, on the first rate (computed at construction)
            for factor in factors:
                if not _is_number(factor):
                    raise TypeError(
                        f"LambdaLR: lr_lambda({self.last_epoch}) must return a number, "
                        f"got {type(factor).__name__}"
                    )
        return [base * x for x, base in zip(factors, self.base_lrs, strict=True)]

    def state_dict(self) -> dict[str, Any]:
        # Plain functions are not saved; a callable object's attributes are.
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(f, types.FunctionType) else dict(f.__dict__) for f in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _check_state_dict(self, state_dict)
        state = dict(state_dict)
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for f, attrs in zip(self.lr_lambdas, saved, strict=True):
            if attrs is not None:
                f.__dict__.update(attrs)


class StepLR(LRScheduler):
    """lr_t = base_lr * gamma ** (t // step_size)."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if not (isinstance(step_size, numbers.Integral) and step_size > 0):
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        _check_gamma("StepLR", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """lr_t = base_lr * gamma ** (number of milestones <= t); repeats count twice."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
            raise TypeError(
                f"MultiStepLR: milestones must be a list of epoch numbers, got {milestones!r}"
            )
        milestones = list(milestones)
        bad = [m for m in milestones if not _is_int(m)]
        if bad:
            raise TypeError(
                f"MultiStepLR: milestones must be integer epoch numbers, got {bad[0]!r} "
                f"in {milestones!r}"
            )
        _check_gamma("MultiStepLR", gamma)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """lr_t = base_lr * gamma ** t."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_gamma("ExponentialLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing (SGDR without restarts; Loshchilov & Hutter, 2017).

        lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    computed, like PyTorch, as the ratio of consecutive values of that curve times
    the current rate, so it composes with other schedulers; past T_max the rate
    rises again along the same cosine.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if not (_is_int(T_max) and T_max > 0):
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive integer, got {T_max!r}")
        if not _is_number(eta_min):
            raise TypeError(
                f"CosineAnnealingLR: eta_min must be a number, got {type(eta_min).__name__}"
            )
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:
            # Resumed at epoch t: no previous rate to scale, use the closed form.
            return [
                eta_min + (b - eta_min) * (1 + math.cos(t * math.pi / T)) / 2 for b in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:
            # The curve is at its minimum, where the ratio below would divide by zero.
            return [
                lr + (b - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for lr, b in zip(self._current_lrs(), self.base_lrs, strict=True)
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]


def _one_number(metrics: Any) -> float:
    """metrics (a number, or a one-element array or Tensor) as a Python float."""
    data = metrics.data if isinstance(metrics, Tensor) else metrics
    try:
        if isinstance(data, (str, bytes)):  # np.asarray would parse "0.5"
            raise TypeError
        values = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"ReduceLROnPlateau.step: metrics must be one number, "
                        f"got {type(metrics).__name__}") from None
    if values.size != 1:
        got = (f"a {type(metrics).__name__} of {values.size}"
               if isinstance(metrics, (list, tuple)) else f"shape {values.shape}")
        raise ValueError(f"ReduceLROnPlateau.step: metrics must be one number, got {got}")
    return float(values.reshape(()))


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by `factor` once the metric stops improving.

    `step(metric)` after each evaluation. A metric counts as better than the best
    so far if (mode 'min') metric < best * (1 - threshold) for threshold_mode
    'rel', or metric < best - threshold for 'abs' (mirrored for 'max'). After
    more than `patience` epochs without improvement, each group's rate becomes
    max(lr * factor, min_lr), unless that changes it by eps or less; then
    `cooldown` epochs pass during which bad epochs are not counted.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        # Not LRScheduler.__init__: there is no initial step and no initial_lr.
        _check_optimizer("ReduceLROnPlateau", optimizer)
        if not _is_number(factor):
            raise TypeError(f"ReduceLROnPlateau: factor must be a number, got {factor!r}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: Factor should be < 1.0, got {factor!r}")
        if factor < 0:
            raise ValueError(f"ReduceLROnPlateau: factor must be >= 0, got {factor!r}")
        for what, value in (("patience", patience), ("cooldown", cooldown)):
            if not (_is_int(value) and value >= 0):
                raise ValueError(
                    f"ReduceLROnPlateau: {what} must be a non-negative integer, got {value!r}"
                )
        self.optimizer = optimizer
        self.factor = factor
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(
                    f"ReduceLROnPlateau: expected {n} min_lrs (one per param group), "
                    f"got {len(min_lr)}"
                )
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode {mode!r} is unknown; use 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown; "
                "use 'rel' or 'abs'"
            )
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics: float) -> None:  # type: ignore[override]
        current = _one_number(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"the optimizer has {len(groups)} param groups but min_lr lists "
                    f"{len(self.min_lrs)}; update scheduler.min_lrs after add_param_group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _check_state_dict(self, state_dict)
        self.__dict__.update(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
