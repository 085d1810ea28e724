"""`autograd-core demo`: the main job, end to end, in well under two minutes.

1. check every op's gradient, first and second order (as `autograd-core gradcheck`);
2. train an MLP on scikit-learn's bundled 8x8 digits and report test accuracy;
3. draw the graph of one training step, coloured by gradient norm;
4. train the ring GAN briefly and report its mode coverage, if `nn.gan` exists:
   'ok' only when it covers all 8 modes, 'weak' (with the count) otherwise.

It takes under half a minute on two cores; `--quick` trains the MLP for fewer
epochs and the GAN for fewer steps (still enough to cover the ring).

A stage whose prerequisites are missing (scikit-learn, nn.gan, Graphviz's
`dot`) is skipped with the reason; a stage that crashes is a failure.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import tensor, viz
from .opcheck import check_ops, summary


class Skipped(Exception):
    """A stage cannot run here (a missing optional package); not a failure."""


def check_gradients() -> str:
    """Every op, first and second order: one summary line, then any failures."""
    results = check_ops(orders=(1, 2))
    print("  " + summary(results) + " (first and second order)")
    for r in results:
        if not r.ok:
            print(f"  FAIL {r.name} order {r.order}: {r.failures[0] if r.failures else ''}")
    failed = sum(not r.ok for r in results)
    if failed:
        raise AssertionError(f"{failed} of {len(results)} gradient checks failed")
    return f"{len(results)}/{len(results)} checks passed"


def train_digits_mlp(epochs: int, seed: int = 0) -> dict[str, Any]:
    """nn's digits MLP (examples/digits.py runs the same code): model, accuracy, a batch."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise Skipped("scikit-learn is not installed (pip install scikit-learn)") from None
    from nn.experiments.digits import train_digits
    return train_digits("mlp", epochs=epochs, seed=seed, progress=True)


def draw_training_step(model: Any, batch: tuple[np.ndarray, np.ndarray], out: Path) -> Path:
    """The graph of one loss on one batch, gradient norms shown (no .grad is touched)."""
    import nn.functional as F
    x, y = batch
    loss = F.cross_entropy(model(tensor(x)), y)
    path = out / ("digits_step.svg" if shutil.which("dot") else "digits_step.dot")
    viz.render(loss, path, model=model, show_grad=True)
    if path.suffix == ".dot":
        print("  Graphviz `dot` not found: wrote DOT source instead of SVG "
              "(apt-get install graphviz / brew install graphviz)")
    return path


class Weak(Exception):
    """A stage ran to the end but its result falls short (a GAN that misses modes):
    reported as 'weak', not 'ok', and not a failure (training is stochastic)."""


def train_ring_gan(steps: int, seed: int = 0) -> str:
    """nn.gan's ring GAN (8 Gaussians on a circle); ok only if it covers all 8 modes."""
    try:
        from nn.gan import train_ring_gan as train
    except ImportError:
        raise Skipped("nn.gan is not available") from None
    coverage = train(steps=steps, seed=seed, progress=True)["coverage"]
    covered = coverage["modes_covered"]
    line = (f"{covered}/8 modes covered, {coverage['high_quality']:.0%} "
            f"of samples within 3 std of a mode ({steps} steps)")
    print(f"  {line}")
    if covered < 8:
        raise Weak(f"{line}: the generator misses part of the ring")
    return line


def _stage(title: str, fn: Callable[[], Any], report: list) -> Any:
    """Run one stage; record 'ok', 'weak', 'skipped' or 'FAILED' with its line for the
    summary."""
    print(f"\n== {title} ==")
    start = time.perf_counter()
    try:
        value = fn()
    except Skipped as why:
        print(f"  skipped: {why}")
        report.append((title, "skipped", str(why)))
        return None
    except Weak as why:
        print(f"  weak: {why}")
        report.append((title, "weak", f"{why} ({time.perf_counter() - start:.1f} s)"))
        return None
    except Exception as err:  # the demo reports every stage, even after a crash
        traceback.print_exc()
        report.append((title, "FAILED", f"{type(err).__name__}: {err}"))
        return None
    seconds = time.perf_counter() - start
    detail = value[0] if isinstance(value, tuple) else value
    report.append((title, "ok", f"{detail} ({seconds:.1f} s)"))
    return value


def run(quick: bool = False, out: str | Path = "out") -> int:
    """The whole demo; returns the exit status (0 unless a stage failed)."""
    from nn.experiments.data import one_blas_thread
    with one_blas_thread():  # tiny matrices: extra BLAS threads only contend
        return _run(quick, Path(out))


def _run(quick: bool, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    report: list[tuple[str, str, str]] = []
    _stage("gradient checks", check_gradients, report)

    def digits() -> tuple[str, dict]:
        result = train_digits_mlp(epochs=3 if quick else 30)
        accuracy = result["test_accuracy"]
        print(f"  test accuracy {accuracy:.1%}")
        return f"test accuracy {accuracy:.1%}", result

    trained = _stage("digits MLP", digits, report)
    if trained is not None:
        result = trained[1]
        _stage("graph of one training step",
               lambda: str(draw_training_step(result["model"], result["batch"], out)), report)
    else:
        report.append(("graph of one training step", "skipped", "no trained model"))
    # 1,500 steps already cover the ring at seed 0 (~6 s): --quick gives a real verdict
    _stage("ring GAN", lambda: train_ring_gan(steps=1500 if quick else 2500), report)

    print("\n== summary ==")
    width = max(len(title) for title, _, _ in report)
    for title, status, detail in report:
        print(f"  {title.ljust(width)}  {status:7s}  {detail}")
    print(f"  total time {time.perf_counter() - start:.1f} s")
    return 1 if any(status == "FAILED" for _, status, _ in report) else 0
