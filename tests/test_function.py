"""Custom ops with ag.Function: forward on arrays, backward on Tensors."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag


class Cube(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2


class ScaledAdd(ag.Function):
    @staticmethod
    def forward(ctx, a, b, scale=1.0):
        ctx.scale = scale
        return a + scale * b

    @staticmethod
    def backward(ctx, g):
        return g, g * ctx.scale


def test_custom_function_forward_and_backward():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name == "Cube"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 12.0])


def test_custom_function_with_params_and_two_inputs():
    a = ag.tensor([1.0], requires_grad=True)
    b = ag.tensor([2.0], requires_grad=True)
    ScaledAdd.apply(a, b, scale=5.0).sum().backward()
    assert a.grad.item() == 1.0 and b.grad.item() == 5.0


def test_custom_function_is_checked_like_a_builtin_to_second_order():
    x = ag.tensor(np.array([0.5, -1.2, 2.0]), requires_grad=True)
    assert ag.gradcheck(Cube.apply, (x,))
    assert ag.gradgradcheck(Cube.apply, (x,))


def test_a_wrong_backward_fails_gradcheck():
    class Wrong(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return np.sin(x)

        @staticmethod
        def backward(ctx, g):
            return g  # should be g * cos(x)

    x = ag.tensor(np.array([0.3, 1.0]), requires_grad=True)
    with pytest.raises(ag.GradcheckError, match="input 0"):
        ag.gradcheck(Wrong.apply, (x,))
    assert ag.gradcheck(Wrong.apply, (x,), raise_exception=False) is False


def test_no_graph_without_grad():
    y = Cube.apply(ag.tensor([2.0]))
    assert y.grad_fn is None and y.item() == 8.0
