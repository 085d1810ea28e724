"""Optimizers: each rule against hand-derived values, convergence, state dicts, in-place updates.

Gradients come from the real engine: a linear loss sum(p * c) has gradient exactly c,
so a test can feed any gradient sequence it likes; a quadratic a * x^2 / 2 has
gradient a * x, whose trajectories can be written in closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import autograd_core as ag
import optim

ALL = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"]


def param(values, dtype=np.float64):
    return ag.tensor(np.array(values, dtype=dtype), requires_grad=True)


def feed(p, grad):
    """Give p the gradient `grad` through backward on the linear loss sum(p * grad)."""
    p.grad = None
    (p * np.asarray(grad, dtype=p.data.dtype)).sum().backward()


def quadratic_grad(p, a):
    """Backward of f(x) = a * x^2 / 2 (summed), so p.grad = a * x."""
    p.grad = None
    (a * (p * p) / 2).sum().backward()


def run_quadratic(opt, p, a, steps):
    path = []
    for _ in range(steps):
        quadratic_grad(p, a)
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


# -- SGD on f(x) = a x^2 / 2: linear recurrences with closed-form solutions ----------

X0 = np.array([1.0, -2.0, 0.5])


def test_sgd_plain_is_geometric():
    p, a, lr = param(X0), 3.0, 0.1
    path = run_quadratic(optim.SGD([p], lr=lr), p, a, 10)
    expected = np.array([(1 - lr * a) ** t * X0 for t in range(1, 11)])
    np.testing.assert_allclose(path, expected, rtol=1e-12)


def test_sgd_weight_decay_adds_to_curvature():
    # g = a x + lambda x, so the factor per step is 1 - lr (a + lambda).
    p, a, lr, wd = param(X0), 3.0, 0.1, 0.5
    path = run_quadratic(optim.SGD([p], lr=lr, weight_decay=wd), p, a, 10)
    expected = np.array([(1 - lr * (a + wd)) ** t * X0 for t in range(1, 11)])
    np.testing.assert_allclose(path, expected, rtol=1e-12)


@pytest.mark.parametrize("dampening", [0.0, 0.3])
def test_sgd_momentum_matches_matrix_power(dampening):
    # b_1 = g_1 = a x_0 and x_1 = (1 - lr a) x_0; afterwards (x, b) evolves by
    #   b_t = mu b_{t-1} + (1 - tau) a x_{t-1},  x_t = x_{t-1} - lr b_t.
    p, a, lr, mu, tau = param(X0), 2.0, 0.05, 0.9, dampening
    path = run_quadratic(optim.SGD([p], lr=lr, momentum=mu, dampening=tau), p, a, 15)
    M = np.array([[1 - lr * (1 - tau) * a, -lr * mu], [(1 - tau) * a, mu]])
    start = np.stack([(1 - lr * a) * X0, a * X0])
    expected = [(np.linalg.matrix_power(M, t - 1) @ start)[0] for t in range(1, 16)]
    np.testing.assert_allclose(path, expected, rtol=1e-10)


def test_sgd_nesterov_matches_matrix_power():
    # b_t = mu b_{t-1} + a x_{t-1},  x_t = x_{t-1} - lr (a x_{t-1} + mu b_t), b_0 = 0.
    p, a, lr, mu = param(X0), 2.0, 0.05, 0.9
    path = run_quadratic(optim.SGD([p], lr=lr, momentum=mu, nesterov=True), p, a, 15)
    M = np.array([[1 - lr * a * (1 + mu), -lr * mu**2], [a, mu]])
    start = np.stack([X0, np.zeros(3)])
    expected = [(np.linalg.matrix_power(M, t) @ start)[0] for t in range(1, 16)]
    np.testing.assert_allclose(path, expected, rtol=1e-10)


def test_sgd_first_dampened_step_is_undamped():
    # The buffer starts at the first gradient, so dampening only acts from step 2.
    p = param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    feed(p, [2.0])
    opt.step()
    assert p.data[0] == pytest.approx(1.0 - 0.1 * 2.0, abs=1e-15)
    feed(p, [2.0])
    opt.step()
    assert p.data[0] == pytest.approx(0.8 - 0.1 * (0.9 * 2.0 + 0.5 * 2.0), abs=1e-15)


# -- Adam / AdamW ---------------------------------------------------------------------


def test_adam_bias_correction_first_two_steps():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    x0, g1, g2 = 0.7, 3.0, -1.0
    p = param([x0])
    opt = optim.Adam([p], lr=lr)
    feed(p, [g1])
    opt.step()
    # Step 1: m_hat = g1 and v_hat = g1^2, so the step is lr * g1 / (|g1| + eps).
    x1 = x0 - lr * g1 / (abs(g1) + eps)
    assert p.data[0] == pytest.approx(x1, rel=1e-14)
    feed(p, [g2])
    opt.step()
    m2 = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v2 = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    x2 = x1 - lr / (1 - b1**2) * m2 / (math.sqrt(v2) / math.sqrt(1 - b2**2) + eps)
    assert p.data[0] == pytest.approx(x2, rel=1e-14)
    assert opt.state[p]["step"] == 2
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [m2], rtol=1e-14)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], [v2], rtol=1e-14)


def test_adam_coupled_vs_adamw_decoupled_weight_decay():
    # With a zero loss gradient, Adam's coupled decay becomes the gradient and is
    # normalised (a step of ~lr towards 0); AdamW just shrinks x by (1 - lr*lambda).
    lr, wd, x0 = 0.01, 0.1, np.array([2.0, -3.0])
    p, q = param(x0), param(x0)
    adam = optim.Adam([p], lr=lr, weight_decay=wd)
    adamw = optim.AdamW([q], lr=lr, weight_decay=wd)
    feed(p, [0.0, 0.0])
    feed(q, [0.0, 0.0])
    adam.step()
    adamw.step()
    g = wd * x0
    np.testing.assert_allclose(p.data, x0 - lr * g / (np.abs(g) + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(q.data, x0 * (1 - lr * wd), rtol=1e-15)


def test_adamw_default_weight_decay_and_adam_step():
    lr, wd, x0, g = 0.1, 0.01, 1.5, 4.0
    p = param([x0])
    opt = optim.AdamW([p], lr=lr)
    assert opt.param_groups[0]["weight_decay"] == 0.01
    feed(p, [g])
    opt.step()
    assert p.data[0] == pytest.approx(x0 * (1 - lr * wd) - lr * g / (g + 1e-8), rel=1e-14)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_amsgrad_keeps_the_largest_second_moment(cls):
    # A large then a small gradient: v_2 < v_1, and amsgrad divides by sqrt(v_1).
    lr, b1, b2, eps, grads = 0.01, 0.9, 0.999, 1e-8, [10.0, 0.1]
    results = {}
    for amsgrad in (False, True):
        p = param([0.0])
        opt = cls([p], lr=lr, amsgrad=amsgrad, weight_decay=0)
        for g in grads:
            feed(p, [g])
            opt.step()
        results[amsgrad] = p.data[0]
    m1, v1 = (1 - b1) * 10.0, (1 - b2) * 100.0
    x1 = -lr * m1 / (1 - b1) / (math.sqrt(v1 / (1 - b2)) + eps)
    m2, v2 = b1 * m1 + (1 - b1) * 0.1, b2 * v1 + (1 - b2) * 0.01
    assert v2 < v1
    for amsgrad, v in ((False, v2), (True, max(v1, v2))):
        expected = x1 - lr / (1 - b1**2) * m2 / (math.sqrt(v / (1 - b2**2)) + eps)
        assert results[amsgrad] == pytest.approx(expected, rel=1e-13)
    assert results[True] != results[False]


# -- Adagrad, RMSprop, Adadelta --------------------------------------------------------


def test_adagrad_lr_decay_and_initial_accumulator():
    lr, decay, s0, eps = 0.5, 0.1, 0.25, 1e-10
    grads = [1.0, -2.0, 0.5, 3.0, -1.0]
    p = param([1.0])
    opt = optim.Adagrad([p], lr=lr, lr_decay=decay, initial_accumulator_value=s0)
    x, s = 1.0, s0
    for t, g in enumerate(grads, start=1):
        feed(p, [g])
        opt.step()
        s += g * g
        x -= lr / (1 + (t - 1) * decay) * g / (math.sqrt(s) + eps)
        assert p.data[0] == pytest.approx(x, rel=1e-14)


def test_adagrad_weight_decay():
    p = param([2.0])
    opt = optim.Adagrad([p], lr=0.1, weight_decay=0.5)
    feed(p, [1.0])
    opt.step()
    g = 1.0 + 0.5 * 2.0
    assert p.data[0] == pytest.approx(2.0 - 0.1 * g / (abs(g) + 1e-10), rel=1e-14)


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_first_step_denominator(centered):
    # v_1 = (1-alpha) g^2 and, centered, m_1 = (1-alpha) g: v_1 - m_1^2 = alpha (1-alpha) g^2.
    lr, alpha, eps, g = 0.01, 0.99, 1e-8, -3.0
    p = param([1.0])
    opt = optim.RMSprop([p], lr=lr, alpha=alpha, centered=centered)
    feed(p, [g])
    opt.step()
    var = alpha * (1 - alpha) * g * g if centered else (1 - alpha) * g * g
    assert p.data[0] == pytest.approx(1.0 - lr * g / (math.sqrt(var) + eps), rel=1e-13)


def test_rmsprop_centered_with_momentum_sequence():
    lr, alpha, eps, mu, grads = 0.01, 0.9, 1e-8, 0.5, [1.0, -0.5, 2.0, 0.25]
    p = param([0.0])
    opt = optim.RMSprop([p], lr=lr, alpha=alpha, momentum=mu, centered=True)
    x = v = m = b = 0.0
    for g in grads:
        feed(p, [g])
        opt.step()
        v = alpha * v + (1 - alpha) * g * g
        m = alpha * m + (1 - alpha) * g
        b = mu * b + g / (math.sqrt(v - m * m) + eps)
        x -= lr * b
        assert p.data[0] == pytest.approx(x, rel=1e-12)


def test_adadelta_two_steps_by_hand():
    lr, rho, eps, g1, g2 = 1.0, 0.9, 1e-6, 2.0, -1.0
    p = param([0.5])
    opt = optim.Adadelta([p])
    assert opt.param_groups[0]["lr"] == lr
    feed(p, [g1])
    opt.step()
    v1 = (1 - rho) * g1**2
    d1 = math.sqrt(eps) / math.sqrt(v1 + eps) * g1
    u1 = (1 - rho) * d1**2
    assert p.data[0] == pytest.approx(0.5 - lr * d1, rel=1e-14)
    feed(p, [g2])
    opt.step()
    v2 = rho * v1 + (1 - rho) * g2**2
    d2 = math.sqrt(u1 + eps) / math.sqrt(v2 + eps) * g2
    assert p.data[0] == pytest.approx(0.5 - lr * d1 - lr * d2, rel=1e-14)
    assert opt.state[p]["acc_delta"][0] == pytest.approx(rho * u1 + (1 - rho) * d2**2, rel=1e-14)


def test_defaults_match_pytorch():
    p = param([0.0])
    assert optim.Adagrad([p]).defaults == dict(
        lr=0.01, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10
    )
    assert optim.Adadelta([p]).defaults == dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0)
    rms = optim.RMSprop([p]).defaults
    assert rms == dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False)
    adam = optim.Adam([p]).defaults
    assert adam == dict(
        lr=0.001,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        decoupled_weight_decay=False,
    )
    assert optim.AdamW([p]).defaults["weight_decay"] == 0.01
    sgd = optim.SGD([p], lr=0.1).defaults
    assert sgd == dict(lr=0.1, momentum=0, dampening=0, weight_decay=0, nesterov=False)


# -- convergence ----------------------------------------------------------------------

# (optimizer, hyperparameters, steps, tolerance on max |x - (1, 1)|). Adagrad's
# accumulated squares and Adadelta's unit-free steps make both crawl along the curved
# valley, so they get more steps, a looser tolerance, and Adadelta a cosine schedule.
ROSENBROCK = [
    ("SGD", dict(lr=2e-3, momentum=0.95), 1000, 1e-6),
    ("SGD", dict(lr=1e-3, momentum=0.9, nesterov=True), 2000, 1e-3),
    ("Adagrad", dict(lr=1.5), 4000, 0.1),
    ("Adadelta", dict(lr=1.0, rho=0.95), 3000, 0.1),
    ("RMSprop", dict(lr=1e-3, momentum=0.9), 2000, 1e-3),
    ("Adam", dict(lr=0.1), 1500, 1e-3),
    ("AdamW", dict(lr=0.1, weight_decay=0.0), 1500, 1e-3),
]


@pytest.mark.parametrize(("name", "kwargs", "steps", "tol"), ROSENBROCK)
def test_converges_on_rosenbrock(name, kwargs, steps, tol):
    p = param([-1.5, 2.0])
    opt = getattr(optim, name)([p], **kwargs)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, steps) if name == "Adadelta" else None
    for _ in range(steps):
        opt.zero_grad()
        x, y = p[0], p[1]
        ((1 - x) ** 2 + 100 * (y - x**2) ** 2).backward()
        opt.step()
        if sched is not None:
            sched.step()
    assert np.abs(p.data - 1.0).max() < tol, p.data


def _logistic_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = X @ np.array([1.5, -2.0, 0.5, 1.0, -1.0]) + 0.5 * rng.normal(size=200) > 0
    return ag.tensor(X), ag.tensor(2.0 * y - 1.0)  # labels as signs s in {-1, +1}


# The unregularised optimum of this problem is 0.1276 (from log 2 = 0.693 at w = 0).
LOGISTIC = [
    ("SGD", dict(lr=0.5, momentum=0.9), 0.130),
    ("Adagrad", dict(lr=1.0), 0.130),
    ("Adadelta", dict(lr=20.0), 0.131),
    ("RMSprop", dict(lr=0.1), 0.130),
    ("Adam", dict(lr=0.1), 0.135),
    ("AdamW", dict(lr=0.1), 0.136),  # default weight decay 0.01 pulls w from the optimum
]


@pytest.mark.parametrize(("name", "kwargs", "max_loss"), LOGISTIC)
def test_converges_on_logistic_regression(name, kwargs, max_loss):
    X, s = _logistic_data()
    w, b = param(np.zeros(5)), param(np.zeros(1))
    opt = getattr(optim, name)([w, b], **kwargs)
    for _ in range(200):
        opt.zero_grad()
        loss = ag.log(1 + ag.exp(-s * (X @ w + b))).mean()  # mean log(1 + e^(-s z))
        loss.backward()
        opt.step()
    assert loss.item() < max_loss


# -- state dicts ----------------------------------------------------------------------

CONFIGS = [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.2)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict(weight_decay=0.01)),
    ("RMSprop", dict(momentum=0.9, centered=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
]


def _two_groups(name, kwargs, values):
    w, b = param(values[0]), param(values[1])
    groups = [{"params": [w]}, {"params": [b], "lr": kwargs.get("lr", 0.01) * 0.5}]
    return (w, b), getattr(optim, name)(groups, **kwargs)


def _train(params, opt, steps, data):
    X, s = data
    w, b = params
    for _ in range(steps):
        opt.zero_grad()
        ag.log(1 + ag.exp(-s * (X @ w + b))).mean().backward()
        opt.step()


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_state_dict_resume_is_bit_exact(name, kwargs):
    data = _logistic_data()
    start = [np.zeros(5), np.zeros(1)]
    params, opt = _two_groups(name, kwargs, start)
    _train(params, opt, 5, data)
    saved = opt.state_dict()
    saved_values = [p.data.copy() for p in params]
    _train(params, opt, 5, data)

    # A fresh model and a fresh optimizer built with other hyperparameters.
    fresh, opt2 = _two_groups(name, {**kwargs, "lr": 123.0}, saved_values)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert opt2.param_groups[1]["lr"] == opt.param_groups[1]["lr"]
    _train(fresh, opt2, 5, data)
    for p, q in zip(params, fresh, strict=True):
        assert np.array_equal(p.data, q.data)


def test_state_dict_is_index_based_and_copied():
    w, b = param([1.0, 2.0]), param([3.0])
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    feed(b, [1.0])  # only b has a gradient: its state is under index 1
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["lr"] == 0.1
    assert set(sd["state"]) == {1}
    assert sd["state"][1]["exp_avg"] is not opt.state[b]["exp_avg"]
    sd["state"][1]["exp_avg"][...] = 99.0  # editing the saved dict must not reach opt
    assert opt.state[b]["exp_avg"][0] != 99.0

    w2, b2 = param([1.0, 2.0]), param([3.0])
    opt2 = optim.Adam([{"params": [w2]}, {"params": [b2]}], lr=0.1)
    opt2.load_state_dict(sd)
    sd["state"][1]["exp_avg"][...] = -1.0  # nor may the loaded copy alias the dict
    assert opt2.state[b2]["exp_avg"][0] == 99.0 and opt2.state[b2]["step"] == 1


def test_load_state_dict_casts_to_parameter_dtype():
    p = param([1.0, 2.0])
    opt = optim.Adam([p])
    feed(p, [1.0, 1.0])
    opt.step()
    q = param([1.0, 2.0], dtype=np.float32)
    opt2 = optim.Adam([q])
    opt2.load_state_dict(opt.state_dict())
    assert opt2.state[q]["exp_avg"].dtype == np.float32


def test_load_state_dict_rejects_mismatched_groups():
    p, q = param([1.0]), param([2.0])
    sd = optim.SGD([p, q], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="2 parameters"):
        optim.SGD([p], lr=0.1).load_state_dict(sd)


# -- in place, skipping, groups, zero_grad --------------------------------------------


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_updates_in_place_and_buffers_are_reused(name, kwargs):
    p = param(np.linspace(-1, 1, 6).reshape(2, 3), dtype=np.float32)
    array = p.data
    opt = getattr(optim, name)([p], **kwargs)
    feed(p, np.ones((2, 3)))
    opt.step()
    buffers = {k: v for k, v in opt.state[p].items() if isinstance(v, np.ndarray)}
    before = array.copy()
    for _ in range(3):
        feed(p, np.full((2, 3), 0.5))
        opt.step()
    assert p.data is array and array.dtype == np.float32
    assert not np.array_equal(array, before)
    for key, buf in buffers.items():
        assert opt.state[p][key] is buf, key
        assert buf.dtype == np.float32


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_zero_dimensional_parameter(name, kwargs):
    # numpy turns ufunc results on 0-d arrays into scalars; the update must stay in place.
    p = param(2.0)
    array = p.data
    opt = getattr(optim, name)([p], **kwargs)
    for _ in range(3):
        opt.zero_grad()
        (p * p).backward()
        opt.step()
    assert p.data is array and p.data.shape == () and p.data < 2.0


@pytest.mark.parametrize("name", ALL)
def test_parameters_without_grad_are_skipped(name):
    p, q = param([1.0, 2.0]), param([3.0])
    opt = getattr(optim, name)([p, q], lr=0.1)
    feed(p, [1.0, -1.0])
    opt.step()
    assert q.grad is None and q.data[0] == 3.0 and q not in opt.state
    assert not np.array_equal(p.data, [1.0, 2.0])


def test_param_groups_with_different_lr():
    p, q = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.0 and opt.param_groups[1]["params"] == [q]
    feed(p, [1.0])
    feed(q, [1.0])
    opt.step()
    assert p.data[0] == pytest.approx(0.9) and q.data[0] == pytest.approx(0.5)


def test_add_param_group_and_rejections():
    p, q = param([1.0]), param([1.0])
    opt = optim.SGD([p], lr=0.1)
    opt.add_param_group({"params": q, "lr": 0.2})
    assert opt.param_groups[1]["params"] == [q] and opt.param_groups[1]["lr"] == 0.2
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(TypeError, match="list"):
        optim.SGD({p, q}, lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))


def test_zero_grad_sets_none_or_zeros():
    p, q = param([1.0, 2.0]), param([3.0])
    opt = optim.Adam([p, q])
    feed(p, [1.0, 1.0])
    feed(q, [1.0])
    opt.zero_grad()
    assert p.grad is None and q.grad is None
    feed(p, [1.0, 1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])


def test_step_with_closure_returns_loss():
    p = param([2.0])
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 4.0 and p.data[0] == pytest.approx(2.0 - 0.1 * 4.0)


def test_weight_decay_does_not_touch_the_gradient():
    p = param([1.0, -1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    feed(p, [1.0, 1.0])
    grad = p.grad.data
    opt.step()
    opt.step()
    np.testing.assert_array_equal(grad, [1.0, 1.0])


# -- anomaly mode ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_anomaly_mode_rejects_non_finite_gradients(name):
    p, q = param([1.0]), param([1.0, 2.0])
    opt = getattr(optim, name)([{"params": [p]}, {"params": [q]}], lr=0.1)
    feed(p, [1.0])
    feed(q, [np.nan, 1.0])
    with ag.detect_anomaly(), pytest.raises(RuntimeError, match=f"{name}.*parameter 1.*group 1"):
        opt.step()
    assert p.data[0] == 1.0 and not opt.state  # nothing updated, no state created
    opt.step()  # outside anomaly mode the NaN goes through, as in PyTorch
    assert np.isnan(q.data[0])


# -- cross-check against PyTorch, when it is installed --------------------------------


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS + [("Adam", dict(betas=(0.3, 0.6)))])
def test_trajectory_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    A, target = rng.normal(size=(6, 4)), rng.normal(size=6)
    x0 = rng.normal(size=4)
    p = param(x0)
    t = torch.tensor(x0.copy(), requires_grad=True)
    ours, theirs = getattr(optim, name)([p], **kwargs), getattr(torch.optim, name)([t], **kwargs)
    for _ in range(30):
        # The same gradient for both, from our engine, so only the update rules differ.
        feed(p, A.T @ (np.tanh(A @ p.data) - target))
        t.grad = torch.tensor(A.T @ (np.tanh(A @ t.detach().numpy()) - target))
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)


# -- bad input: clear errors naming the optimizer ---------------------------------------
def test_params_given_a_module_or_named_parameters():
    import nn

    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"^SGD: params must be an iterable .*got a Linear "
                                        r"module; pass model.parameters\(\)"):
        optim.SGD(m, lr=0.1)
    with pytest.raises(TypeError, match=r"^SGD: params holds \(name, parameter\) pairs; "
                                        r"pass model.parameters\(\)"):
        optim.SGD(m.named_parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"^Adam: params is a dict .*not a param group"):
        optim.Adam(dict(m.named_parameters()))
    with pytest.raises(TypeError, match=r"^SGD: params is a single parameter group"):
        optim.SGD({"params": m.parameters()}, lr=0.1)
    with pytest.raises(TypeError, match=r"^SGD: params must be an iterable .*got int"):
        optim.SGD(3, lr=0.1)


def test_param_group_errors_name_the_group():
    p, q = param([1.0]), param([2.0])
    with pytest.raises(ValueError, match=r"^SGD: parameter group 0 has no 'params'"):
        optim.SGD([{"lr": 0.1}], lr=0.1)
    with pytest.raises(ValueError, match=r"^RMSprop: parameter group 1 has no 'params'"):
        optim.RMSprop([{"params": [p]}, {"lr": 0.1}])
    with pytest.raises(TypeError, match=r"^SGD: parameter group 1 must be a dict, got Tensor"):
        optim.SGD([{"params": [p]}, q], lr=0.1)
    with pytest.raises(TypeError, match=r"^SGD can only optimize Tensors, got int"):
        optim.SGD([p, 3], lr=0.1)
    with pytest.raises(ValueError, match=r"^SGD: parameter group 0 lists the same parameter"):
        optim.SGD([p, p], lr=0.1)


def test_load_state_dict_rejects_a_non_dict():
    opt = optim.SGD([param([1.0])], lr=0.1)
    with pytest.raises(TypeError, match=r"^SGD.load_state_dict: expected a dict \(an optimizer "
                                        r"state_dict\), got list"):
        opt.load_state_dict([1, 2])
    with pytest.raises(ValueError, match=r"^SGD.load_state_dict: the dict has no 'state'"):
        opt.load_state_dict({"weight": np.ones(1)})


# -- wrongly typed hyperparameters: a TypeError naming the optimizer and the value ---------


def _typed_params():
    return [ag.tensor(np.ones(3, np.float32), requires_grad=True)]


@pytest.mark.parametrize("cls, key", [
    (optim.SGD, "lr"), (optim.SGD, "momentum"), (optim.SGD, "weight_decay"),
    (optim.SGD, "dampening"), (optim.Adam, "lr"), (optim.Adam, "eps"),
    (optim.AdamW, "weight_decay"), (optim.Adagrad, "lr_decay"),
    (optim.Adagrad, "initial_accumulator_value"), (optim.Adadelta, "rho"),
    (optim.RMSprop, "alpha"), (optim.RMSprop, "momentum"),
])
def test_a_non_numeric_hyperparameter_is_a_type_error_naming_the_optimizer(cls, key):
    with pytest.raises(TypeError, match=rf"^{cls.__name__}: {key} must be a number, got '0.1'$"):
        cls(_typed_params(), **{key: "0.1"})


def test_lr_none_is_a_type_error():
    with pytest.raises(TypeError, match=r"SGD: lr must be a number, got None"):
        optim.SGD(_typed_params(), lr=None)


def test_a_non_numeric_hyperparameter_in_a_param_group_is_a_type_error():
    opt = optim.SGD(_typed_params(), lr=0.1)
    with pytest.raises(TypeError, match=r"SGD: momentum must be a number, got 'x'"):
        opt.add_param_group({"params": _typed_params(), "momentum": "x"})


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("betas", [0.9, (0.9, 0.99, 0.9), (0.9,), ("a", 0.9)])
def test_betas_that_are_not_a_pair_of_numbers_are_a_type_error(cls, betas):
    with pytest.raises(TypeError, match=rf"{cls.__name__}: betas must be a pair \(beta1, beta2\)"):
        cls(_typed_params(), betas=betas)


def test_betas_out_of_range_keep_their_message():
    with pytest.raises(ValueError, match=r"Invalid betas: \(1.0, 0.9\)"):
        optim.Adam(_typed_params(), betas=(1.0, 0.9))


def test_numpy_hyperparameters_are_accepted():
    optim.SGD(_typed_params(), lr=np.float32(0.1), momentum=np.float64(0.9))
    optim.Adam(_typed_params(), betas=[np.float64(0.9), 0.99])


def test_a_non_callable_closure_is_a_type_error_naming_the_step():
    opt = optim.SGD(_typed_params(), lr=0.1)
    with pytest.raises(TypeError, match=r"SGD.step: closure must be callable, got int"):
        opt.step(3)
