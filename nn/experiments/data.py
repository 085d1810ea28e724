"""The data every experiment uses: scikit-learn's bundled 8x8 digits.

No download (`sklearn.datasets.load_digits` ships with scikit-learn: 1,797
images, 10 classes). The split is fixed and stratified (a quarter of each
class held out) whatever the seed, and features are standardised with the
training set's statistics, as in examples/digits.py, so numbers from
different experiments and seeds are comparable.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

import numpy as np

SPLIT_SEED = 0


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(y), bool)
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: len(idx) // 4]] = True
    mean, std = x[~test].mean(axis=0), x[~test].std(axis=0)
    std[std == 0] = 1.0  # pixels that are always blank stay 0
    x = (x - mean) / std
    return x[~test], y[~test], x[test], y[test]


def load_digits(images: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): 1,352 + 445 samples, float32 features
    standardised per pixel; `images=True` shapes x as (N, 1, 8, 8) for a CNN."""
    x_train, y_train, x_test, y_test = (a.copy() for a in _digits())
    if images:
        x_train, x_test = x_train.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    return x_train, y_train, x_test, y_test


def one_blas_thread():
    """These matrices are tiny: BLAS threads only add overhead (and on a busy
    machine spinning threads make a step many times slower)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
