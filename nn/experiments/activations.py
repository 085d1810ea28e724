"""The activation comparison: one MLP trained with each hidden activation for
the same budget on digits, measured by test error, final training loss, how
soon it reaches a training-accuracy threshold, and, at the end, dead ReLU
units and saturated sigmoid/tanh units (`nn.diagnostics.Monitor` on the
whole training set), next to the properties `nn.activation.describe` lists.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import autograd_core as ag
import optim
from nn.activation import describe
from nn.diagnostics import Monitor

from .common import accuracy, markdown, mlp, pyplot, save_figure, train_epoch
from .data import load_digits, one_blas_thread

NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus",
         "mish")


def train_one(activation: str, widths: Sequence[int] = (64, 64, 64, 64, 10),
              epochs: int = 20, lr: float = 0.01, momentum: float = 0.9,
              batch_size: int = 32, threshold: float = 0.99, seed: int = 0
              ) -> dict[str, Any]:
    """Train with SGD + momentum; return the numbers for one row of the table.

    epochs_to_threshold / seconds_to_threshold: first epoch (and training time
    until then) whose training accuracy reaches `threshold`; None if never.
    """
    x, y, x_test, y_test = load_digits()
    ag.manual_seed(seed)
    net = mlp(widths, activation)
    opt = optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    rng = np.random.default_rng(seed)
    history, reached, reached_s, seconds = [], None, None, 0.0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(net, opt, x, y, batch_size, rng)
        seconds += time.perf_counter() - start  # training time only, not the evaluation
        train_acc = accuracy(net, x, y)
        history.append({"epoch": epoch, "loss": loss, "train_accuracy": train_acc})
        if reached is None and train_acc >= threshold:
            reached, reached_s = epoch, seconds
    with Monitor(net) as monitor:  # the health of the trained net on all training data
        accuracy(net, x, y)
        health = monitor.collect()
    mean = lambda d: float(np.mean(list(d.values()))) if d else None
    return {"activation": activation, "test_error": 1 - accuracy(net, x_test, y_test),
            "train_loss": history[-1]["loss"], "epochs_to_threshold": reached,
            "seconds_to_threshold": reached_s, "seconds": seconds,
            "dead": mean(health.get("dead", {})), "saturated": mean(health.get("saturated", {})),
            "history": history}


def run(names: Sequence[str] = NAMES, **kwargs: Any) -> list[dict[str, Any]]:
    """`train_one` for each activation; kwargs go to each run."""
    with one_blas_thread():
        return [train_one(name, **kwargs) for name in names]


def _saturation(name: str) -> str:
    left, right = describe(name).saturation
    return f"{left or '-'}/{right or '-'}"


def table(results: list[dict[str, Any]], threshold: float = 0.99) -> str:
    header = ["activation", "test error", "train loss", f"epochs to {threshold:.0%}",
              f"s to {threshold:.0%}", "dead", "saturated", "range", "zero-centred",
              "saturation (L/R)", "cost"]
    rows = []
    for r in results:
        p = describe(r["activation"])
        rows.append([r["activation"], f"{r['test_error']:.2%}", r["train_loss"],
                     r["epochs_to_threshold"], r["seconds_to_threshold"],
                     None if r["dead"] is None else f"{r['dead']:.1%}",
                     None if r["saturated"] is None else f"{r['saturated']:.1%}",
                     f"({p.range[0]:.3g}, {p.range[1]:.3g})",
                     "yes" if p.zero_centred else "no", _saturation(r["activation"]), p.cost])
    return markdown(header, rows)


def plot(results: list[dict[str, Any]], out: str, name: str = "activations.png"):
    """Training loss per epoch for each activation (log scale)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, r in enumerate(results):  # line styles cycle so overlapping curves stay visible
        ax.plot([h["epoch"] for h in r["history"]], [h["loss"] for h in r["history"]],
                ls=("-", "--", ":", "-.")[i % 4], label=r["activation"])
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=8, ncol=2)
    return save_figure(fig, out, name)
