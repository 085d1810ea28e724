"""The one random generator behind every draw in autograd_core, nn and optim."""

from __future__ import annotations

import numpy as np

RNG = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed every random draw (randn, rand, init, dropout, RReLU, GAN noise)."""
    RNG.bit_generator.state = np.random.PCG64(seed).state
