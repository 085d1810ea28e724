"""`autograd-core demo`: the main job, end to end, in well under two minutes.

1. check every op's gradient, first and second order (as `autograd-core gradcheck`);
2. train an MLP on scikit-learn's bundled 8x8 digits and report test accuracy;
3. draw the graph of one training step, coloured by gradient norm;
4. train the ring GAN briefly and report its mode coverage, if `nn.gan` exists.

It takes under half a minute on two cores; `--quick` cuts training to a smoke test.

A stage whose prerequisites are missing (scikit-learn, nn.gan, Graphviz's
`dot`) is skipped with the reason; a stage that crashes is a failure.
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import manual_seed, no_grad, tensor, viz
from .opcheck import check_ops, summary


class Skipped(Exception):
    """A stage cannot run here (a missing optional package); not a failure."""


def _progress(total: int, desc: str) -> Any:
    """A tqdm bar when tqdm is installed, else a stand-in that prints one line per update."""
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc)
    except ImportError:
        return _Lines(total, desc)


class _Lines:
    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.n, self.postfix = total, desc, 0, {}

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values

    def update(self, n: int = 1) -> None:
        self.n += n
        extra = " ".join(f"{k}={v}" for k, v in self.postfix.items())
        print(f"  {self.desc} {self.n}/{self.total} {extra}", flush=True)

    def close(self) -> None:
        pass


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


def load_digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits, scaled to [0, 1], split 80/20 at random."""
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError:
        raise Skipped("scikit-learn is not installed (pip install scikit-learn)") from None
    x, y = sk_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]


def _helper_trainer() -> Callable | None:
    """nn's own digits experiment, when it exists (so demo and example agree)."""
    try:
        from nn.experiments.digits import train_digits
    except ImportError:
        return None
    return train_digits


def train_digits_mlp(epochs: int, seed: int = 0) -> dict[str, Any]:
    """A 64-128-10 ReLU MLP, Adam, cross-entropy; returns model, accuracy, a batch."""
    import nn
    import nn.functional as F
    import optim

    helper = _helper_trainer()
    if helper is not None:
        accepted = inspect.signature(helper).parameters
        wanted = {"epochs": epochs, "seed": seed, "progress": True}
        result = helper(**{k: v for k, v in wanted.items() if k in accepted})
        if isinstance(result, dict) and "model" in result:
            result.setdefault("test_accuracy", result.get("accuracy", float("nan")))
            return result
    x_train, y_train, x_test, y_test = load_digits(seed)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(seed)
    batch = 64
    bar = _progress(epochs, "digits MLP, epochs")
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            loss = F.cross_entropy(model(tensor(x_train[idx])), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        bar.set_postfix(train_loss=f"{total / len(order):.4f}")
        bar.update()
    bar.close()
    with no_grad():
        predicted = model(tensor(x_test)).data.argmax(axis=1)
    return {"model": model, "test_accuracy": float(np.mean(predicted == y_test)),
            "batch": (x_train[:32], y_train[:32])}


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


def train_ring_gan(steps: int, seed: int = 0) -> str:
    """nn.gan's ring GAN (8 Gaussians on a circle), briefly; its mode coverage."""
    try:
        from nn.gan import train_ring_gan as train
    except ImportError:
        raise Skipped("nn.gan is not available") from None
    coverage = train(steps=steps, seed=seed, progress=True)["coverage"]
    line = (f"{coverage['modes_covered']}/8 modes covered, {coverage['high_quality']:.0%} "
            f"of samples within 3 std of a mode ({steps} steps)")
    print(f"  {line}")
    return line


def _stage(title: str, fn: Callable[[], Any], report: list) -> Any:
    """Run one stage; record 'ok', 'skipped' or 'FAILED' with its line for the summary."""
    print(f"\n== {title} ==")
    start = time.perf_counter()
    try:
        value = fn()
    except Skipped as why:
        print(f"  skipped: {why}")
        report.append((title, "skipped", str(why)))
        return None
    except Exception as err:  # the demo reports every stage, even after a crash
        traceback.print_exc()
        report.append((title, "FAILED", f"{type(err).__name__}: {err}"))
        return None
    seconds = time.perf_counter() - start
    detail = value[0] if isinstance(value, tuple) else value
    report.append((title, "ok", f"{detail} ({seconds:.1f} s)"))
    return value


def _one_blas_thread() -> Any:
    """The matrices here are tiny: extra BLAS threads only contend, badly so on a busy
    machine. threadpoolctl comes with scikit-learn; without it, change nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def run(quick: bool = False, out: str | Path = "out") -> int:
    """The whole demo; returns the exit status (0 unless a stage failed)."""
    with _one_blas_thread():
        return _run(quick, Path(out))


def _run(quick: bool, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    report: list[tuple[str, str, str]] = []
    _stage("gradient checks", check_gradients, report)

    def digits() -> tuple[str, dict]:
        result = train_digits_mlp(epochs=3 if quick else 20)
        accuracy = result["test_accuracy"]
        print(f"  test accuracy {accuracy:.1%}")
        return f"test accuracy {accuracy:.1%}", result

    trained = _stage("digits MLP", digits, report)
    if trained is not None:
        result = trained[1]
        batch = result.get("batch") or tuple(a[:32] for a in load_digits()[:2])
        _stage("graph of one training step",
               lambda: str(draw_training_step(result["model"], batch, out)), report)
    else:
        report.append(("graph of one training step", "skipped", "no trained model"))
    _stage("ring GAN", lambda: train_ring_gan(steps=100 if quick else 2500), report)

    print("\n== summary ==")
    width = max(len(title) for title, _, _ in report)
    for title, status, detail in report:
        print(f"  {title.ljust(width)}  {status:7s}  {detail}")
    print(f"  total time {time.perf_counter() - start:.1f} s")
    return 1 if any(status == "FAILED" for _, status, _ in report) else 0
