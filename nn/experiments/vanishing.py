"""Vanishing gradients in a deep sigmoid MLP, measured as each hidden layer's
"learning speed": the norm of its bias-gradient vector (the study notes, after
Nielsen, ch. 5). Measured with `nn.diagnostics.Monitor` on the full-batch
gradient of the training set, at initialisation and after every epoch.

With sigmoid, |w * sigma'(z)| < 1/4 for |w| < 1, so the gradient shrinks layer
by layer towards the input. PyTorch's default init draws W ~ U(-1/sqrt(n),
1/sqrt(n)); summed over n inputs one layer scales the gradient by about
sqrt(n) * 1/sqrt(3n) * sigma' ~ 0.577 * 0.25 ~ 1/7. Nielsen's N(0, 1) init
(init='normal') has larger weights and a smaller drop per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim
from nn.diagnostics import Monitor

from .common import accuracy, markdown, mlp, pyplot, save_figure, train_epoch
from .data import load_digits, one_blas_thread

DEFAULT_CONFIGS = (("sigmoid", "default"), ("tanh", "default"), ("relu", "default"),
                   ("sigmoid", "normal"))


def _init_normal(model: nn.Module) -> None:
    """Nielsen's initialisation: every weight and bias ~ N(0, 1)."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight)
            nn.init.normal_(m.bias)


def train_one(activation: str, init: str = "default",
              widths: Sequence[int] = (64, 30, 30, 30, 30, 10), epochs: int = 30,
              lr: float = 0.1, batch_size: int = 10, seed: int = 0) -> dict[str, Any]:
    """Train one MLP with plain SGD; return its per-epoch speeds and accuracy.

    speeds: array (epochs + 1, hidden layers), row 0 at initialisation.
    """
    x, y, x_test, y_test = load_digits()
    ag.manual_seed(seed)
    net = mlp(widths, activation)
    if init == "normal":
        _init_normal(net)
    elif init != "default":
        raise ValueError(f"init must be 'default' or 'normal', got {init!r}")
    hidden = [name for name, m in net.named_children() if isinstance(m, nn.Linear)][:-1]
    opt = optim.SGD(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    monitor = Monitor(net)  # attached only while measuring: training runs hook-free

    def measure(epoch: int) -> dict[str, Any]:
        net.zero_grad()
        with monitor:
            loss = F.cross_entropy(net(ag.as_tensor(x)), y)
            loss.backward()
            record = monitor.step(epoch=epoch, loss=loss.item())
        net.zero_grad()
        return record

    records = [measure(0)]
    for epoch in range(1, epochs + 1):
        train_epoch(net, opt, x, y, batch_size, rng)
        records.append(measure(epoch))
    speeds = np.array([[r["speed"][h] for h in hidden] for r in records])
    return {"activation": activation, "init": init, "layers": hidden, "speeds": speeds,
            "train_loss": records[-1]["loss"], "test_accuracy": accuracy(net, x_test, y_test),
            "saturated": records[-1].get("saturated", {}), "dead": records[-1].get("dead", {})}


def run(configs: Sequence[tuple[str, str]] = DEFAULT_CONFIGS, **kwargs: Any
        ) -> list[dict[str, Any]]:
    """`train_one` for each (activation, init); kwargs go to each run."""
    with one_blas_thread():
        return [train_one(act, init, **kwargs) for act, init in configs]


def relative(speeds: np.ndarray) -> np.ndarray:
    """Each hidden layer's speed divided by the last hidden layer's, per row."""
    return speeds / speeds[:, -1:]


def table(results: list[dict[str, Any]]) -> str:
    """Speed of each hidden layer relative to the last hidden layer, at init and as
    a geometric mean over the training epochs, with the absolute last-layer speed."""
    n = results[0]["speeds"].shape[1]
    header = (["activation", "init", "when"] + [f"h{i + 1}/h{n}" for i in range(n - 1)]
              + [f"h{n} speed", "test acc", "train loss"])
    rows = []
    for r in results:
        rel = relative(r["speeds"])
        with np.errstate(divide="ignore"):
            geo = np.exp(np.mean(np.log(rel[1:]), axis=0)) if len(rel) > 1 else rel[0]
            geo_last = np.exp(np.mean(np.log(r["speeds"][1:, -1]))) if len(rel) > 1 else None
        rows.append([r["activation"], r["init"], "init", *map(float, rel[0, :-1]),
                     float(r["speeds"][0, -1]), None, None])
        rows.append([r["activation"], r["init"], "training", *map(float, geo[:-1]),
                     None if geo_last is None else float(geo_last),
                     r["test_accuracy"], r["train_loss"]])
    return markdown(header, rows)


def plot(results: list[dict[str, Any]], out: str, name: str = "vanishing_gradients.png"):
    """One panel per configuration: each hidden layer's speed per epoch, log scale."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.4), sharey=True)
    for ax, r in zip(np.atleast_1d(axes), results):
        for i in range(r["speeds"].shape[1]):
            ax.plot(r["speeds"][:, i], label=f"hidden {i + 1}")
        ax.set_yscale("log")
        ax.set_title(f"{r['activation']} ({r['init']} init)")
        ax.set_xlabel("epoch")
    np.atleast_1d(axes)[0].set_ylabel("|bias gradient| (learning speed)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    return save_figure(fig, out, name)
