"""blas.axpy, the optimizers' y += a * x: BLAS from numpy's own OpenBLAS where the
arrays suit it (large, contiguous, one dtype, not overlapping), numpy's two passes
elsewhere; within a rounding of the exact update either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
import optim
from autograd_core import blas

BIG = blas.MIN_SIZE + 5  # an odd size: BLAS kernels treat a tail apart


def _wheel_has_openblas() -> bool:
    return any((Path(np.__file__).parent.parent / "numpy.libs").glob("libscipy_openblas64_*"))


def test_the_openblas_inside_numpys_wheel_is_found():
    """Where numpy came from a PyPI wheel (CI's), its OpenBLAS serves both dtypes."""
    if not _wheel_has_openblas():
        assert blas.table() == {}
        return
    assert set(blas.table()) == {np.dtype(np.float32), np.dtype(np.float64)}


@pytest.fixture
def calls(monkeypatch):
    """The BLAS calls axpy makes, counted, still computed by BLAS."""
    made = []
    if not blas.table():
        pytest.skip("numpy's OpenBLAS is not there: axpy is numpy's two passes")

    def counted(function):
        def call(*args):
            made.append(args[0])
            return function(*args)
        return call
    counting = {k: counted(f) for k, f in blas.table().items()}
    monkeypatch.setattr(blas, "table", lambda: counting)
    return made


def _within_a_rounding(result, y, a, x):
    """|result - exact| within a rounding of a * x plus one of the sum, twice over (the
    float64 reference is exact for float32, itself rounded for float64)."""
    exact = y.astype(np.float64) + np.float64(y.dtype.type(a)) * x.astype(np.float64)
    tolerance = 2 * (np.spacing(np.abs(a * x).astype(y.dtype)) + np.spacing(np.abs(result)))
    assert np.all(np.abs(result.astype(np.float64) - exact) <= tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blas_updates_in_place_within_a_rounding(calls, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(BIG).astype(dtype)
    y = rng.standard_normal(BIG).astype(dtype)
    y[:100] = 0.01 * x[:100]  # cancellation: a result far smaller than its terms
    before, where = y.copy(), y.ctypes.data
    blas.axpy(-0.01, x, y)
    assert calls == [BIG] and y.ctypes.data == where
    _within_a_rounding(y, before, -0.01, x)
    two_passes = before + dtype(-0.01) * x
    assert np.mean(y == two_passes) > 0.9  # the same numbers but for some roundings


def test_blas_keeps_inf_and_nan(calls):
    x = np.ones(BIG, np.float32)
    y = np.zeros(BIG, np.float32)
    x[[0, -1]], y[[1, -2]] = np.inf, np.nan
    blas.axpy(2.0, x, y)
    assert len(calls) == 1
    assert np.isposinf(y[[0, -1]]).all() and np.isnan(y[[1, -2]]).all()
    assert (y[2:-2] == 2.0).all()


def _cases():
    rng = np.random.default_rng(1)
    big = rng.standard_normal((BIG, 2)).astype(np.float32)
    y = rng.standard_normal((BIG, 2)).astype(np.float32)
    shared = rng.standard_normal(2 * BIG + 1).astype(np.float32)
    return {
        "small": (rng.standard_normal(100).astype(np.float32),
                  rng.standard_normal(100).astype(np.float32)),
        "strided x": (big.T.copy().T, y.copy()),  # Fortran order
        "strided y": (big, np.asfortranarray(y)),
        "two dtypes": (big.astype(np.float64), y.copy()),
        "broadcast x": (big[:1], y.copy()),
        "overlapping": (shared[1:BIG + 1], shared[:BIG]),
        "float16": (big.astype(np.float16), y.astype(np.float16)),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_arrays_that_do_not_suit_blas_take_numpys_two_passes(calls, case):
    x, y = _cases()[case]
    expected = y + (-0.5) * x  # before y changes (x may be a view of y)
    blas.axpy(-0.5, x, y)
    assert calls == []
    assert y.tobytes() == expected.astype(y.dtype).tobytes()


def test_an_array_added_to_itself_takes_blas(calls):
    y = np.arange(BIG, dtype=np.float64)
    blas.axpy(1.0, y, y)
    assert calls == [BIG] and np.array_equal(y, 2 * np.arange(BIG))


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9, "dampening": 0.1}])
def test_sgd_updates_through_axpy_within_a_rounding(calls, kwargs):
    """A large parameter's SGD step goes through BLAS and matches the formula."""
    rng = np.random.default_rng(2)
    start = rng.standard_normal(BIG).astype(np.float32)
    grads = [rng.standard_normal(BIG).astype(np.float32) for _ in range(2)]
    p = ag.tensor(start.copy(), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, **kwargs)
    buf, expected = None, start.astype(np.float64)
    for g in grads:
        p.grad = ag.tensor(g)
        opt.step()
        g64 = g.astype(np.float64)
        if kwargs:
            buf = g64 if buf is None else 0.9 * buf + 0.9 * g64
            g64 = buf
        expected -= np.float64(np.float32(0.1)) * g64
    assert len(calls) == (3 if kwargs else 2)  # the momentum buffer's second step too
    assert np.allclose(p.data, expected, rtol=1e-6, atol=1e-6)
