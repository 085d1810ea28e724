"""Regenerate the README's pictures (needs Graphviz's `dot`):

    make pictures     (or: .venv/bin/python docs/make_pictures.py)
"""

from __future__ import annotations

from pathlib import Path

import autograd_core as ag
import nn
import nn.functional as F
from nn.experiments.data import load_digits
from nn.experiments.digits import make_model

HERE = Path(__file__).resolve().parent


def digits_step() -> Path:
    """One training step of the digits MLP (the demo's), nodes coloured by gradient norm."""
    ag.manual_seed(0)
    model = make_model("mlp")
    x, y, _, _ = load_digits()
    loss = F.cross_entropy(model(ag.tensor(x[:32])), y[:32])
    return ag.viz.render(loss, HERE / "digits_step.svg", model=model, show_grad=True)


def deep_sigmoid() -> Path:
    """Eight sigmoid layers: the gradient fades (bluer) towards the input."""
    ag.manual_seed(0)
    layers: list = []
    for _ in range(8):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 1))
    loss = ag.square(model(ag.randn(32, 16))).mean()
    return ag.viz.render(loss, HERE / "deep_sigmoid.svg", model=model, show_grad=True)


if __name__ == "__main__":
    for make in (digits_step, deep_sigmoid):
        print("wrote", make())
