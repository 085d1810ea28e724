"""Higher-order gradients and the function transforms."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag


def elementwise_derivative(f):
    """x -> f'(x) elementwise, for an elementwise f: the gradient of sum(f(x))."""
    return ag.grad(lambda t: f(t).sum())


def test_third_derivative_of_tanh_matches_closed_form():
    x = np.linspace(-2, 2, 7)
    d = elementwise_derivative
    d3 = d(d(d(ag.tanh)))
    t = np.tanh(x)
    # tanh''' = -2 (1 - t^2)(1 - 3 t^2)
    np.testing.assert_allclose(d3(x).data, -2 * (1 - t**2) * (1 - 3 * t**2), rtol=1e-5)


def test_third_derivative_of_softplus_composed_from_ops():
    x = np.array([-1.5, 0.3, 2.0])
    softplus = lambda t: ag.log1p(ag.exp(t))  # noqa: E731
    s = 1 / (1 + np.exp(-x))
    d = elementwise_derivative
    d3 = d(d(d(softplus)))(x)
    np.testing.assert_allclose(d3.data, s * (1 - s) * (1 - 2 * s), rtol=1e-5)


def test_scalar_grad_of_grad_composes_directly():
    f = lambda t: t ** 4  # noqa: E731
    assert ag.grad(ag.grad(f))(2.0).item() == pytest.approx(48.0)
    assert ag.grad(ag.grad(ag.grad(f)))(2.0).item() == pytest.approx(48.0)


def test_create_graph_gives_a_differentiable_gradient():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = (x ** 3).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    (gx,) = ag.gradients(g.sum(), x)
    np.testing.assert_allclose(gx.data, 6 * x.data)


def test_value_and_grad_and_argnums():
    f = lambda a, b: (a * b ** 2).sum()  # noqa: E731
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    v, g = ag.value_and_grad(f)(a, b)
    assert v.item() == 1 * 9 + 2 * 16
    np.testing.assert_allclose(g.data, b ** 2)
    ga, gb = ag.grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(gb.data, 2 * a * b)


def test_grad_of_non_scalar_is_refused():
    with pytest.raises(TypeError, match="one-element"):
        ag.grad(lambda t: t * 2)(np.ones(3))


def test_jacobian_shape_and_values():
    A = np.arange(6.0).reshape(2, 3)
    jac = ag.jacobian(lambda x: ag.matmul(A, x) ** 2)(np.array([1.0, -1.0, 2.0]))
    y = A @ np.array([1.0, -1.0, 2.0])
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac.data, 2 * y[:, None] * A)
    j2 = ag.jacobian(lambda x: x * 2)(np.ones((2, 2)))
    assert j2.shape == (2, 2, 2, 2)


def test_hessian_of_quadratic_form():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    H = ag.hessian(lambda x: ag.matmul(x, ag.matmul(A, x)) / 2 + ag.sin(x).sum())(
        np.array([0.5, -0.2]))
    np.testing.assert_allclose(H.data, A - np.diag(np.sin([0.5, -0.2])), rtol=1e-6)


def test_hvp_matches_hessian_without_forming_it():
    f = lambda x: (ag.exp(x) * x).sum() + (x[0] * x[1]) ** 2  # noqa: E731
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, -1.0])
    value, hv = ag.hvp(f, (x,), (v,))
    H = ag.hessian(f)(x).data
    np.testing.assert_allclose(hv.data, H @ v, rtol=1e-6)
    assert value.item() == pytest.approx(f(ag.tensor(x)).item())


def test_jvp_is_forward_mode_result():
    f = lambda x: ag.tanh(x) * x[::-1]  # noqa: E731
    x, v = np.array([0.1, 0.5, -0.3]), np.array([1.0, 0.0, 2.0])
    out, tangent = ag.jvp(f, (x,), (v,))
    J = ag.jacobian(f)(x).data
    np.testing.assert_allclose(tangent.data, J @ v, rtol=1e-6)
    np.testing.assert_allclose(out.data, np.tanh(x) * x[::-1])


def test_vjp_returns_one_gradient_per_primal():
    out, vjp_fn = ag.vjp(lambda a, b: a * b, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    ga, gb = vjp_fn(np.array([1.0, 10.0]))
    np.testing.assert_allclose(ga.data, [3.0, 40.0])
    np.testing.assert_allclose(gb.data, [1.0, 20.0])
    ga2, _ = vjp_fn(np.ones(2))  # the graph is kept for further calls
    np.testing.assert_allclose(ga2.data, [3.0, 4.0])


def test_wgan_gp_penalty_is_twice_differentiable():
    rng = np.random.default_rng(0)
    W1 = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w2 = ag.tensor(rng.standard_normal(4), requires_grad=True)

    def penalty(W1, w2):
        x = ag.tensor(rng.standard_normal((5, 3)) * 0 + np.linspace(-1, 1, 15).reshape(5, 3),
                      requires_grad=True)
        critic = ag.matmul(ag.tanh(ag.matmul(x, W1.T)), w2)
        (gx,) = ag.gradients(critic, x, grad_outputs=np.ones(5), create_graph=True)
        return ((ag.norm(gx, axis=1) - 1) ** 2).mean()

    assert ag.gradcheck(penalty, (W1, w2))
    assert ag.gradgradcheck(penalty, (W1, w2))


def test_gradients_does_not_touch_grad_and_reports_unused():
    x = ag.tensor([1.0], requires_grad=True)
    unused = ag.tensor([1.0], requires_grad=True)
    y = (x * 3).sum()
    (g,) = ag.gradients(y, x, retain_graph=True)
    assert x.grad is None and g.item() == 3.0
    with pytest.raises(RuntimeError, match="not used"):
        ag.gradients(y, [x, unused])


def test_gradient_wrt_intermediate_tensor():
    x = ag.tensor([2.0], requires_grad=True)
    h = x * x
    y = ag.exp(h).sum()
    (gh,) = ag.gradients(y, h)
    np.testing.assert_allclose(gh.data, np.exp(4.0), rtol=1e-6)


def test_gradients_computes_only_what_leads_to_the_inputs():
    calls = []

    class Spy(ag.Function):
        @staticmethod
        def forward(ctx, w):
            return w * 2

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g * 2

    w = ag.tensor([1.0, 2.0], requires_grad=True)
    x = ag.tensor([3.0, 4.0], requires_grad=True)
    y = (Spy.apply(w) * x).sum()
    (gx,) = ag.gradients(y, x, retain_graph=True)
    np.testing.assert_allclose(gx.data, [2.0, 4.0])
    assert calls == [] and w.grad is None  # the weight branch was never differentiated
    (gw,) = ag.gradients(y, w)
    np.testing.assert_allclose(gw.data, [6.0, 8.0])
    assert calls == [1]


def test_a_numpy_integer_argnums_gives_a_bare_result_as_an_int_does():
    f = lambda a, b: (a * b).sum()  # noqa: E731
    g = ag.grad(f, argnums=np.int64(1))(np.ones(2), np.full(2, 3.0))
    assert isinstance(g, ag.Tensor) and g.tolist() == [1.0, 1.0]
