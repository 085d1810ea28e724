"""The one random generator behind every draw in autograd_core, nn and optim."""

from __future__ import annotations

import numpy as np

RNG = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed every random draw (randn, rand, init, dropout, RReLU, GAN noise)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative integer, got {seed!r}")
    RNG.bit_generator.state = np.random.PCG64(seed).state
