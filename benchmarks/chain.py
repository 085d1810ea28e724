"""(a) chain1k, (b) chain100k: a long chain of tiny elementwise ops.

Ops in turn: x * 1.0001, x + 0.001, tanh(x); then sum and backward. The
vectors are tiny (16 or 4 floats), so this measures per-op overhead. Every
implementation makes a fresh leaf each step and returns d sum / d x.
"""

from __future__ import annotations

import numpy as np
from harness import FLOOR, Case, FloorError, load_ag, rel_err

MUL, ADD = 1.0001, 0.001


def chain(x, tanh, n_ops):
    """The forward chain, for any engine whose tensors have * and +."""
    for i in range(n_ops):
        r = i % 3
        x = x * MUL if r == 0 else x + ADD if r == 1 else tanh(x)
    return x


def floor_grad(x, n_ops, xp=np):
    """Hand-written tape: forward saving tanh outputs, then the reverse loop (xp: numpy,
    or CuPy for the GPU check)."""
    saved = []
    for i in range(n_ops):
        r = i % 3
        if r == 0:
            x = x * MUL
        elif r == 1:
            x = x + ADD
        else:
            x = xp.tanh(x)
            saved.append(x)
    g = xp.ones_like(x)  # d sum(x) / d x
    for i in range(n_ops - 1, -1, -1):
        r = i % 3
        if r == 0:
            g = g * MUL  # mul: times the constant; add: identity
        elif r == 2:
            y = saved.pop()
            g = g * (1 - y * y)  # d tanh = 1 - y^2
    return g


def check() -> str:
    """The floor against torch in float64, or central differences."""
    x = np.random.default_rng(1).standard_normal(16).astype(np.float32)
    try:
        import torch
    except ImportError:
        return _check_central_difference()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    chain(xt, torch.tanh, 1000).sum().backward()
    err = rel_err(floor_grad(x, 1000), xt.grad.numpy())
    if not err <= 1e-4:
        raise FloorError(f"chain floor differs from torch by {err:.3g} (relative)")
    return f"chain floor matches torch (float64, 1000 ops) to {err:.1e} relative"


def _check_central_difference(n_ops=30, eps=1e-6) -> str:
    x = np.random.default_rng(2).standard_normal(3)
    numeric = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        numeric[i] = (floor_grad_sum(x + e, n_ops) - floor_grad_sum(x - e, n_ops)) / (2 * eps)
    err = rel_err(floor_grad(x, n_ops), numeric)
    if not err <= 1e-4:
        raise FloorError(f"chain floor differs from central differences by {err:.3g}")
    return f"chain floor matches central differences ({n_ops} ops) to {err:.1e} relative"


def floor_grad_sum(x, n_ops):
    return float(np.sum(chain(x, np.tanh, n_ops)))


def cases(n_ops: int, size: int) -> list[Case]:
    x0 = np.random.default_rng(0).standard_normal(size).astype(np.float32)

    def floor():
        return lambda: floor_grad(x0, n_ops)

    def autograd_core():
        ag = load_ag()

        def step():
            x = ag.tensor(x0, requires_grad=True)
            chain(x, ag.tanh, n_ops).sum().backward()
            return x.grad.numpy()

        return step

    def pytorch():
        import torch

        def step():
            x = torch.tensor(x0, requires_grad=True)
            chain(x, torch.tanh, n_ops).sum().backward()
            return x.grad.numpy()

        return step

    def hips():
        import autograd
        import autograd.numpy as anp

        grad = autograd.grad(lambda x: anp.sum(chain(x, anp.tanh, n_ops)))
        return lambda: grad(x0)

    def mygrad():
        import mygrad as mg

        def step():
            x = mg.tensor(x0)
            chain(x, mg.tanh, n_ops).sum().backward()
            return x.grad

        return step

    impls = {FLOOR: floor, "autograd-core": autograd_core, "PyTorch": pytorch,
             "HIPS autograd": hips, "MyGrad": mygrad}
    name = f"chain{n_ops // 1000}k" if n_ops % 1000 == 0 else f"chain{n_ops}"
    return [Case(f"{name} ({size} floats)", impls, n_ops=n_ops)]
