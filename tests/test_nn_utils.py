"""clip_grad_norm_, clip_grad_value_ and flat parameter vectors."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
from nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters


def with_grads(*grads):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = ag.tensor(g)
        params.append(p)
    return params


def test_clip_grad_norm_scales_by_max_norm_over_total():
    params = with_grads(np.array([3.0, 0.0]), np.array([[4.0]]))
    total = clip_grad_norm_(params, 1.0)
    assert isinstance(total, float) and total == 5.0
    np.testing.assert_allclose(params[0].grad.data, [3 / (5 + 1e-6), 0])
    np.testing.assert_allclose(params[1].grad.data, [[4 / (5 + 1e-6)]])
    small = with_grads(np.array([0.3, 0.4]))
    assert clip_grad_norm_(small, 1.0) == 0.5
    np.testing.assert_array_equal(small[0].grad.data, [0.3, 0.4])  # untouched below max
    inf = with_grads(np.array([-3.0, 2.0]))
    assert clip_grad_norm_(inf, 1.0, norm_type=float("inf")) == 3.0
    assert clip_grad_norm_(nn.Linear(2, 2).parameters(), 1.0) == 0.0  # no grads yet


def test_clip_grad_norm_on_a_model_keeps_the_grad_arrays():
    model = nn.Linear(3, 2)
    (model(ag.ones(4, 3)) * 100).sum().backward()
    arrays = [p.grad.data for p in model.parameters()]
    clip_grad_norm_(model.parameters(), 0.5)
    total = np.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum())
                        for p in model.parameters()))
    assert abs(total - 0.5) < 1e-4
    assert all(p.grad.data is a for p, a in zip(model.parameters(), arrays))


def test_clip_grad_value():
    params = with_grads(np.array([-3.0, 0.5, 2.0]))
    clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad.data, [-1.0, 0.5, 1.0])


def test_parameter_vectors_round_trip():
    model = nn.Linear(3, 2)
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (8,)
    vector_to_parameters(vec.data * 0 + 1, model.parameters())
    assert np.all(model.weight.data == 1) and np.all(model.bias.data == 1)


def test_clipping_names_bad_arguments():
    model = nn.Linear(2, 3)
    model(np.ones((1, 2), np.float32)).sum().backward()
    params = list(model.parameters())
    for fn in (clip_grad_norm_, clip_grad_value_):
        with pytest.raises(TypeError, match=f"{fn.__name__}: expected parameters, got a "
                                            f"Linear module; pass model.parameters"):
            fn(model, 1.0)
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be a positive "
                                         "number or inf, got 'fro'"):
        clip_grad_norm_(params, 1.0, norm_type="fro")
    with pytest.raises(ValueError, match="norm_type must be a positive number or inf, got 0"):
        clip_grad_norm_(params, 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip_grad_norm_: max_norm must be a non-negative number"):
        clip_grad_norm_(params, -1.0)
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be a non-negative"):
        clip_grad_value_(params, -1.0)
    with pytest.raises(TypeError, match="clip_grad_norm_: expected Tensors"):
        clip_grad_norm_([np.ones(2)], 1.0)
    expected = max(float(np.max(np.abs(p.grad.data))) for p in params)
    assert clip_grad_norm_(params, 1e9, norm_type="inf") == expected  # PyTorch accepts 'inf'
