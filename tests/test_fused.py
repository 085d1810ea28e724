"""optim.fused.axpy, SGD's update: one fused multiply-add per element (BLAS via SciPy),
and numpy's two passes when SciPy is missing or fused=False."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import optim
from optim import fused

needs_blas = pytest.mark.skipif(not fused.blas_table(), reason="SciPy's BLAS is not installed")


def fma_reference(a, x, y):
    """y + a x rounded once (up to a rare double rounding: float64 holds a*x exactly)."""
    exact = y.astype(np.float64) + np.float64(np.float32(a)) * x.astype(np.float64)
    return exact.astype(np.float32)


@needs_blas
@pytest.mark.parametrize("shape", [(), (7,), (256, 79), (3, fused.CHUNK + 5)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_blas_axpy_updates_y_in_place_rounding_once_or_twice(shape, order):
    rng = np.random.default_rng(0)
    x = np.asarray(rng.standard_normal(shape), np.float32, order=order)
    y = np.asarray(rng.standard_normal(shape), np.float32, order=order)
    once, twice, before = fma_reference(-0.01, x, y), y + np.float32(-0.01) * x, y
    fused.axpy(-0.01, x, y)
    assert y is before
    # Each element is the fused multiply-add's or numpy's: which, the BLAS kernel
    # decides (OpenBLAS's Haswell kernel on an AMD EPYC fuses some, other kernels all).
    assert np.all((y == once) | (y == twice))


@needs_blas
def test_blas_axpy_is_called_in_chunks_that_stay_on_one_thread(monkeypatch):
    calls = []
    blas = fused.blas_table()[np.dtype(np.float32)]

    def spy(x, y, a):
        calls.append(y.size)
        return blas(x, y, a=a)

    monkeypatch.setitem(fused.blas_table(), np.dtype(np.float32), spy)
    x, y = np.ones(2 * fused.CHUNK + 3, np.float32), np.zeros(2 * fused.CHUNK + 3, np.float32)
    fused.axpy(2.0, x, y)
    assert calls == [fused.CHUNK, fused.CHUNK, 3]
    assert np.all(y == 2.0)


class Subclass(np.ndarray):
    pass


@pytest.mark.parametrize("fuse", [True, False])
def test_axpy_falls_back_to_numpy_for_unlike_layouts_and_dtypes(fuse):
    rng = np.random.default_rng(1)
    x64 = rng.standard_normal((5, 6))
    cases = [(x64.astype(np.float32), np.zeros((6, 5), np.float32).T),  # C into F
             (x64[:, ::2], np.zeros((5, 3))),  # strided x
             (x64[:, ::2], np.zeros((5, 6))[:, ::2]),  # strided alike: not contiguous
             (x64, np.zeros((5, 6), np.float32)),  # float64 into float32
             (x64, np.zeros((5, 6)).view(Subclass))]  # not numpy's own array type
    for x, y in cases:
        fused.axpy(0.5, x, y, fuse)
        np.testing.assert_allclose(y, 0.5 * x, rtol=1e-6)


def sgd_run(fuse, dtype, kwargs, steps=5):
    rng = np.random.default_rng(2)
    p = ag.tensor(rng.standard_normal((33, 17)).astype(dtype), requires_grad=True)
    opt = optim.SGD([p], **kwargs, fused=fuse)
    for _ in range(steps):
        p.grad = ag.tensor(rng.standard_normal((33, 17)).astype(dtype))
        opt.step()
    return p.data


SGD_CONFIGS = [dict(lr=0.01), dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=1e-2),
               dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3)]


@needs_blas
@pytest.mark.parametrize("kwargs", SGD_CONFIGS)
def test_sgd_fused_and_numpy_updates_agree_to_a_rounding(kwargs):
    a, b = sgd_run(True, np.float32, kwargs), sgd_run(False, np.float32, kwargs)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@needs_blas
@pytest.mark.parametrize("kwargs", SGD_CONFIGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_fused_matches_torch_to_a_rounding(kwargs, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for shape in [(), (7,), (64, 3, 3, 3), (3, fused.CHUNK + 1)]:
        x0 = rng.standard_normal(shape).astype(dtype)
        p, t = ag.tensor(x0.copy(), requires_grad=True), torch.tensor(x0.copy(),
                                                                      requires_grad=True)
        ours, theirs = optim.SGD([p], **kwargs, fused=True), torch.optim.SGD([t], **kwargs)
        for _ in range(4):
            g = rng.standard_normal(shape).astype(dtype)
            p.grad, t.grad = ag.tensor(g.copy()), torch.tensor(g.copy())
            ours.step()
            theirs.step()
        # Bit for bit where the BLAS kernel fuses every element, as PyTorch's does.
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=4 * np.finfo(dtype).eps,
                                   atol=4 * np.finfo(dtype).eps)


def test_scipy_loads_on_first_use_only():
    import subprocess
    import sys

    code = ("import sys, optim; print('scipy.linalg' in sys.modules); "
            "import autograd_core as ag; optim.SGD([ag.tensor([1.0], requires_grad=True)]); "
            "print(optim.fused._TABLE is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]


def test_sgd_fused_true_without_blas_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fused, "_TABLE", {})
    p = ag.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"SGD\(fused=True\) needs SciPy"):
        optim.SGD([p], lr=0.1, fused=True)
    assert optim.SGD([p], lr=0.1).fused is False  # the default falls back to numpy
