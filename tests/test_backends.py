"""Every registered op and composite runs on any array-API backend.

Each op's own sample, in float64, runs on numpy and on array-api-strict (on
its non-default device, "device1"): the forward values, every input's
gradient for a fixed random upstream gradient, and the second-order
gradient (of the first-order gradients against fixed random weights) must
equal numpy's. No op is skipped: one that does not run on strict fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import all_names

import autograd_core as ag
from autograd_core import kernels
from autograd_core.opcheck import run_on
from autograd_core.registry import REGISTRY

xps = pytest.importorskip("array_api_strict")

NAMES = all_names()
SEEDS = (0, 1, 2, 3, 4)
DEVICE1 = xps.Device("device1")
TOL = {"rtol": 1e-12, "atol": 1e-12}


def _numpy(a: np.ndarray):
    return a


def _strict(a: np.ndarray):
    return xps.asarray(a, device=DEVICE1)





def _same(got, want, what: str) -> None:
    assert len(got) == len(want), what
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert (a is None) == (b is None), f"{what} {i}: {a} vs {b}"
        if b is not None:
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), err_msg=f"{what} {i}",
                                       **TOL)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", NAMES)
def test_op_on_array_api_strict_equals_numpy(name, seed):
    want = run_on(name, seed, _numpy)
    got = run_on(name, seed, _strict)
    _same(got["forward"], want["forward"], f"{name}: forward")
    _same(got["first"], want["first"], f"{name}: gradient of input")
    _same(got["second"], want["second"], f"{name}: second-order gradient of input")


def test_mixing_numpy_and_strict_names_both_devices():
    a = ag.as_tensor(np.ones(3))
    b = ag.as_tensor(_strict(np.ones(3)))
    with pytest.raises(RuntimeError, match=r"cpu.*array_api_strict:device1|"
                                           r"array_api_strict:device1.*cpu"):
        ag.add(a, b)
    with pytest.raises(RuntimeError, match="array_api_strict:device1.*cpu|cpu.*device1"):
        ag.add(b, a)


def test_mixing_strict_devices_names_both():
    a = ag.as_tensor(_strict(np.ones(3)))
    b = ag.as_tensor(xps.asarray(np.ones(3), device=xps.Device("CPU_DEVICE")))
    with pytest.raises(RuntimeError) as err:
        ag.add(a, b)
    assert "array_api_strict:device1" in str(err.value)
    assert "array_api_strict:CPU_DEVICE" in str(err.value)
    with pytest.raises(RuntimeError) as err:
        ag.matmul(b, a)
    assert "array_api_strict:device1" in str(err.value)
    assert "array_api_strict:CPU_DEVICE" in str(err.value)


# -- numpy's kernels beside the generic ones: equal ------------------------------------
@pytest.mark.parametrize("seed", range(40))
def test_generic_einsum_equals_numpys(seed):
    op = REGISTRY["einsum"]
    ops, params = op.sample(np.random.default_rng(seed))
    spec = params["subscripts"]
    np.testing.assert_allclose(kernels.generic_einsum(np)(spec, *ops),
                               kernels.numpy_einsum(spec, *ops), **TOL)


@pytest.mark.parametrize("seed", range(40))
def test_generic_windows_equal_numpys(seed):
    from nn.functional.conv_ops import _sample_window, pair, window_geometry
    rng = np.random.default_rng(seed)
    shape, params = _sample_window(rng)
    x = rng.standard_normal(shape)
    geometry = window_geometry(shape, params["kernel_size"], params["stride"],
                               params["padding"], params["dilation"])
    dil = pair(params["dilation"])
    np.testing.assert_array_equal(kernels.generic_windows(np)(x, geometry, dil),
                                  kernels.numpy_windows(x, geometry, dil))


@pytest.mark.parametrize("seed", range(40))
def test_generic_indexing_and_scatter_add_equal_numpys(seed):
    from autograd_core.backend import _generic_index_add
    from autograd_core.ops.shape import _sample_index
    rng = np.random.default_rng(seed)
    (x,), params = _sample_index(rng)
    index = params["index"]
    np.testing.assert_array_equal(kernels.take_index(np, x, index), x[index])
    src = rng.standard_normal(x[index].shape)
    scatter = kernels.generic_scatter_add(np, _generic_index_add(np))
    np.testing.assert_allclose(scatter(x, index, src), kernels.numpy_scatter_add(x, index, src),
                               **TOL)


@pytest.mark.parametrize("seed", range(30))
def test_numpy_where_kernel_equals_np_where(seed):
    """The numpy backend's where (the kept branch's bits times the mask when the other
    branch is 0) gives np.where's values bit for bit: +0.0 where masked, inf, nan and
    -0.0 kept; either branch 0; float16, 32 and 64; strided and small arrays."""
    rng = np.random.default_rng(seed)
    big = seed % 2 == 0  # above the kernel's size threshold
    shape = (int(rng.integers(16, 40)), int(rng.integers(16, 40))) if big else \
        tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(0, 3))))
    cond = rng.random(shape) < 0.5
    x = rng.standard_normal(shape).astype(rng.choice([np.float16, np.float32, np.float64]))
    if x.size:
        x.flat[rng.integers(0, x.size, 4)] = rng.choice([np.inf, -np.inf, np.nan, -0.0], 4)
    if seed % 3 == 0 and x.ndim == 2:
        x, cond = x.T, cond.T  # not C-contiguous
    for args in ((cond, x, 0), (cond, 0, x), (cond, x, 0.0), (cond, x, 2.0)):
        got, want = kernels.numpy_where(*args), np.where(*args)
        assert got.dtype == want.dtype and got.shape == want.shape
        bits = f"u{got.dtype.itemsize}"
        np.testing.assert_array_equal(np.ascontiguousarray(got).view(bits),
                                      np.ascontiguousarray(want).view(bits))


@pytest.mark.parametrize("seed", range(10))
def test_masked_kernel_broadcasts_and_writes_through_out(seed):
    """kernels.masked (the pooling gradients' mask): np.where(mask, a, 0) bit for bit
    when the mask broadcasts against a, and written into a strided out."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((3, 4, 5)).astype(rng.choice([np.float32, np.float64]))
    a.flat[rng.integers(0, a.size, 4)] = rng.choice([np.inf, -np.inf, np.nan, -0.0], 4)
    mask = rng.random((2, 1, 3, 4, 5)) < 0.5
    want = np.where(mask, a, 0).astype(a.dtype)
    bits = f"u{a.dtype.itemsize}"
    np.testing.assert_array_equal(kernels.masked(mask, a).view(bits), want.view(bits))
    base = np.full((5, 4, 3, 1, 2), 7, a.dtype)
    out = base.transpose(4, 3, 2, 1, 0)  # strided, as the pooling tiles
    assert kernels.masked(mask, a, out=out) is out
    np.testing.assert_array_equal(np.ascontiguousarray(out).view(bits), want.view(bits))


_VALUES = [np.float32(2.5), np.array(3.0), np.arange(6, dtype=np.int8).reshape(2, 3),
           np.array([[True, False], [True, True]]), np.ones((2, 0, 3), np.float32),
           np.random.default_rng(0).standard_normal((4, 3, 2)).astype(np.float32),
           np.asfortranarray(np.random.default_rng(1).standard_normal((3, 5)))]


@pytest.mark.parametrize("x", _VALUES, ids=range(len(_VALUES)))
def test_numpy_c_routes_equal_numpys_functions(x):
    """The numpy backend's sum, max, min, astype and reshape (the C routes under numpy's
    Python wrappers) give numpy's values, dtypes and types, and raise where it raises."""
    def same(got, want):
        assert type(got) is type(want) and np.shape(got) == np.shape(want)
        assert np.result_type(got) == np.result_type(want)
        np.testing.assert_array_equal(got, want)

    axes = [None] + list(range(np.ndim(x))) + ([(0, -1)] if np.ndim(x) > 1 else [])
    for axis in axes:
        for keepdims in (False, True):
            same(kernels.numpy_sum(x, axis=axis, keepdims=keepdims),
                 np.sum(x, axis=axis, keepdims=keepdims))
            for mine, numpys in ((kernels.numpy_max, np.max), (kernels.numpy_min, np.min)):
                try:
                    want = numpys(x, axis=axis, keepdims=keepdims)
                except ValueError:  # a zero-size reduction
                    with pytest.raises(ValueError):
                        mine(x, axis=axis, keepdims=keepdims)
                    continue
                same(mine(x, axis=axis, keepdims=keepdims), want)
    same(kernels.numpy_sum(x, dtype=np.float64), np.sum(x, dtype=np.float64))
    for copy in (True, False):
        same(kernels.numpy_astype(x, np.float32, copy=copy), np.astype(x, np.float32, copy=copy))
    copied = kernels.numpy_astype(x, x.dtype)
    assert not np.shares_memory(copied, x)
    if isinstance(x, np.ndarray):
        for copy in (None, True):
            got = kernels.numpy_reshape(x, (-1,), copy=copy)
            same(got, np.reshape(x, (-1,), copy=copy))
            assert np.shares_memory(got, x) == np.shares_memory(np.reshape(x, (-1,), copy=copy), x)


KERNEL_OPS = sorted(name for name, op in REGISTRY.items() if op.numpy_forward is not None)


def test_some_op_has_a_numpy_kernel():
    assert "cross_entropy_classes" in KERNEL_OPS  # the test below is not vacuous


def _kernel_sample(op, rng, dtype, nonfinite: bool):
    args, params = op.sample(rng)
    args = tuple(np.array(a, dtype) if np.asarray(a).dtype.kind == "f" else a for a in args)
    if nonfinite:
        x = args[0]
        x.flat[rng.integers(0, x.size, 2)] = rng.choice([np.inf, -np.inf, np.nan], 2)
    return args, params


@pytest.mark.parametrize("nonfinite", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("name", KERNEL_OPS)
def test_numpy_kernels_equal_the_generic_forward_and_rule(name, seed, dtype, nonfinite):
    """An op's numpy kernels (defop's numpy=) give its generic pair's values: the
    forward's result and saved arrays, and the rule's gradients from them, in float64
    and float32, also with inf and nan in the first input (where a kernel may hand
    over to the generic route)."""
    from autograd_core.backend import NUMPY
    from autograd_core.registry import NP

    op, rng = REGISTRY[name], np.random.default_rng(seed)
    args, params = _kernel_sample(op, rng, dtype, nonfinite)
    (got, got_saved), (want, want_saved) = (op.numpy_forward(*args, **params),
                                            op.forward(NUMPY.xp, *args, **params))
    tol = TOL if dtype == np.float64 else {"rtol": 2e-6, "atol": 1e-6}
    for a, b in ((got, want), (got_saved, want_saved)):
        assert type(a) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, **tol)
    g = np.asarray(rng.standard_normal(np.shape(want)), dtype)
    needs = tuple(a if np.asarray(a).dtype.kind == "f" else None for a in args)
    kernel = op.vjp.numpy(NP, g, got, args, needs, **params, saved=got_saved)
    generic = op.vjp.generic(NP, g, want, args, needs, **params, saved=want_saved)
    for a, b in zip(kernel, generic, strict=True):
        assert (a is None) == (b is None)
        if b is not None:
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, **tol)
    assert op.vjp(NP, g, got, args, needs, **params, saved=got_saved)[0] is not None
