"""Turn a registry entry into a checkable function and float64 inputs."""

from __future__ import annotations

import numpy as np

import autograd_core as ag
from autograd_core.registry import COMPOSITES, REGISTRY


def all_names() -> list[str]:
    try:
        import nn.functional  # noqa: F401  (registers the nn ops too)
    except ImportError:
        pass
    return sorted(REGISTRY) + sorted(COMPOSITES)


def case(name: str, seed: int):
    """(fn, inputs, op-or-None): fn maps the float inputs to the op's output(s)."""
    rng = np.random.default_rng(seed)
    if name in REGISTRY:
        op = REGISTRY[name]
        args, params = op.sample(rng)
        call = op
    else:
        op = None
        call, sample = COMPOSITES[name]
        args, params = sample(rng)
    inputs = [ag.tensor(np.asarray(a, np.float64), requires_grad=True)
              if np.asarray(a).dtype.kind == "f" else a for a in args]
    return (lambda *xs: call(*xs, **params)), inputs, op
