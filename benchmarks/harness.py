"""Shared machinery: loading the engines, interleaved timing, tables.

A workload is a list of `Case`s. A case maps each implementation's name to a
factory; the factory builds the model or data and returns `step`, a callable
doing one forward + backward (+ update). The first call of `step` returns a
number or array that is compared with the floor's, so a competitor that
computes something else is flagged instead of silently timed.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

FLOOR = "numpy floor"
ENGINES = ["autograd-core", "PyTorch", "HIPS autograd", "MyGrad"]
COLUMNS = [FLOOR, *ENGINES]


class FloorError(AssertionError):
    """The hand-written numpy floor does not compute the right gradients."""


@dataclass
class Case:
    name: str
    impls: dict[str, Callable[[], Callable[[], object]]]
    n_ops: int | None = None  # set for chains: per-op microseconds are reported
    rtol: float = 1e-3  # agreement of each first result with the floor's
    others_cpu: float | None = None  # cores other processes used while this case ran
    # Without a floor (a whole GPT or ResNet by hand is not practical), the engine
    # whose first result the others are checked against; times are then absolute,
    # with autograd-core's ratio to PyTorch beside its own.
    reference: str = FLOOR


@dataclass
class Outcome:
    status: str = "ok"  # ok, n/a (not importable), RecursionError, error: ...
    detail: str = ""
    number: int = 0  # calls per sample
    samples: list[float] = field(default_factory=list)  # seconds per call
    agrees: bool = True

    def stat(self, how: str) -> float:
        return min(self.samples) if how == "min" else statistics.median(self.samples)


def ratio(o: Outcome, floor: Outcome, how: str) -> float:
    """o's time over the floor's: of their minima or medians, or ("paired") the median
    over the repeats of the ratio of the two samples each repeat took a second or two
    apart, which a slow spell of a shared machine shifts alike."""
    if how == "paired":
        return statistics.median(a / b for a, b in zip(o.samples, floor.samples, strict=True))
    return o.stat(how) / floor.stat(how)


# ---------------------------------------------------------------- engines


def load_ag():
    """autograd_core, or ImportError while it is not built yet."""
    import autograd_core as ag

    if getattr(ag, "__file__", None) is None and any(
        os.path.exists(os.path.join(d, "__init__.py")) for d in ag.__path__
    ):
        raise ImportError("stale editable install: pip install --no-deps -e . again")
    if not hasattr(ag, "tensor"):
        raise ImportError("autograd_core is not built yet")
    # A training loop's choice, made here for the whole benchmark process (so for
    # every engine, as when importing the library did it): autograd_core/allocator.py.
    ag.allocator.tune_malloc()
    return ag


def load_nn():
    """(ag, nn, F, optim), or ImportError while they are not built yet."""
    ag = load_ag()
    import nn
    import optim
    from nn import functional as F

    if not (hasattr(nn, "Linear") and hasattr(optim, "SGD")):
        raise ImportError("nn / optim are not built yet")
    return ag, nn, F, optim


def classifier_step(model, opt, xt, yt, cross_entropy):
    """One training step of a classifier on the batch (xt, yt), returning the loss:
    cross-entropy, zero_grad, backward, the optimizer's step; for autograd-core and
    PyTorch alike (their tensors and their `cross_entropy`)."""

    def step():
        loss = cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def only_autograd_core(impls: dict) -> dict:
    """The floor and autograd-core of a case's implementations: a row for a variant."""
    return {name: impls[name] for name in (FLOOR, "autograd-core")}


def blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1
    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return blas[0] if blas else os.cpu_count() or 1


def setup_torch(threads: int) -> str:
    """Give PyTorch as many threads as numpy's BLAS has; describe it."""
    try:
        import torch
    except ImportError:
        return "PyTorch: not importable"
    torch.set_num_threads(threads)
    return f"PyTorch {torch.__version__}, torch.set_num_threads({threads})"


def environment(threads: int, torch_note: str) -> list[str]:
    notes = [
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})",
        f"numpy BLAS threads: {threads}; {torch_note}",
    ]
    for dist in ["autograd-core", "autograd", "mygrad"]:
        try:
            notes.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            notes.append(f"{dist}: not installed")
    for var in ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"]:
        if var in os.environ:
            notes.append(f"{var}={os.environ[var]} is set (it can slow numpy)")
    return notes


def load_average() -> str:
    """Other processes on the machine skew timings: say how busy it was."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def busy(threshold: float = 0.5) -> bool:
    try:
        return os.getloadavg()[0] > threshold
    except OSError:
        return False


def _machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy since boot (Linux), else None."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


# ---------------------------------------------------------------- timing


class HandWrittenSGD:
    """Mixin of the numpy floors: `forward_backward` fills `grads`; a step applies SGD."""

    lr = 0.01

    def step(self, x, y) -> float:
        loss = self.forward_backward(x, y)
        for p, g in zip(self.params, self.grads, strict=True):
            g *= self.lr  # in place: the floor allocates nothing per step
            p -= g
        return loss


def central_difference_error(floor, x, y, eps: float = 1e-6) -> float:
    """Largest relative error of a floor's gradients against central differences."""
    floor.forward_backward(x, y)
    err = 0.0
    for p, g in zip(floor.params, [g.copy() for g in floor.grads], strict=True):
        numeric = np.empty_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = floor.forward_backward(x, y)
            p[i] = old - eps
            numeric[i] = (up - floor.forward_backward(x, y)) / (2 * eps)
            p[i] = old
        err = max(err, rel_err(g, numeric))
    return err


def rel_err(result, reference) -> float:
    """Largest absolute difference, relative to the reference's largest entry."""
    a, b = np.asarray(result, np.float64), np.asarray(reference, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _failure(e: BaseException) -> Outcome:
    if isinstance(e, ImportError):
        return Outcome("n/a", str(e))
    if isinstance(e, RecursionError):
        return Outcome("RecursionError", f"at recursion limit {sys.getrecursionlimit()}")
    return Outcome(f"error: {type(e).__name__}", str(e)[:200])


def _calibrate(step, target: float) -> int:
    """Warm up; return calls per sample so that a sample lasts about `target` s."""
    times = []
    while len(times) < 3 and sum(times) < 0.5:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return max(1, round(target / max(min(times), 1e-9)))


def _sample(step, number: int, settle: float) -> float:
    """Seconds per call over `number` calls, after a pause and a wake-up call."""
    time.sleep(settle)
    if number > 1:
        step()
    t0 = time.perf_counter()
    for _ in range(number):
        step()
    return (time.perf_counter() - t0) / number


def measure(case: Case, repeat: int, target: float, settle: float) -> dict[str, Outcome]:
    """Time every implementation of `case`, interleaving their repeats.

    Before each sample: `settle` seconds of sleep, so the worker threads of
    the engine timed before (OpenBLAS's or PyTorch's OpenMP pool, which spin
    for a while after their last job) park instead of stealing our cores;
    then one untimed call when calls are short, to wake our own threads.
    A failure of one engine (ImportError: not installed) is recorded, not raised.
    """
    busy0, own0, wall0 = _machine_busy_seconds(), time.process_time(), time.perf_counter()
    outcomes, steps, results = {}, {}, {}
    for name, factory in case.impls.items():
        try:
            step = factory()
            results[name] = step()  # the first call: result, and warm-up
            outcomes[name] = Outcome(number=_calibrate(step, target))
            steps[name] = step
        except Exception as e:  # a broken competitor is reported
            outcomes[name] = _failure(e)
    # The heap of everything imported (PyTorch alone: ~180k objects) is frozen
    # out of the collector, so an engine pays for collecting its own garbage,
    # not for traversing other libraries' objects at each full collection.
    gc.collect()
    gc.freeze()
    ref = FLOOR if FLOOR in case.impls else case.reference
    for name in steps:
        if name != ref and ref in steps:
            err = rel_err(results[name], results[ref])
            if err > case.rtol:
                outcomes[name].agrees = False
                whose = "the floor's" if ref == FLOOR else f"{ref}'s"
                outcomes[name].detail = f"first result differs from {whose} by {err:.2g}"
    names = list(steps)
    for r in range(repeat if names else 0):  # rotate the order: none always runs first
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if name not in steps:
                continue
            try:
                outcomes[name].samples.append(_sample(steps[name], outcomes[name].number, settle))
            except Exception as e:  # e.g. a second step that fails
                outcomes[name] = _failure(e)
                del steps[name]
    gc.unfreeze()
    if busy0 is not None:  # the machine's busy time less ours: other processes
        others = _machine_busy_seconds() - busy0 - (time.process_time() - own0)
        case.others_cpu = max(0.0, others / (time.perf_counter() - wall0))
    return outcomes


# ---------------------------------------------------------------- report


def _fmt_time(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


def ratio_table(rows: list[tuple[Case, dict[str, Outcome]]], how: str) -> str:
    lines = [
        "| workload | " + " | ".join(COLUMNS) + " | other processes |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    for case, outs in rows:
        floor = outs.get(FLOOR)
        base = floor.stat(how) if floor and floor.samples else None
        cells = []
        for name in COLUMNS:
            o = outs.get(name)
            if o is None:
                cells.append("")
            elif not o.samples:
                cells.append(o.status)
            elif name == FLOOR:
                cells.append(_fmt_time(o.stat(how)))
            elif base and len(o.samples) == len(floor.samples):
                cells.append(f"{ratio(o, floor, how):.2f}x" + ("" if o.agrees else " (!)"))
            else:
                cells.append(_fmt_time(o.stat(how)) + _vs_torch(name, o, outs, how)
                             + ("" if o.agrees else " (!)"))
        others = "?" if case.others_cpu is None else f"{case.others_cpu:.2f} cores"
        lines.append(f"| {case.name} | " + " | ".join(cells) + f" | {others} |")
    return "\n".join(lines)


def _vs_torch(name: str, o: Outcome, outs: dict[str, Outcome], how: str) -> str:
    """autograd-core's ratio to PyTorch, for a case without a floor."""
    t = outs.get("PyTorch")
    if name != "autograd-core" or not t or len(t.samples) != len(o.samples) or not o.samples:
        return ""
    return f" ({ratio(o, t, how):.2f}x PyTorch)"


def two_steps_first(step):
    """A training step whose first call makes two steps and returns both results, so
    the check against the reference covers the optimizer's update too."""
    calls = [0]

    def run():
        calls[0] += 1
        return np.array([step(), step()]) if calls[0] == 1 else step()

    return run


def per_op_table(rows: list[tuple[Case, dict[str, Outcome]]], how: str) -> str:
    chains = [(c, o) for c, o in rows if c.n_ops]
    if not chains:
        return ""
    lines = ["| µs per op (fwd+bwd) | " + " | ".join(COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for case, outs in chains:
        cells = [
            f"{outs[n].stat(how) / case.n_ops * 1e6:.2f}" if n in outs and outs[n].samples
            else (outs[n].status if n in outs else "")
            for n in COLUMNS
        ]
        lines.append(f"| {case.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def notes(rows: list[tuple[Case, dict[str, Outcome]]]) -> list[str]:
    return [
        f"{case.name} / {name}: {o.status}: {o.detail}"
        for case, outs in rows
        for name, o in outs.items()
        if o.detail and (o.status != "n/a" or name == "autograd-core")
    ]


def _paired_to_torch(o: Outcome, outs: dict[str, Outcome]) -> float | None:
    t = outs.get("PyTorch")
    if not o.samples or not t or len(t.samples) != len(o.samples):
        return None
    return ratio(o, t, "paired")


def to_json(rows: list[tuple[Case, dict[str, Outcome]]]) -> dict:
    out = {}
    for case, outs in rows:
        floor = outs.get(FLOOR)
        base = min(floor.samples) if floor and floor.samples else None
        out[case.name] = {"other_processes_cpu_cores": case.others_cpu} | {
            name: {
                "status": o.status,
                "detail": o.detail,
                "agrees_with_floor": o.agrees,
                "calls_per_sample": o.number,
                "seconds_per_call": o.samples,
                "min": min(o.samples) if o.samples else None,
                "median": statistics.median(o.samples) if o.samples else None,
                "ratio_min": min(o.samples) / base if o.samples and base else None,
                "ratio_median": ratio(o, floor, "median") if o.samples and base else None,
                "ratio_paired_to_pytorch": _paired_to_torch(o, outs),
                "ratio_paired": ratio(o, floor, "paired")
                if o.samples and base and len(o.samples) == len(floor.samples) else None,
                "us_per_op": min(o.samples) / case.n_ops * 1e6
                if o.samples and case.n_ops else None,
            }
            for name, o in outs.items()
        }
    return out
