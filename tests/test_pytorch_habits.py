"""PyTorch's names and numpy's functions on Tensors (API.md, "PyTorch habits")."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag


def _t(values=((1.0, -2.0, 0.5), (3.0, 4.0, -1.0))):
    return ag.tensor(np.array(values), requires_grad=True)


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "var", "std", "norm"])
def test_dim_and_keepdim_are_axis_and_keepdims(name):
    t = _t()
    np.testing.assert_array_equal(getattr(t, name)(dim=1, keepdim=True).data,
                                  getattr(t, name)(axis=1, keepdims=True).data)
    np.testing.assert_array_equal(getattr(ag, name)(t, dim=0).data,
                                  getattr(ag, name)(t, axis=0).data)
    with pytest.raises(TypeError, match="both axis= and dim="):
        getattr(t, name)(axis=0, dim=1)
    with pytest.raises(TypeError, match="both axis= and dim="):
        getattr(ag, name)(t, axis=0, dim=0)  # 0 is given, though falsy


def test_argmax_argmin_take_dim_and_have_no_grad():
    t = _t()
    assert t.argmax(dim=1).tolist() == [0, 1]
    assert ag.argmin(t, axis=0).tolist() == [0, 0, 1]
    assert not ag.argmax(t).requires_grad and ag.argmax(t).item() == 4


def test_tensor_methods_with_pytorchs_names():
    t = _t()
    assert t.view(3, 2).shape == (3, 2) and t.view((6,)).shape == (6,)
    assert t.unsqueeze(0).shape == (1, 2, 3)
    assert t.permute(1, 0).shape == (3, 2)
    assert t.numel() == 6 and t.size == 6  # .size stays numpy's attribute
    c = t.clone()
    assert c.grad_fn is not None and not np.shares_memory(c.data, t.data)
    assert t.double().dtype == np.float64 and t.float().dtype == np.float32
    filled = t.masked_fill(t.detach() > 1, 0.0)
    filled.sum().backward()
    np.testing.assert_array_equal(filled.data, [[1, -2, 0.5], [0, 0, -1]])
    np.testing.assert_array_equal(t.grad.data, [[1, 1, 1], [0, 0, 1]])


def test_softmax_and_log_softmax_are_stable_and_match_their_formulas():
    x = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]])
    t = ag.tensor(x)
    p = t.softmax(dim=1).data
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], np.exp(x[1]) / np.exp(x[1]).sum())
    np.testing.assert_allclose(ag.log_softmax(t, axis=-1).data[1],
                               x[1] - np.log(np.exp(x[1]).sum()))
    assert ag.log_softmax(t).data[0, 0] == 0.0


def test_relu_has_zero_subgradient_at_zero():
    x = ag.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    ag.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


def test_module_level_functions():
    t = ag.tensor([[1.0, np.nan], [np.inf, 2.0]])
    assert ag.cat([t, t], axis=0).shape == (4, 2)
    assert ag.isnan(t).tolist() == [[False, True], [False, False]]
    assert ag.isfinite(t).tolist() == [[True, False], [False, True]]
    assert ag.all(ag.tensor([1, 2])).item() and not ag.any(ag.tensor([0, 0])).item()
    a = np.arange(3.0)
    shared = ag.from_numpy(a)
    a[0] = 7.0
    assert shared.data[0] == 7.0
    for fn in (ag.isnan, ag.all, ag.argmax):
        assert not fn(_t()).requires_grad


def test_numpy_functions_on_tensors_run_the_registered_ops():
    t = _t()
    out = np.tanh(t)
    assert isinstance(out, ag.Tensor) and out.grad_fn.name == "tanh"
    s = np.sum(t, axis=0)
    assert isinstance(s, ag.Tensor) and s.shape == (3,)
    joined = np.concatenate([t, t])
    assert isinstance(joined, ag.Tensor) and joined.shape == (4, 3)
    (np.exp(t) * 2 + np.ones(3)).sum().backward()  # an ndarray on the left too
    np.testing.assert_allclose(t.grad.data, 2 * np.exp(t.data))
    assert isinstance(np.maximum(t, 0), ag.Tensor)
    assert np.less(t, 1).tolist() == [[False, True, True], [False, False, True]]


def test_a_numpy_function_without_an_op_names_what_to_use():
    with pytest.raises(TypeError, match=r"numpy.sinc has no registered op.*use ag\."):
        np.sinc(_t())
    with pytest.raises(TypeError, match="out="):
        np.add(_t(), 1.0, out=np.empty((2, 3)))
