"""Training diagnostics: gradient norms per layer, dead ReLU units, saturated
sigmoid/tanh units, on any model, through opt-in forward hooks.

    from nn.diagnostics import Monitor

    with Monitor(model) as mon:            # attach: hooks go on the activations
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            mon.step()                     # read .grad, close this step's record
            opt.step()
    print(mon.summary())                   # detached: the model has no hooks left

Nothing is registered on the model before `attach()` and `detach()` removes
every hook, so a model without a monitor runs exactly as before. Hooks read
`output.data` (an ndarray) and never build graph. What one record holds:

- grad_norm[param]: the 2-norm of each parameter's `.grad`.
- layer_grad_norm[module]: the 2-norm of all of one module's own gradients.
- speed[module]: the norm of a module's bias gradient, the "learning speed" of
  the layer in the study notes (Nielsen's measure of vanishing gradients).
- dead[module]: for ReLU-family modules, the fraction of units that were 0 for
  every sample seen during the step (their gradient is 0, they do not learn);
  sparsity[module]: the fraction of all outputs that were 0.
- saturated[module]: for Sigmoid/Tanh, the fraction of outputs in the flat
  tails (|tanh| > 0.99, sigmoid outside [0.01, 0.99]); mean_derivative[module]:
  the mean local derivative, y(1-y) for sigmoid, 1-y^2 for tanh.

A unit is one feature (axis 1) of the output: a neuron of a Linear layer, a
channel of a convolution; the batch and spatial axes are its samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .activation import ReLU, ReLU6, Sigmoid, Tanh
from .module import Module

__all__ = ["Monitor", "activation_stats"]

KINDS = ("grad_norm", "layer_grad_norm", "speed", "dead", "sparsity", "saturated",
         "mean_derivative")


@dataclass
class _Accumulator:
    """What the hooks of one module saw since the last step (summed over forwards)."""

    kind: str  # 'zero' (dead-unit watch), 'sigmoid' or 'tanh'
    alive: np.ndarray | None = None  # per unit: nonzero for at least one sample
    zeros: int = 0
    saturated: int = 0
    derivative: float = 0.0
    count: int = 0
    extra: dict = field(default_factory=dict)

    def add(self, y: np.ndarray, low: float, high: float, tanh_limit: float) -> None:
        # units along axis 1; everything else (batch, spatial) counts as samples
        units = np.moveaxis(y, 1, 0).reshape(y.shape[1], -1) if y.ndim > 1 else y[None]
        self.count += units.size
        if self.kind == "zero":
            nonzero = units != 0
            alive = nonzero.any(axis=1)
            self.alive = alive if self.alive is None else (self.alive | alive)
            self.zeros += int(units.size - np.count_nonzero(nonzero))
        elif self.kind == "sigmoid":
            self.saturated += int(np.count_nonzero((units < low) | (units > high)))
            self.derivative += float(np.sum(units * (1 - units)))  # sigma' = y(1-y)
        else:
            self.saturated += int(np.count_nonzero(np.abs(units) > tanh_limit))
            self.derivative += float(np.sum(1 - units * units))  # tanh' = 1-y^2

    def stats(self) -> dict[str, float]:
        if self.count == 0:
            return {}
        if self.kind == "zero":
            return {"dead": float(1 - self.alive.mean()), "sparsity": self.zeros / self.count}
        return {"saturated": self.saturated / self.count,
                "mean_derivative": self.derivative / self.count}


def activation_stats(y: Any, kind: str, sigmoid_band: tuple[float, float] = (0.01, 0.99),
                     tanh_limit: float = 0.99) -> dict[str, float]:
    """The statistics of one activation output: kind 'zero' gives dead and sparsity,
    'sigmoid' and 'tanh' give saturated and mean_derivative."""
    acc = _Accumulator(kind)
    acc.add(np.asarray(getattr(y, "data", y)), *sigmoid_band, tanh_limit)
    return acc.stats()


class Monitor:
    """Records per-step gradient norms and activation health of `model`.

    model: any nn.Module. zero_watch: module types (or dotted module names)
    whose zero outputs count as dead units, ReLU and ReLU6 by default.
    sigmoid_band: sigmoid outputs outside it are saturated. tanh_limit: |tanh|
    above it is saturated. training_only: ignore forwards made in eval mode
    (an accuracy pass over other data would otherwise mix into the step).
    """

    def __init__(self, model: Module, zero_watch: Iterable[type | str] = (ReLU, ReLU6),
                 sigmoid_band: tuple[float, float] = (0.01, 0.99), tanh_limit: float = 0.99,
                 training_only: bool = False) -> None:
        self.model = model
        self.zero_watch = tuple(zero_watch)
        self.sigmoid_band = sigmoid_band
        self.tanh_limit = tanh_limit
        self.training_only = training_only
        self.history: list[dict[str, Any]] = []
        self._handles: list[tuple[Module, Any, bool]] = []
        self._acc: dict[str, _Accumulator] = {}

    # -- attaching ----------------------------------------------------------
    def _kind(self, name: str, module: Module) -> str | None:
        types = tuple(t for t in self.zero_watch if isinstance(t, type))
        if isinstance(module, types) or name in self.zero_watch:
            return "zero"
        if isinstance(module, Sigmoid):
            return "sigmoid"
        if isinstance(module, Tanh):
            return "tanh"
        return None

    def attach(self) -> Monitor:
        """Register one forward hook on each watched activation module."""
        if self._handles:
            return self
        for name, module in self.model.named_modules():
            kind = self._kind(name, module)
            if kind is None:
                continue
            had_hooks = module._forward_hooks is not None
            self._acc[name] = _Accumulator(kind)
            handle = module.register_forward_hook(self._hook(name))
            self._handles.append((module, handle, had_hooks))
        return self

    def detach(self) -> None:
        """Remove every hook this monitor registered; the history stays."""
        for module, handle, had_hooks in self._handles:
            handle.remove()
            if not had_hooks and not module._forward_hooks:
                # back to the pristine state: Module.__call__ skips hooks at None
                object.__setattr__(module, "_forward_hooks", None)
        self._handles.clear()

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def __enter__(self) -> Monitor:
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def _hook(self, name: str):
        acc_of, band, limit = self._acc, self.sigmoid_band, self.tanh_limit

        def hook(module: Module, inputs: tuple, output: Any) -> None:
            if self.training_only and not module.training:
                return None
            y = getattr(output, "data", output)  # the ndarray: no graph is built here
            acc_of[name].add(np.asarray(y), *band, limit)
            return None

        return hook

    # -- recording ----------------------------------------------------------
    def collect(self) -> dict[str, dict[str, float]]:
        """Activation statistics since the last step (or collect), and reset them."""
        out: dict[str, dict[str, float]] = {}
        for name, acc in self._acc.items():
            for key, value in acc.stats().items():
                out.setdefault(key, {})[name] = value
            self._acc[name] = _Accumulator(acc.kind)
        return out

    def gradients(self) -> dict[str, dict[str, float]]:
        """Norms of the parameters' current `.grad` (absent gradients are skipped)."""
        grad_norm, layer_sq, speed = {}, {}, {}
        for mname, module in self.model.named_modules():
            for pname, p in module._parameters.items():
                if p is None or p.grad is None:
                    continue
                sq = float(np.sum(np.square(p.grad.data, dtype=np.float64)))
                grad_norm[f"{mname}.{pname}" if mname else pname] = sq ** 0.5
                layer_sq[mname] = layer_sq.get(mname, 0.0) + sq
                if pname == "bias":
                    speed[mname] = sq ** 0.5
        layer = {k: v ** 0.5 for k, v in layer_sq.items()}
        return {"grad_norm": grad_norm, "layer_grad_norm": layer, "speed": speed}

    def step(self, **extra: Any) -> dict[str, Any]:
        """Close one step: call after backward. Reads every `.grad`, takes the
        activation statistics gathered by the hooks, appends one record (with any
        `extra` values, say epoch=3 or loss=0.2) to `history` and returns it."""
        record: dict[str, Any] = {"step": len(self.history), **extra}
        record.update(self.gradients())
        record.update(self.collect())
        self.history.append(record)
        return record

    after_backward = step

    def series(self, kind: str, name: str) -> list[float]:
        """One quantity over the history: `series('speed', '0')`, nan where absent."""
        return [r.get(kind, {}).get(name, float("nan")) for r in self.history]

    # -- reporting ----------------------------------------------------------
    def summary(self, last: int = 1) -> str:
        """A markdown table, one row per module in `model.named_modules()` order, of
        the mean of the last `last` steps."""
        recent = self.history[-last:]
        if not recent:
            return "(no steps recorded)"
        kinds = [k for k in KINDS[1:] if any(r.get(k) for r in recent)]
        modules = dict(self.model.named_modules())
        layer = {n: i for i, n in enumerate(modules)}  # rows in the model's own order
        seen = dict.fromkeys(n for r in recent for k in kinds for n in r.get(k, {}))
        names = sorted(seen, key=lambda n: layer.get(n, len(layer)))
        head = "| module | type | " + " | ".join(kinds) + " |"
        lines = [head, "|" + "---|" * (len(kinds) + 2)]
        for n in names:
            cells = []
            for k in kinds:
                vals = [r[k][n] for r in recent if n in r.get(k, {})]
                cells.append(f"{np.mean(vals):.3g}" if vals else "")
            kind = type(modules[n]).__name__ if n in modules else "?"
            lines.append(f"| {n or '(model)'} | {kind} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_dot(self, loss: Any, **kwargs: Any):
        """The graph behind `loss` coloured by gradient norm (ag.viz.to_dot with
        show_grad=True). Call it before `loss.backward()`, or after a backward with
        retain_graph=True: the drawing needs the graph."""
        from autograd_core import viz

        return viz.to_dot(loss, model=self.model, show_grad=True, **kwargs)
