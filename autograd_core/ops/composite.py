"""Functions built from registered ops: their gradients come from the parts.

They are registered too (`defcomposite`), with a sampler, so the gradient
tests cover them like any op.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import sampling as s
from ..registry import OP, defcomposite


def dot(a, b):
    """numpy's dot for its 0-, 1- and 2-D cases (matmul, or a product for scalars)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return OP.multiply(a, b)
    sa, sb = tuple(np.shape(a)), tuple(np.shape(b))
    if len(sa) > 2 or len(sb) > 2:
        raise ValueError(f"dot: only 1-D and 2-D operands are supported, got shapes "
                         f"{sa} and {sb}; use matmul or einsum")
    # Checked here, or matmul would report the mistake under its own name.
    if sa[-1] != sb[0]:
        raise ValueError(f"dot: shapes {sa} and {sb} are not aligned: the last axis of "
                         f"the first ({sa[-1]}) must match the first axis of the second "
                         f"({sb[0]})")
    return OP.matmul(a, b)


def split(x, indices_or_sections, axis: int = 0) -> list:
    """numpy's split: an int is a number of equal sections, a list gives split points."""
    shape = tuple(np.shape(x))
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"split: axis {axis} is out of range for an input of shape {shape}")
    n = shape[axis]
    if np.ndim(indices_or_sections) == 0:  # a Python or numpy integer, as numpy takes it
        indices_or_sections = operator.index(indices_or_sections)
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(f"split: an axis of length {n} does not divide into "
                             f"{indices_or_sections} equal sections (shape {tuple(np.shape(x))})")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *indices_or_sections, n]
    ax = axis % np.ndim(x)
    return [OP.getitem(x, index=(slice(None),) * ax + (slice(lo, hi), ...))
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


defcomposite("dot", dot, sample=lambda rng: (lambda n, m: (
    (s.values(rng, (n,) if rng.random() < 0.5 else (m, n)),
     s.values(rng, (n,) if rng.random() < 0.5 else (n, m))), {}))(
    *(int(v) for v in rng.integers(1, 5, size=2))))
defcomposite("split", split, sample=lambda rng: (
    (s.values(rng, (6, 2)),), {"indices_or_sections": [2, 3] if rng.random() < 0.5 else 3}))
