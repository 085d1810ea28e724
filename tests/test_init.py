"""nn.init: PyTorch's gains, fans and distributions; in place, seeded, dtype kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn import init


def big(*shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype))


def test_calculate_gain_table():
    for name in ("linear", "conv2d", "sigmoid", "conv1d"):
        assert init.calculate_gain(name) == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


def test_fans_follow_pytorch():
    assert init._calculate_fan_in_and_fan_out(np.zeros((5, 3))) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(np.zeros((8, 4, 3, 2))) == (24, 48)
    with pytest.raises(ValueError):
        init._calculate_fan_in_and_fan_out(np.zeros(4))


@pytest.mark.parametrize("fn,kwargs,std", [
    (init.xavier_uniform_, {}, math.sqrt(2 / (400 + 300))),
    (init.xavier_normal_, {"gain": 2.0}, 2 * math.sqrt(2 / (400 + 300))),
    (init.kaiming_uniform_, {}, math.sqrt(2 / 1.0001) / math.sqrt(300)),
    (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"},
     math.sqrt(2) / math.sqrt(400)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(300) / math.sqrt(3)),
    (init.normal_, {"mean": 1.0, "std": 0.5}, 0.5),
    (init.uniform_, {"a": -2.0, "b": 4.0}, 6 / math.sqrt(12)),
])
def test_distributions_have_the_right_spread(fn, kwargs, std):
    w = big(400, 300)
    data = w.data
    assert fn(w, **kwargs) is w
    assert w.data is data and w.dtype == np.float32  # in place, dtype kept
    assert abs(w.data.std() - std) < 0.02 * std


def test_uniform_bounds_and_constants():
    w = big(100, 100)
    bound = math.sqrt(6 / 200)
    init.xavier_uniform_(w)
    assert np.abs(w.data).max() <= bound
    init.zeros_(w)
    assert not np.any(w.data)
    init.ones_(w)
    assert np.all(w.data == 1)
    init.constant_(w, 0.25)
    assert np.all(w.data == 0.25)


def test_orthogonal():
    for shape in ((6, 4), (4, 6), (5, 2, 3)):
        w = big(*shape, dtype=np.float64)
        init.orthogonal_(w, gain=2.0)
        flat = w.data.reshape(shape[0], -1)
        gram = flat @ flat.T if shape[0] <= flat.shape[1] else flat.T @ flat
        np.testing.assert_allclose(gram, 4 * np.eye(len(gram)), atol=1e-10)


def test_seeded_by_manual_seed():
    a, b = big(3, 3), big(3, 3)
    ag.manual_seed(11)
    init.normal_(a)
    ag.manual_seed(11)
    init.normal_(b)
    np.testing.assert_array_equal(a.data, b.data)
    ag.manual_seed(11)
    l1 = nn.Linear(4, 4)
    ag.manual_seed(11)
    np.testing.assert_array_equal(nn.Linear(4, 4).weight.data, l1.weight.data)


def test_bad_distribution_parameters_are_named():
    w = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match=r"uniform_: a \(1\) must not exceed b \(0\)"):
        init.uniform_(w, 1, 0)
    with pytest.raises(ValueError, match="normal_: std must be non-negative, got -1"):
        init.normal_(w, 0, -1)


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_,
                                init.xavier_uniform_, init.xavier_normal_])
def test_zero_element_init_is_a_no_op_with_a_warning(fn):
    w = np.empty((3, 0), np.float32)
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        assert fn(w) is w


# -- wrongly typed arguments ----------------------------------------------------------


@pytest.mark.parametrize("fn", [
    init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
    init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_,
])
def test_random_initialisers_reject_an_integer_tensor(fn):
    t = ag.tensor(np.ones((3, 3), int))
    with pytest.raises(TypeError, match=rf"^{fn.__name__}: the tensor must be floating point, "
                                        r"got int64$"):
        fn(t)
    assert (t.data == 1).all()
