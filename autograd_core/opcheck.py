"""Gradient checks of registered ops and of user functions, as table rows.

One machinery for the tests, `autograd-core gradcheck` and the demo: a
registry entry becomes a function of float64 inputs drawn from the op's own
sampler (its domain, away from its kinks), which `gradcheck.check` compares
with central differences, to first or second order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .backend import to_numpy
from .creation import as_tensor
from .gradcheck import Report, check, grad_function
from .registry import COMPOSITES, REGISTRY, Op
from .tensor import Tensor, _make
from .transforms import gradients


def all_names() -> list[str]:
    """Every checkable name: registry ops, then composites (nn's too, if importable)."""
    try:
        import nn.functional  # noqa: F401  (registers the nn ops too)
    except ImportError:
        pass
    return sorted(REGISTRY) + sorted(COMPOSITES)


def case(name: str, seed: int) -> tuple[Callable, list, Op | None]:
    """(fn, inputs, op-or-None): fn maps the float inputs to the op's output(s)."""
    rng = np.random.default_rng(seed)
    if name in REGISTRY:
        op = REGISTRY[name]
        args, params = op.sample(rng)
        call = op
    elif name in COMPOSITES:
        op = None
        call, sample = COMPOSITES[name]
        args, params = sample(rng)
    else:
        raise KeyError(name)
    inputs = [_make(np.array(a, np.float64), None).requires_grad_()
              if np.asarray(a).dtype.kind == "f" else a for a in args]
    return (lambda *xs: call(*xs, **params)), inputs, op


@dataclass
class Result:
    """One row of the table: one function checked to one order."""

    name: str
    shapes: list[tuple[int, ...]]
    order: int
    mode: str
    max_abs_error: float
    max_rel_error: float
    ok: bool
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types: shapes as lists, a NaN error (a crashed check) as None."""
        d = asdict(self)
        d["shapes"] = [list(s) for s in self.shapes]
        for key in ("max_abs_error", "max_rel_error"):
            d[key] = d[key] if math.isfinite(d[key]) else None
        return d


def move_arrays(value: Any, to: Callable) -> Any:
    """A sample's arrays (inside tuples, lists and dicts too) moved by `to` (onto
    another backend, say); everything else as it is."""
    if isinstance(value, (np.ndarray, np.generic)):
        return to(np.asarray(value))
    if isinstance(value, dict):
        return {k: move_arrays(v, to) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(move_arrays(v, to) for v in value)
    if isinstance(value, list) and any(isinstance(v, np.ndarray) for v in value):
        return [move_arrays(v, to) for v in value]
    return value


def run_on(name: str, seed: int, to: Callable, dtype: str = "float64") -> dict:
    """One sample of an op or composite with its arrays moved by `to` (onto another
    backend, say) and its float inputs in `dtype`: the forward values, every input's
    gradient for a fixed random upstream gradient, and the gradients of those against
    fixed random weights (second order), as numpy arrays (None: no gradient)."""
    rng = np.random.default_rng(seed)
    if name in REGISTRY:
        call = REGISTRY[name]
        args, params = call.sample(rng)
    else:
        call, sample = COMPOSITES[name]
        args, params = sample(rng)
    inputs, wrt = [], []
    for a in args:
        if isinstance(a, np.generic):
            a = np.asarray(a)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" or isinstance(a, float):
            t = as_tensor(to(np.array(a, dtype))).requires_grad_()
            inputs.append(t)
            wrt.append(t)
        elif isinstance(a, np.ndarray):
            inputs.append(as_tensor(to(a)))
        else:
            inputs.append(a)
    out = call(*inputs, **move_arrays(params, to))
    out = [out] if isinstance(out, Tensor) else list(out)
    result = {"forward": [to_numpy(o.data) for o in out], "first": [], "second": []}
    live = [o for o in out if o.requires_grad]
    if not live or not wrt:
        return result
    rng = np.random.default_rng(seed + 1000)
    ups = [as_tensor(to(rng.standard_normal(o.shape).astype(dtype))) for o in live]
    first = gradients(live, wrt, ups, create_graph=True, allow_unused=True)
    result["first"] = [None if g is None else to_numpy(g.data) for g in first]
    again = [g for g in first if g is not None and g.requires_grad]
    if again:
        weights = [as_tensor(to(rng.standard_normal(g.shape).astype(dtype))) for g in again]
        total = sum((g * w).sum() for g, w in zip(again, weights, strict=True))
        second = gradients(total, wrt, allow_unused=True)
        result["second"] = [None if g is None else to_numpy(g.data) for g in second]
    return result


def _checked_shapes(inputs: Sequence) -> list[tuple[int, ...]]:
    return [tuple(x.shape) for x in inputs if isinstance(x, Tensor) and x.requires_grad]


def _second_derivative_is_zero(fn: Callable, inputs: list, seed: int) -> Report:
    """For piecewise-linear ops: away from kinks every second derivative is exactly 0."""
    report = Report(mode="second derivative is zero")
    first, inputs = grad_function(fn, inputs, seed=seed)
    live = [g for g in first(*inputs) if g.requires_grad]
    if not live:
        return report
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    rng = np.random.default_rng(seed)
    second = gradients(live, wrt, [rng.standard_normal(g.shape) for g in live],
                       allow_unused=True)
    for i, s in enumerate(second):
        if s is None:
            continue
        biggest = float(np.max(np.abs(s.data), initial=0.0))
        report.max_abs_error = max(report.max_abs_error, biggest)
        if biggest:
            report.ok = False
            report.failures.append(f"input {i}: the op is declared piecewise linear but its "
                                   f"second derivative reaches {biggest:.3g}")
    return report


def check_function(fn: Callable, inputs: list, order: int, name: str = "fn",
                   linear: bool = False, seed: int = 0, **tolerances: float) -> Result:
    """Check fn's derivatives of one order; any exception becomes a failed row."""
    shapes = _checked_shapes(inputs)
    try:
        if order == 1:
            report = check(fn, inputs, seed=seed, **tolerances)
        elif linear:
            report = _second_derivative_is_zero(fn, inputs, seed)
        else:
            first, prepared = grad_function(fn, inputs, seed=seed)
            report = check(first, prepared, seed=seed, **tolerances)
    except Exception as err:  # a crash in a rule is a failed check, not a crashed run
        return Result(name, shapes, order, "error", float("nan"), float("nan"), False,
                      [f"{type(err).__name__}: {err}"])
    return Result(name, shapes, order, report.mode, float(report.max_abs_error),
                  float(report.max_rel_error), report.ok, list(report.failures))


def check_op(name: str, order: int, seed: int = 0) -> Result:
    """Check one registered op (or composite) on inputs from its sampler."""
    fn, inputs, op = case(name, seed)
    linear = op is not None and op.linear
    return check_function(fn, inputs, order, name=name, linear=linear, seed=seed)


def check_ops(names: Iterable[str] | None = None, orders: Sequence[int] = (1, 2),
              seed: int = 0, progress: Callable[[Result], None] | None = None
              ) -> list[Result]:
    """Check every op (or those named) to each order; rows in name, then order."""
    results = []
    for name in all_names() if names is None else names:
        for order in orders:
            result = check_op(name, order, seed)
            results.append(result)
            if progress is not None:
                progress(result)
    return results


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table, one row per result, then the failures in full."""
    header = ("op", "input shapes", "order", "mode", "max abs err", "max rel err", "result")
    rows = [(r.name, " ".join("x".join(map(str, s)) or "()" for s in r.shapes) or "-",
             str(r.order), r.mode, f"{r.max_abs_error:.2e}", f"{r.max_rel_error:.2e}",
             "PASS" if r.ok else "FAIL") for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in [header, tuple("-" * w for w in widths), *rows]]
    for r in results:
        if not r.ok:
            lines.append(f"\nFAIL {r.name} (order {r.order}):")
            lines.extend("  " + f for f in r.failures)
    return "\n".join(lines)


def summary(results: Sequence[Result]) -> str:
    failed = sum(not r.ok for r in results)
    names = len({r.name for r in results})
    return (f"{names} functions, {len(results)} checks: {len(results) - failed} passed, "
            f"{failed} failed")
