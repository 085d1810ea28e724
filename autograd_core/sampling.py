"""Input samplers for the gradient checks, declared with each op.

A sampler is `sample(rng) -> (inputs, params)`: float64 arrays inside the
op's domain, kept away from its kinks, on random shapes (broadcasting ones
for binary ops). Only numpy's Generator is used, so the command line can
run the same checks as the hypothesis tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Domain = tuple  # (low, high, kinks): uniform on [low, high], pushed MARGIN away from kinks
REAL: Domain = (-2.0, 2.0, ())
POSITIVE: Domain = (0.5, 2.0, ())
NONZERO: Domain = (-2.0, 2.0, (0.0,))  # also: a denominator, a kink at 0
ABOVE_M1: Domain = (-0.5, 2.0, ())  # log1p
UNIT: Domain = (-0.8, 0.8, ())
MARGIN = 0.25


def values(rng: np.random.Generator, shape: Sequence[int], domain: Domain = REAL) -> np.ndarray:
    low, high, kinks = domain
    x = rng.uniform(low, high, size=shape)
    for k in kinks:
        near = np.abs(x - k) < MARGIN
        x = np.where(near, k + np.where(x >= k, MARGIN, -MARGIN) + (x - k), x)
    return x


def shape(rng: np.random.Generator, min_ndim: int = 0, max_ndim: int = 3,
          max_side: int = 4) -> tuple[int, ...]:
    ndim = int(rng.integers(min_ndim, max_ndim + 1))
    return tuple(int(n) for n in rng.integers(1, max_side + 1, size=ndim))


def broadcastable(rng: np.random.Generator, full: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to `full`: leading axes dropped, some sides set to 1."""
    drop = int(rng.integers(0, len(full) + 1))
    return tuple(1 if rng.random() < 0.3 else n for n in full[drop:])


def any_layout(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    """a, or the same values laid out in memory in a random axis order (as a conv2d
    output keeps the batch innermost, or a flattened one is column-major), so the
    checks also reach the code that follows its input's layout."""
    if a.ndim < 2 or rng.random() < 0.4:
        return a
    order = rng.permutation(a.ndim)
    return np.ascontiguousarray(a.transpose(order)).transpose(np.argsort(order))


def distinct(rng: np.random.Generator, shape: Sequence[int], low=-2.0, high=2.0) -> np.ndarray:
    """Values at least (high-low)/(4n) apart, for ops with ties (max, sort)."""
    n = int(np.prod(shape))
    grid = np.linspace(low, high, max(n, 1))
    return rng.permutation(grid)[:n].reshape(shape)


def unary(domain: Domain = REAL, **params) -> Callable:
    def sample(rng):
        return (any_layout(rng, values(rng, shape(rng), domain)),), dict(params)
    return sample


def binary(domain_a: Domain = REAL, domain_b: Domain = REAL) -> Callable:
    def sample(rng):
        full = shape(rng)
        a, b = full, broadcastable(rng, full)
        if rng.random() < 0.5:
            a, b = b, a
        return (any_layout(rng, values(rng, a, domain_a)),
                any_layout(rng, values(rng, b, domain_b))), {}
    return sample


def axis_params(rng: np.random.Generator, ndim: int) -> dict:
    """axis None, an int (maybe negative) or a tuple; keepdims either way."""
    keepdims = bool(rng.random() < 0.5)
    if ndim == 0 or rng.random() < 0.25:
        return {"axis": None, "keepdims": keepdims}
    axes = [int(a) for a in rng.permutation(ndim)[: int(rng.integers(1, ndim + 1))]]
    if len(axes) == 1 and rng.random() < 0.5:
        return {"axis": axes[0] - ndim * int(rng.random() < 0.5), "keepdims": keepdims}
    return {"axis": tuple(axes), "keepdims": keepdims}


def reduction(domain: Domain = REAL, ties: bool = False, **params) -> Callable:
    def sample(rng):
        s = shape(rng)
        x = distinct(rng, s) if ties else values(rng, s, domain)
        return (any_layout(rng, x),), {**axis_params(rng, len(s)), **params}
    return sample
