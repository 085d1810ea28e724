"""The "More ops" of API.md: values against numpy and known results, kinks,
tuple outputs, error messages, and the forwards on a second backend.

Their gradients, first and second order, are checked by test_op_gradients.py
from each op's sampler; here only what a sampler keeps away from: zeros in
cumprod and prod, ties in sort, the origin of arctan2.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn.functional as F
from autograd_core.backend import NUMPY, backend_of
from autograd_core.gradcheck import check, grad_function
from autograd_core.registry import REGISTRY


def t(a, grad=False):
    return ag.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kw)


# -- elementwise -------------------------------------------------------------------
@pytest.mark.parametrize("name, ref, x", [
    ("log2", np.log2, [0.5, 1.0, 8.0]), ("log10", np.log10, [0.1, 1.0, 1e5]),
    ("rsqrt", lambda a: 1 / np.sqrt(a), [0.25, 1.0, 4.0]),
    ("reciprocal", lambda a: 1 / a, [-2.0, 0.5, 4.0]), ("tan", np.tan, [-1.0, 0.0, 1.2]),
    ("sinh", np.sinh, [-3.0, 0.0, 2.0]), ("cosh", np.cosh, [-3.0, 0.0, 2.0]),
    ("arcsin", np.arcsin, [-1.0, 0.3, 1.0]), ("arccos", np.arccos, [-1.0, 0.3, 1.0]),
    ("arctan", np.arctan, [-1e4, 0.0, 3.0]),
])
def test_elementwise_values(name, ref, x):
    np.testing.assert_allclose(quiet(getattr(ag, name), t(x)).data, ref(np.array(x)),
                               rtol=1e-15)


def test_arctan2_quadrants_and_the_origin():
    y, x = t([1.0, 1.0, -1.0, 0.0], True), t([1.0, -1.0, -1.0, 0.0], True)
    out = quiet(ag.arctan2, y, x)
    np.testing.assert_allclose(out.data, np.arctan2(y.data, x.data))
    out.sum().backward()
    # (x, -y) / (x^2 + y^2), and 0 at the origin, where the angle has no gradient
    np.testing.assert_allclose(y.grad.data, [0.5, -0.5, -0.5, 0.0])
    np.testing.assert_allclose(x.grad.data, [-0.5, -0.5, 0.5, 0.0])


def test_roundings_are_exported_without_gradient():
    x = t([-1.5, 0.5, 2.5], True)
    assert ag.floor(x).data.tolist() == [-2.0, 0.0, 2.0]
    assert ag.ceil(x).data.tolist() == [-1.0, 1.0, 3.0]
    assert ag.round(x).data.tolist() == [-2.0, 0.0, 2.0]
    assert not ag.floor(x).requires_grad


# -- erf, erfc, erfinv ---------------------------------------------------------------
def test_erf_and_erfc_to_float64_accuracy():
    x = np.concatenate([np.linspace(-6, 6, 2001), [0.49999, 0.5, -0.5, 26.0]])
    erf, erfc = quiet(ag.erf, t(x)).data, quiet(ag.erfc, t(x)).data
    want_erf = np.array([math.erf(v) for v in x])
    want_erfc = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(erf, want_erf, rtol=2e-15, atol=1e-300)
    np.testing.assert_allclose(erfc, want_erfc, rtol=2e-14, atol=1e-300)
    ends = quiet(ag.erf, t([np.inf, -np.inf, np.nan])).data
    assert ends[0] == 1 and ends[1] == -1 and np.isnan(ends[2])
    assert F.erf is ag.erf and F.erfc is ag.erfc  # nn.functional's names still work


def test_erfinv_inverts_erf_to_float64_accuracy():
    x = np.concatenate([np.linspace(-5.8, 5.8, 4001), [1e-300, -1e-20, 1e-8]])
    y = np.array([math.erf(v) for v in x])
    back = quiet(ag.erfinv, t(y)).data
    np.testing.assert_allclose([math.erf(v) for v in back], y, rtol=0, atol=4e-16)
    inner = np.abs(x) < 1  # erf is steep there: rounding y loses nothing of x
    np.testing.assert_allclose(back[inner], x[inner], rtol=2e-15, atol=1e-300)
    top = np.nextafter(1.0, 0.0)  # the largest float below 1: erfinv = 5.86358...
    assert quiet(ag.erfinv, t([top])).data[0] == pytest.approx(5.863584748755167, rel=1e-14)


def test_erfinv_edges_and_gradient():
    out = quiet(ag.erfinv, t([1.0, -1.0, 1.5, -2.0, np.nan, 0.0])).data
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2:5]).all()
    assert out[5] == 0
    y = t([0.3, -0.7], True)
    x = ag.erfinv(y)
    x.sum().backward()  # sqrt(pi)/2 exp(erfinv(y)^2)
    np.testing.assert_allclose(y.grad.data, math.sqrt(math.pi) / 2 * np.exp(x.data ** 2))
    assert ag.erfinv(ag.tensor(np.float32([0.5]))).dtype == np.float32


# -- scans -------------------------------------------------------------------------
def test_cumsum_and_cumprod_match_numpy():
    x = np.random.default_rng(0).standard_normal((3, 4))
    for axis in (0, 1, -1):
        np.testing.assert_allclose(ag.cumsum(t(x), axis).data, np.cumsum(x, axis))
        np.testing.assert_allclose(ag.cumprod(t(x), axis).data, np.cumprod(x, axis))
    np.testing.assert_allclose(ag.cumsum(t(x), 1, reverse=True).data,
                               np.cumsum(x[:, ::-1], 1)[:, ::-1])
    assert ag.cumsum(t(2.0), 0).data == 2.0


def test_cumsum_gradient_is_the_reversed_cumsum():
    x = t([1.0, 2.0, 3.0], True)
    (ag.cumsum(x, 0) * t([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.data.tolist() == [111.0, 110.0, 100.0]


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 0.5], [0.0, 0.0, 2.0, -1.0],
                               [1.5, 2.0, -0.5, 0.0], [0.0] * 5,
                               [[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]]])
def test_cumprod_gradients_with_zeros(x):
    # cumprod is a polynomial, so central differences are exact enough at its zeros.
    for axis in ([0] if np.ndim(x) == 1 else [0, 1]):
        for reverse in (False, True):
            def fn(a, axis=axis, reverse=reverse):
                return ag.cumprod(a, axis, reverse=reverse)
            report = check(fn, [t(x, True)])
            assert report.ok, report.failures
            first, inputs = grad_function(fn, [t(x, True)], seed=1)
            report = check(first, inputs)
            assert report.ok, report.failures


def test_cumprod_gradient_by_hand():
    x = t([2.0, 0.0, 3.0], True)
    ag.cumprod(x, 0).sum().backward()  # y = (2, 0, 0)
    assert x.grad.data.tolist() == [1.0, 2.0 + 2.0 * 3.0, 0.0]


def test_prod_second_order_at_zeros():
    h = ag.hessian(ag.prod)(np.array([0.0, 0.0, 2.0, 3.0]))
    assert h.data[0, 1] == 6.0 and h.data[1, 0] == 6.0
    assert np.all(np.diag(h.data) == 0)
    for x, params in [([[0.0, 2.0], [0.0, 3.0]], {"axis": 0}),
                      ([[[1.0, 0.0], [2.0, 0.5]], [[0.0, 0.0], [3.0, 1.5]]],
                       {"axis": (0, 2), "keepdims": True}),
                      ([0.0, 1.5, -2.0], {})]:
        def fn(a, params=params):
            return ag.prod(a, **params)
        first, inputs = grad_function(fn, [t(x, True)], seed=2)
        report = check(first, inputs)
        assert report.ok, report.failures


# -- order --------------------------------------------------------------------------
def test_sort_returns_values_and_indices_stably():
    x = t([[3.0, 1.0, 2.0, 1.0], [0.0, -1.0, 5.0, 0.0]], True)
    out = ag.sort(x)
    assert isinstance(out, tuple) and len(out) == 2
    values, indices = out
    assert isinstance(values, ag.Tensor) and isinstance(indices, ag.Tensor)
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.data, np.argsort(x.data, axis=-1, stable=True))
    np.testing.assert_array_equal(values.data, np.sort(x.data, axis=-1))
    down_v, down_i = ag.sort(x, axis=1, descending=True)
    assert down_i.data.tolist() == [[0, 2, 1, 3], [2, 0, 3, 1]]  # ties keep their order
    assert down_v.data.tolist() == [[3.0, 2.0, 1.0, 1.0], [5.0, 0.0, 0.0, -1.0]]
    (values * t([[1.0, 2.0, 3.0, 4.0]] * 2)).sum().backward()
    # each input gets the weight of the place it was sorted to
    assert x.grad.data.tolist() == [[4.0, 1.0, 3.0, 2.0], [2.0, 1.0, 4.0, 3.0]]


def test_sort_puts_nan_last_and_first_when_descending():
    x = t([1.0, np.nan, -1.0])
    assert ag.sort(x)[1].data.tolist() == [2, 0, 1]
    assert ag.sort(x, descending=True)[1].data.tolist() == [1, 0, 2]


def test_argsort_and_topk():
    x = t([[1.0, 4.0, 2.0, 3.0]], True)
    assert ag.argsort(x).data.tolist() == [[0, 2, 3, 1]]
    assert ag.argsort(x, axis=0).data.tolist() == [[0, 0, 0, 0]]
    assert ag.argsort(x, descending=True).data.tolist() == [[1, 3, 2, 0]]
    values, indices = ag.topk(x, 2)
    assert values.data.tolist() == [[4.0, 3.0]] and indices.data.tolist() == [[1, 3]]
    values.sum().backward()
    assert x.grad.data.tolist() == [[0.0, 1.0, 0.0, 1.0]]
    small, where = ag.topk(x, 3, axis=1, largest=False)
    assert small.data.tolist() == [[1.0, 2.0, 3.0]] and where.data.tolist() == [[0, 2, 3]]
    with pytest.raises(ValueError, match=r"topk: k \(5\) is out of range .* \(1, 4\)"):
        ag.topk(x, 5)
    with pytest.raises(IndexError, match=r"sort: axis 2 is out of range .* \(1, 4\)"):
        ag.sort(x, axis=2)


# -- indexing and scatter ---------------------------------------------------------------
def test_gather_as_torch():
    x = t([[1.0, 2.0], [3.0, 4.0]], True)
    out = ag.gather(x, 1, np.array([[0, 0], [1, 0]]))
    assert out.data.tolist() == [[1.0, 1.0], [4.0, 3.0]]
    out.sum().backward()
    assert x.grad.data.tolist() == [[2.0, 0.0], [1.0, 1.0]]
    # an index shorter than x on the other axes reads only their first entries
    assert ag.gather(t(np.arange(12.0).reshape(3, 4)), 0, np.array([[2, 0]])).data.tolist() \
        == [[8.0, 1.0]]
    with pytest.raises(ValueError, match=r"gather: index of shape \(2, 3\) does not match "
                                         r"input of shape \(4,\)"):
        ag.gather(t(np.zeros(4)), 0, np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(IndexError, match="gather: index 2 is out of bounds for axis 1 of size 2"):
        ag.gather(x, 1, np.array([[2, 0], [0, 0]]))
    with pytest.raises(TypeError, match="gather: index must hold integers"):
        ag.gather(x, 1, np.zeros((2, 2)))


def test_scatter_and_scatter_add_as_torch():
    x = t(np.zeros((2, 3)), True)
    src = t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], True)
    index = np.array([[0, 1, 2], [2, 0, 1]])
    out = ag.scatter(x, 1, index, src)
    assert out.data.tolist() == [[1.0, 2.0, 3.0], [5.0, 6.0, 4.0]]
    added = ag.scatter_add(x, 0, np.array([[1, 1, 0]]), src)  # src larger than index
    assert added.data.tolist() == [[0.0, 0.0, 3.0], [1.0, 2.0, 0.0]]
    partial = ag.scatter(t(np.ones((2, 3)), True), 1, np.array([[2], [0]]), src)
    assert partial.data.tolist() == [[1.0, 1.0, 1.0], [4.0, 1.0, 1.0]]
    (partial * t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert src.grad.data.tolist() == [[3.0, 0.0, 0.0], [4.0, 0.0, 0.0]]
    assert ag.scatter(t(np.zeros(3)), 0, np.array([1]), 7.5).data.tolist() == [0.0, 7.5, 0.0]
    dup = ag.scatter_add(t(np.zeros(3)), 0, np.array([1, 1, 1]), t([1.0, 2.0, 3.0]))
    assert dup.data.tolist() == [0.0, 6.0, 0.0]
    with pytest.raises(ValueError, match=r"scatter_add: index of shape \(2, 3\) does not match "
                                         r"input of shape \(2, 3\) and src of shape \(1, 3\)"):
        ag.scatter_add(x, 0, index, src[:1])


def test_scatter_gradient_zeroes_the_written_positions():
    x = t(np.ones((2, 2)), True)
    ag.scatter(x, 0, np.array([[1, 0]]), t([[5.0, 6.0]])).sum().backward()
    assert x.grad.data.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_index_select_and_index_add_as_torch():
    x = t(np.arange(6.0).reshape(2, 3), True)
    out = ag.index_select(x, 1, np.array([2, 0, 2]))
    assert out.data.tolist() == [[2.0, 0.0, 2.0], [5.0, 3.0, 5.0]]
    out.sum().backward()
    assert x.grad.data.tolist() == [[1.0, 0.0, 2.0]] * 2
    src = t(np.ones((2, 2)), True)
    added = ag.index_add(x, 1, np.array([0, 0]), src, alpha=2.0)
    assert added.data.tolist() == [[4.0, 1.0, 2.0], [7.0, 4.0, 5.0]]
    with pytest.raises(ValueError, match=r"index_add: src of shape \(2, 3\) does not match "
                                         r"\(2, 2\)"):
        ag.index_add(x, 1, np.array([0, 1]), t(np.ones((2, 3))))
    with pytest.raises(ValueError, match="index_select: index must be 1-d"):
        ag.index_select(x, 0, np.zeros((1, 1), dtype=np.int64))


def test_masked_fill():
    x = t([[1.0, 2.0], [3.0, 4.0]], True)
    value = t(9.0, True)
    out = ag.masked_fill(x, np.array([True, False]), value)
    assert out.data.tolist() == [[9.0, 2.0], [9.0, 4.0]]
    out.sum().backward()
    assert x.grad.data.tolist() == [[0.0, 1.0], [0.0, 1.0]] and value.grad.data == 2.0
    assert ag.masked_fill(x, np.array([[False], [True]]), -np.inf).data[1].tolist() == \
        [-np.inf, -np.inf]
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(3,\) does not "
                                         r"broadcast to the input of shape \(2, 2\)"):
        ag.masked_fill(x, np.array([True, False, True]), 0.0)
    with pytest.raises(TypeError, match="masked_fill: mask must be bool"):
        ag.masked_fill(x, np.array([1, 0]), 0.0)


def test_one_hot():
    out = ag.one_hot(np.array([[0, 2], [1, 0]]))
    assert out.dtype == np.int64 and out.shape == (2, 2, 3) and not out.requires_grad
    assert out.data[0].tolist() == [[1, 0, 0], [0, 0, 1]]
    assert ag.one_hot(np.array([1]), num_classes=4).data.tolist() == [[0, 1, 0, 0]]
    with pytest.raises(ValueError, match=r"one_hot: class values must be in \[0, 2\), got 3"):
        ag.one_hot(np.array([3]), num_classes=2)


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 3])
def test_tril_triu_match_numpy(k):
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ag.tril(t(x), k).data, np.tril(x, k))
    np.testing.assert_array_equal(ag.triu(t(x), k).data, np.triu(x, k))
    a = t(x, True)
    ag.tril(a, k).sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.tril(np.ones_like(x), k))
    inf = ag.tril(t([[1.0, np.inf], [2.0, 3.0]])).data
    assert inf.tolist() == [[1.0, 0.0], [2.0, 3.0]]  # not inf * 0
    with pytest.raises(ValueError, match=r"triu: needs an input of 2 or more dims, got "
                                         r"shape \(3,\)"):
        ag.triu(t([1.0, 2.0, 3.0]))


def test_getitem_gradient_op_renamed():
    assert "getitem_grad" in REGISTRY and "index_add" not in REGISTRY
    x = t([1.0, 2.0, 3.0], True)
    x[np.array([0, 0, 2])].sum().backward()
    assert x.grad.data.tolist() == [2.0, 0.0, 1.0]


# -- softmax of an empty axis -------------------------------------------------------
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_of_an_empty_axis_is_empty(fn):
    for shape, axis in (((2, 0), -1), ((0, 3), 0), ((0, 3), 1)):
        out = quiet(fn, t(np.zeros(shape)), axis=axis)
        assert out.shape == shape


# -- another backend: array_api_strict on device1 -----------------------------------------
FORWARDS = ["log2", "log10", "rsqrt", "reciprocal", "tan", "sinh", "cosh", "arcsin",
            "arccos", "arctan", "arctan2", "erf", "erfc", "erfinv", "cumsum", "cumprod",
            "take_flat", "scatter_flat", "prod"]
# Rules that reach shape ops still written with numpy (pad, reshape, transpose):
NUMPY_ONLY_RULES = {"cumprod", "prod"}


@pytest.mark.parametrize("name", FORWARDS)
def test_on_array_api_strict(name):
    xps = pytest.importorskip("array_api_strict")
    device, host = xps.Device("device1"), xps.Device("CPU_DEVICE")
    op = REGISTRY[name]
    rng = np.random.default_rng(3)
    for _ in range(3):
        args, params = op.sample(rng)
        args = tuple(np.asarray(a) for a in args)
        on = tuple(xps.asarray(a, device=device) for a in args)
        ops = backend_of(on[0]).ops
        got = getattr(ops, name)(*on, **params)
        assert got.device == device
        want = op.forward(NUMPY.xp, *args, **params)
        np.testing.assert_allclose(np.asarray(xps.asarray(got, device=host)), want,
                                   rtol=1e-13, atol=1e-14)
        if name in NUMPY_ONLY_RULES:
            continue
        g = rng.standard_normal(np.shape(want))
        needs = tuple(a if a.dtype.kind == "f" else None for a in args)  # not None: wanted
        grads = op.vjp(ops, xps.asarray(g, device=device), got, on, needs, **params)
        wants = op.vjp(NUMPY.ops, g, want, args, needs, **params)
        for a, b in zip(grads, wants):
            if b is not None:
                np.testing.assert_allclose(np.asarray(xps.asarray(a, device=host)), b,
                                           rtol=1e-12, atol=1e-13)
