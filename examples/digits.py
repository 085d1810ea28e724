"""Handwritten digits (scikit-learn's bundled 8x8 images): an MLP and a small CNN.

    python examples/digits.py --model mlp --epochs 30
    python examples/digits.py --model cnn --epochs 15 --seed 1

No download: `sklearn.datasets.load_digits` ships with scikit-learn (1,797
images, 10 classes). Features are standardised with the training set's
statistics; the train/test split is fixed (stratified, 25% test) whatever
the seed, which only drives initialisation and shuffling. The MLP reaches
about 97-98% test accuracy in a few seconds.

`train_digits(...)` is the importable entry point (the `demo` command uses it).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

SPLIT_SEED = 0  # the split never changes, so runs with different seeds are comparable
DEFAULTS = {  # model -> (epochs, learning rate) for Adam
    "mlp": (30, 1e-3),
    "cnn": (15, 2e-3),
}


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test), float32 features standardised per pixel."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(y), bool)
    for c in range(10):  # stratified: a quarter of every class is held out
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: len(idx) // 4]] = True
    mean = x[~test].mean(axis=0)
    std = x[~test].std(axis=0)
    std[std == 0] = 1.0  # pixels that are always blank stay 0
    x = (x - mean) / std
    return x[~test], y[~test], x[test], y[test]


def make_model(kind: str) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 4 x 4
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 2 x 2
            nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    raise ValueError(f"unknown model {kind!r}: use 'mlp' or 'cnn'")


def _inputs(x: np.ndarray, kind: str) -> np.ndarray:
    return x.reshape(-1, 1, 8, 8) if kind == "cnn" else x


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with ag.no_grad():
        pred = model(ag.as_tensor(x)).data.argmax(axis=1)
    model.train()
    return float(np.mean(pred == y))


def train_digits(model: str = "mlp", epochs: int | None = None, seed: int = 0,
                 progress: bool = False, batch_size: int = 32,
                 lr: float | None = None) -> dict[str, Any]:
    """Train on the digits and return {'test_accuracy', 'history', 'seconds', 'model'}.

    history has one dict per epoch: epoch, loss (mean training loss), train_accuracy,
    test_accuracy.
    """
    default_epochs, default_lr = DEFAULTS[model] if model in DEFAULTS else (None, None)
    epochs = default_epochs if epochs is None else epochs
    lr = default_lr if lr is None else lr
    with _one_blas_thread():
        return _train(model, epochs, seed, progress, batch_size, lr)


def _one_blas_thread():
    """These matrices are tiny: BLAS threads only add overhead, and on a busy machine
    spinning threads can make a step 30x slower. threadpoolctl comes with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _train(model: str, epochs: int, seed: int, progress: bool, batch_size: int,
           lr: float) -> dict[str, Any]:
    ag.manual_seed(seed)
    x_train, y_train, x_test, y_test = load_data()
    x_train, x_test = _inputs(x_train, model), _inputs(x_test, model)
    net = make_model(model)
    opt = optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    history = []
    start = time.perf_counter()
    bar = _progress(range(1, epochs + 1), progress, model)
    for epoch in bar:
        order = rng.permutation(len(y_train))
        total = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(net(ag.as_tensor(x_train[idx])), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        row = {"epoch": epoch, "loss": total / len(order),
               "train_accuracy": accuracy(net, x_train, y_train),
               "test_accuracy": accuracy(net, x_test, y_test)}
        history.append(row)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{row['loss']:.4f}", test_acc=f"{row['test_accuracy']:.3f}")
    return {"test_accuracy": history[-1]["test_accuracy"] if history else
            accuracy(net, x_test, y_test),
            "history": history, "seconds": time.perf_counter() - start, "model": net}


def _progress(epochs: range, enabled: bool, name: str):
    """A tqdm bar over the epochs when asked for and tqdm is installed."""
    if not enabled:
        return epochs
    try:
        from tqdm import tqdm
    except ImportError:
        return epochs
    return tqdm(epochs, desc=f"digits {name}", unit="epoch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(DEFAULTS), default="mlp")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 30 for mlp, 15 for cnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    result = train_digits(args.model, args.epochs, args.seed, not args.no_progress,
                          args.batch_size, args.lr)
    if args.no_progress:
        for row in result["history"]:
            print(f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}  "
                  f"train {row['train_accuracy']:.3f}  test {row['test_accuracy']:.3f}")
    print(f"{args.model}: test accuracy {result['test_accuracy']:.4f} "
          f"({result['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
