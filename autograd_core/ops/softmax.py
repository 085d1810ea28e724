"""relu, softmax and log_softmax as functions of the core (nn.functional has the
fused, faster ops of the same names; these are their definitions in a few lines)."""

from __future__ import annotations

from typing import Any

from .. import sampling as s
from ..creation import as_tensor
from ..registry import OP, defcomposite, torch_names
from ..tensor import Tensor


def relu(x: Any) -> Tensor:
    """max(x, 0), with relu'(0) = 0 (PyTorch's subgradient)."""
    x = x if isinstance(x, Tensor) else as_tensor(x)
    return OP.where(x > 0, x, 0)


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """x - logsumexp(x): stable at +-1e4, -inf only where x is -inf."""
    axis, _ = torch_names("log_softmax", None if dim is not None else axis, False, dim, None)
    return x - OP.logsumexp(x, axis=axis, keepdims=True)


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """exp(log_softmax(x)): every row sums to 1, no overflow."""
    return OP.exp(log_softmax(x, axis, dim=dim))


defcomposite("relu_composite", relu, s.unary(s.NONZERO))
defcomposite("softmax_composite", softmax,
             lambda rng: ((s.values(rng, s.shape(rng, 1)),), {"axis": -1}))
defcomposite("log_softmax_composite", log_softmax,
             lambda rng: ((s.values(rng, s.shape(rng, 1)),), {"axis": -1}))
