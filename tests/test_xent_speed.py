"""The cheaper routes of softmax cross-entropy: numpy's max kernel equals np.max, the
class-index op equals the general one (and PyTorch's values at non-finite logits),
and the optimizer's inline gradient test still rejects what it rejected."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn.functional as F
import optim
from autograd_core import kernels


@pytest.mark.parametrize("seed", range(20))
def test_numpy_max_kernel_equals_np_max(seed):
    """Over short rows (the transposed route) and everything else (np.max itself),
    with inf and nan in the rows; the dtype and shape kept."""
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 300)), int(rng.choice([1, 2, 10, 32, 33]))
    x = rng.standard_normal((n, c)).astype(rng.choice([np.float32, np.float64]))
    if seed % 2:
        x.flat[rng.integers(0, x.size, 3)] = rng.choice([np.inf, -np.inf, np.nan], 3)
    if seed % 5 == 0:
        x = x.T.copy().T  # not C-contiguous
    for axis in (1, -1, 0, None):
        for keepdims in (True, False):
            got = kernels.numpy_max(x, axis=axis, keepdims=keepdims)
            want = np.max(x, axis=axis, keepdims=keepdims)
            assert got.dtype == want.dtype and np.shape(got) == np.shape(want)
            np.testing.assert_array_equal(got, want)
    ints = rng.integers(-5, 5, (n, c))
    np.testing.assert_array_equal(kernels.numpy_max(ints, axis=1), np.max(ints, axis=1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_op_equals_general_op(reduction, dtype):
    """The class-index op against the general one, which an ignore_index inside
    [0, C) selects (here a class no target is)."""
    rng = np.random.default_rng(0)
    n, c = 64, 10
    data = rng.standard_normal((n, c)).astype(dtype) * 3
    t = ag.as_tensor(rng.integers(0, c - 1, n))  # never the last class
    results = []
    for ignore_index in (-100, c - 1):
        x = ag.tensor(data, requires_grad=True)
        loss = F.cross_entropy(x, t, reduction=reduction, ignore_index=ignore_index)
        assert loss.dtype == dtype
        ag.sum(loss).backward()
        results.append((loss.numpy(), x.grad.numpy()))
    (l1, g1), (l2, g2) = results
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(l1, l2, rtol=tol, atol=tol)
    np.testing.assert_allclose(g1, g2, rtol=tol, atol=tol)


def test_class_op_nan_rows_without_warning():
    """A row whose max is +inf or nan, or that is all -inf, is nan (loss and gradient);
    the other rows keep their values; -inf in a finite row and +-1e4 are fine."""
    x = np.array([[1.0, np.inf, 0.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 1.0],
                  [1e4, -1e4, 0.0], [-np.inf, 2.0, 1.0], [0.5, 0.25, -1e4]], np.float32)
    t = np.array([0, 1, 2, 0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xt = ag.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, t, reduction="none")
        loss.backward(ag.ones_like(loss))
    values, grad = loss.numpy(), xt.grad.numpy()
    assert np.isnan(values[:3]).all() and np.isnan(grad[:3]).all()
    assert np.isfinite(values[3:]).all() and np.isfinite(grad[3:]).all()
    np.testing.assert_allclose(values[3], 0.0, atol=1e-6)  # 1e4 is the target's
    z = np.array([2.0, 1.0]) - 2.0
    np.testing.assert_allclose(values[4], -(z[0] - np.log(np.exp(z).sum())), rtol=1e-6)
    assert values.dtype == np.float32 and grad.dtype == np.float32


def test_optimizer_rejects_a_bad_gradient_and_changes_nothing():
    """The inline test passes the usual gradient and hands a bad one to the full
    checks, which raise before any parameter moves."""
    a, b = ag.tensor(np.ones(3, np.float32), requires_grad=True), \
        ag.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = ag.tensor(np.ones(3, np.float32))
    b._grad = ag.tensor(np.ones(3, np.float32))  # wrong shape, past the setter's check
    with pytest.raises(ValueError, match=r"SGD: gradient of parameter 1 \(param group 0\) "
                                         r"has shape \(3,\), the parameter \(2,\)"):
        opt.step()
    np.testing.assert_array_equal(a.numpy(), np.ones(3))
    b._grad = None
    opt.step()
    np.testing.assert_array_equal(a.numpy(), np.full(3, 0.5))
