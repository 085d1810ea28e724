"""Small helpers shared by the experiments: models, accuracy, tables, plots."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import autograd_core as ag
import nn

# functional name -> module factory, with the defaults the study notes use
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU, "selu": nn.SELU, "gelu": nn.GELU, "silu": nn.SiLU,
    "softplus": nn.Softplus, "mish": nn.Mish, "softsign": nn.Softsign,
    "relu6": nn.ReLU6, "hardtanh": nn.Hardtanh,
}


def mlp(widths: Sequence[int], activation: str) -> nn.Sequential:
    """Linear layers of the given widths with `activation` between them (none after
    the last: it gives logits). PyTorch's default initialisation."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction classified right, in eval mode (no dropout, running BatchNorm stats)."""
    was_training = model.training
    model.eval()
    try:
        with ag.no_grad():
            return float(np.mean(model(ag.as_tensor(x)).data.argmax(axis=1) == y))
    finally:
        model.train(was_training)


def train_epoch(net: nn.Module, opt: Any, x: np.ndarray, y: np.ndarray, batch_size: int,
                rng: np.random.Generator) -> float:
    """One pass over (x, y) in shuffled mini-batches of cross-entropy; the mean loss."""
    order = rng.permutation(len(y))
    total = 0.0
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        loss = nn.functional.cross_entropy(net(ag.as_tensor(x[idx])), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    return total / len(order)


def markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table; floats get 3 significant digits, None prints as '–'."""
    def cell(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def save_figure(fig: Any, out: str | Path, name: str) -> Path:
    """Write `fig` as out/name (creating out/) and close it."""
    import matplotlib.pyplot as plt

    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    path = path / name
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def pyplot():
    """matplotlib.pyplot on the Agg backend: the experiments draw without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
