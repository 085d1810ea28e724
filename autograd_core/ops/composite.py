"""Functions built from registered ops: their gradients come from the parts.

They are registered too (`defcomposite`), with a sampler, so the gradient
tests cover them like any op.
"""

from __future__ import annotations

import numpy as np

from .. import sampling as s
from ..registry import OP, defcomposite


def dot(a, b):
    """numpy's dot for its 0-, 1- and 2-D cases (matmul, or a product for scalars)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return OP.multiply(a, b)
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise ValueError(f"dot: only 1-D and 2-D operands are supported, got shapes "
                         f"{tuple(np.shape(a))} and {tuple(np.shape(b))}; use matmul or einsum")
    return OP.matmul(a, b)


def split(x, indices_or_sections, axis: int = 0) -> list:
    """numpy's split: an int is a number of equal sections, a list gives split points."""
    n = np.shape(x)[axis]
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(f"split: an axis of length {n} does not divide into "
                             f"{indices_or_sections} equal sections (shape {tuple(np.shape(x))})")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *indices_or_sections, n]
    ax = axis % np.ndim(x)
    return [OP.getitem(x, index=(slice(None),) * ax + (slice(lo, hi),))
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


defcomposite("dot", dot, sample=lambda rng: (lambda n, m: (
    (s.values(rng, (n,) if rng.random() < 0.5 else (m, n)),
     s.values(rng, (n,) if rng.random() < 0.5 else (n, m))), {}))(
    *(int(v) for v in rng.integers(1, 5, size=2))))
defcomposite("split", split, sample=lambda rng: (
    (s.values(rng, (6, 2)),), {"indices_or_sections": [2, 3] if rng.random() < 0.5 else 3}))
