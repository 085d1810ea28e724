"""Compare the optimizers training a small MLP on scikit-learn's bundled digits.

Every optimizer starts from the same initial weights and sees the same mini-batches,
so the curves differ only by the update rule. Writes a plot of the training loss per
epoch and prints a markdown table:

    python examples/optimizers.py --out out/optimizers.png --epochs 30
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

import autograd_core as ag
import nn
import optim
from nn import functional as F

# Learning rates picked per rule (each is sensitive to its own scale), defaults otherwise.
OPTIMIZERS: dict[str, Callable[[Iterable[Any]], optim.Optimizer]] = {
    "SGD": lambda params: optim.SGD(params, lr=0.1),
    "SGD momentum": lambda params: optim.SGD(params, lr=0.05, momentum=0.9),
    "SGD Nesterov": lambda params: optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    "Adagrad": lambda params: optim.Adagrad(params, lr=0.05),
    "Adadelta": lambda params: optim.Adadelta(params, lr=1.0),
    "RMSprop": lambda params: optim.RMSprop(params, lr=1e-3),
    "Adam": lambda params: optim.Adam(params, lr=1e-3),
    "AdamW": lambda params: optim.AdamW(params, lr=1e-3),
}


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits (8x8 images, 1797 samples) scaled to [0, 1]; a stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def train(
    make_optimizer: Callable[[Iterable[Any]], optim.Optimizer],
    data: tuple[np.ndarray, ...],
    epochs: int,
    batch_size: int,
    seed: int,
) -> tuple[list[float], float]:
    """Train one MLP; return the full-train-set loss after each epoch and test accuracy."""
    X_train, X_test, y_train, y_test = data
    ag.manual_seed(seed)  # identical initial weights for every optimizer
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = make_optimizer(model.parameters())
    batches = np.random.default_rng(seed)  # identical batch order too
    curve = []
    for _ in range(epochs):
        order = batches.permutation(len(X_train))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(model(ag.tensor(X_train[idx])), ag.tensor(y_train[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with ag.no_grad():
            curve.append(F.cross_entropy(model(ag.tensor(X_train)), ag.tensor(y_train)).item())
    with ag.no_grad():
        predicted = model(ag.tensor(X_test)).data.argmax(axis=1)
    return curve, float(np.mean(predicted == y_test))


def plot(curves: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, curve) in enumerate(curves.items()):
        # Alternate line styles so near-identical curves (Adam, AdamW) stay visible.
        ax.plot(range(1, len(curve) + 1), curve, label=name, linestyle="-" if i % 2 else "--")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title("Optimizers on digits: MLP 64-64-10")
    ax.legend(ncol=2, fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/optimizers.png"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--optimizers", nargs="+", choices=list(OPTIMIZERS), default=list(OPTIMIZERS)
    )
    args = parser.parse_args(argv)

    data = load_data(args.seed)
    curves, rows = {}, []
    for name in args.optimizers:
        start = time.perf_counter()
        curve, accuracy = train(OPTIMIZERS[name], data, args.epochs, args.batch_size, args.seed)
        curves[name] = curve
        rows.append((name, curve[-1], accuracy, time.perf_counter() - start))
    plot(curves, args.out)

    print("| optimizer | final train loss | test accuracy | time (s) |")
    print("|---|---:|---:|---:|")
    for name, loss, accuracy, seconds in rows:
        print(f"| {name} | {loss:.4f} | {accuracy:.3f} | {seconds:.1f} |")
    print(f"\nplot: {args.out}")


if __name__ == "__main__":
    main()
