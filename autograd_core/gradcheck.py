"""Gradient checks against central differences, in float64.

Small problems compare the full Jacobian, column by column; large ones
compare random projections u^T J v (say so in the report). Besides the
values, a check asserts that gradients have their input's shape and dtype
and that a zero upstream gradient gives zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .tensor import Tensor, _make
from .transforms import gradients

FULL_JACOBIAN_LIMIT = 4096  # inputs x outputs above this: random projections
PROJECTIONS = 6


class GradcheckError(AssertionError):
    """A gradient disagrees with numerical differentiation."""


@dataclass
class Report:
    """What a check found. `max_rel_error` divides by max(|numerical|, atol), so
    entries that are zero up to rounding do not read as 100% errors."""

    ok: bool = True
    mode: str = "full Jacobian"
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    failures: list[str] = field(default_factory=list)
    n_failed: int = 0  # failures holds only the first few


def _outputs(out: Any) -> list[Tensor]:
    outs = [out] if isinstance(out, Tensor) else list(out)
    return [o if isinstance(o, Tensor) else _make(np.asarray(o), None) for o in outs]


def _is_float(x: Any) -> bool:
    return np.asarray(x.data if isinstance(x, Tensor) else x).dtype.kind == "f"


def _prepare(inputs: Any) -> tuple[list, list[int]]:
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        checked = [i for i, x in enumerate(inputs)
                   if isinstance(x, (Tensor, np.ndarray, float)) and _is_float(x)]
    for i in checked:
        data = inputs[i].data if isinstance(inputs[i], Tensor) else inputs[i]
        inputs[i] = _make(np.array(data, dtype=np.float64), None).requires_grad_()
    return inputs, checked


def _evaluate(fn: Callable, inputs: list, i: int, flat_index: int, delta: float) -> np.ndarray:
    """All outputs, flattened, with input i's element moved by delta."""
    moved = list(inputs)
    data = inputs[i].data.copy()
    data.flat[flat_index] += delta
    moved[i] = _make(data, None).requires_grad_()
    return np.concatenate([np.ravel(o.data).astype(np.float64) for o in _outputs(fn(*moved))])


def _evaluate_along(fn, inputs, checked, direction, delta) -> np.ndarray:
    moved = list(inputs)
    for i, v in zip(checked, direction, strict=True):
        moved_data = np.asarray(inputs[i].data + delta * v)  # 0-d: an array, not a scalar
        moved[i] = _make(moved_data, None).requires_grad_()
    return np.concatenate([np.ravel(o.data).astype(np.float64) for o in _outputs(fn(*moved))])


def _compare(report: Report, analytic: float, numeric: float, atol: float, rtol: float,
             where: str) -> None:
    err = float(abs(analytic - numeric))
    rel = err / float(max(abs(numeric), atol, 1e-300))
    # a NaN error stays in the report (max() would drop it and print 0 beside FAIL)
    report.max_abs_error = err if err != err else max(report.max_abs_error, err)
    report.max_rel_error = rel if rel != rel else max(report.max_rel_error, rel)
    if not err <= atol + rtol * abs(numeric):  # also catches NaN
        _fail(report, f"{where}: analytical {analytic:.8g} vs numerical {numeric:.8g} "
                      f"(difference {err:.3g})")


def _fail(report: Report, message: str) -> None:
    report.ok = False
    report.n_failed += 1
    if len(report.failures) < 5:
        report.failures.append(message)


def check(fn: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
          rtol: float = 1e-3, seed: int = 0) -> Report:
    """Compare fn's analytical gradients with central differences; return a Report."""
    inputs, checked = _prepare(inputs)
    report = Report()
    outs = _outputs(fn(*inputs))
    xs = [inputs[i] for i in checked]
    n_in = sum(x.size for x in xs)
    n_out = sum(o.size for o in outs)
    live = [o for o in outs if o.requires_grad]
    rng = np.random.default_rng(seed)

    def vjp(cotangents: list) -> list:
        if not live:
            return [np.zeros(x.shape) for x in xs]
        cts = [c for o, c in zip(outs, cotangents, strict=True) if o.requires_grad]
        grads = gradients(live, xs, cts, retain_graph=True, allow_unused=True)
        for g, x, i in zip(grads, xs, checked, strict=True):
            if g is not None and (g.shape != x.shape or g.dtype != x.dtype) \
                    and not any(f.startswith(f"input {i}: gradient has") for f in report.failures):
                _fail(report, f"input {i}: gradient has shape {g.shape} and dtype {g.dtype}, "
                              f"the input {x.shape} and {x.dtype}")
        return [np.zeros(x.shape) if g is None else np.asarray(g.data, np.float64)
                for g, x in zip(grads, xs, strict=True)]

    zero = vjp([np.zeros(o.shape, o.dtype) for o in outs])
    if any(np.any(z != 0) for z in zero):
        _fail(report, "a zero upstream gradient gave a nonzero gradient")

    if n_in * n_out <= FULL_JACOBIAN_LIMIT:
        _check_full(report, fn, inputs, checked, xs, outs, vjp, eps, atol, rtol)
    else:
        report.mode = f"{PROJECTIONS} random projections u^T J v"
        _check_projected(report, fn, inputs, checked, xs, outs, vjp, rng, eps, atol, rtol)
    return report


def _check_full(report, fn, inputs, checked, xs, outs, vjp, eps, atol, rtol) -> None:
    offsets = np.cumsum([0] + [o.size for o in outs])
    analytic = [np.zeros((offsets[-1], x.size)) for x in xs]
    for k in range(offsets[-1]):  # one row of the Jacobian per output element
        cts = [np.zeros(o.size, o.dtype) for o in outs]
        j = int(np.searchsorted(offsets, k, side="right")) - 1
        cts[j][k - offsets[j]] = 1
        for jac, row in zip(analytic, vjp([c.reshape(o.shape) for c, o in zip(cts, outs,
                                                                              strict=True)]),
                            strict=True):
            jac[k] = np.ravel(row)
    for i, x, jac in zip(checked, xs, analytic, strict=True):
        for e in range(x.size):  # one column per input element
            column = (_evaluate(fn, inputs, i, e, eps) - _evaluate(fn, inputs, i, e, -eps))
            column /= 2 * eps
            for k in range(offsets[-1]):
                j = int(np.searchsorted(offsets, k, side="right")) - 1
                out = f"output {j} " if len(outs) > 1 else "output "
                _compare(report, float(jac[k, e]), float(column[k]), atol, rtol,
                         f"input {i} element {_index(e, x.shape)}, {out}element "
                         f"{_index(k - offsets[j], outs[j].shape)}")


def _index(flat: int, shape: tuple) -> tuple:
    return tuple(int(v) for v in np.unravel_index(flat, shape)) if shape else ()


def _check_projected(report, fn, inputs, checked, xs, outs, vjp, rng, eps, atol, rtol) -> None:
    for p in range(PROJECTIONS):
        u = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
        v = [rng.standard_normal(x.shape) for x in xs]
        analytic = sum(float(np.sum(g * d)) for g, d in zip(vjp(u), v, strict=True))
        u_flat = np.concatenate([np.ravel(c) for c in u])
        plus = _evaluate_along(fn, inputs, checked, v, eps) @ u_flat
        minus = _evaluate_along(fn, inputs, checked, v, -eps) @ u_flat
        _compare(report, analytic, (plus - minus) / (2 * eps), atol, rtol,
                 f"projection {p} (u^T J v)")


def _finish(report: Report, raise_exception: bool, what: str) -> bool:
    if not report.ok and raise_exception:
        shown = f", the first {len(report.failures)}" if report.n_failed > len(report.failures) \
            else ""
        raise GradcheckError(f"{what} failed ({report.mode}; {report.n_failed} "
                             f"mismatches{shown}):\n  " + "\n  ".join(report.failures))
    return report.ok


def gradcheck(fn: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """True when fn's gradients match central differences; else raise GradcheckError."""
    return _finish(check(fn, inputs, eps, atol, rtol), raise_exception, "gradcheck")


def grad_function(fn: Callable, inputs: Sequence, seed: int = 0) -> tuple[Callable, list]:
    """x -> d<u, fn(x)>/dx for a fixed random u, built with create_graph=True."""
    inputs, checked = _prepare(inputs)
    rng = np.random.default_rng(seed)
    us = [rng.standard_normal(o.shape) for o in _outputs(fn(*inputs))]

    def first_derivative(*xs: Any):
        outs = _outputs(fn(*xs))
        live = [(o, u.astype(o.dtype)) for o, u in zip(outs, us, strict=True) if o.requires_grad]
        wrt = [xs[i] for i in checked]
        if not live:
            return tuple(_make(np.zeros(x.shape), None) for x in wrt)
        grads = gradients([o for o, _ in live], wrt, [u for _, u in live], create_graph=True,
                          allow_unused=True)
        return tuple(g if g is not None else _make(np.zeros(x.shape), None)
                     for g, x in zip(grads, wrt, strict=True))

    return first_derivative, inputs


def gradgradcheck(fn: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """gradcheck of the gradient itself: second derivatives against central differences."""
    first, inputs = grad_function(fn, inputs)
    return _finish(check(first, inputs, eps, atol, rtol), raise_exception, "gradgradcheck")
