"""Activations and losses at the ends of the line (issue 18): +-inf, +-1e4, nan and
empty batches, at float32 and float64, forward and backward, with every warning an
error. Expected values are the functions' limits, PyTorch's values where its formula
is finite (bce_with_logits(+inf, 0) = inf, Huber's gradient +-delta), and nan for an
empty mean, as PyTorch's."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn.functional as F

INF, NAN = math.inf, math.nan
POINTS = np.array([-INF, -1e4, 1e4, INF])
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
DTYPES = [np.float32, np.float64]

# name -> (function, values at POINTS, derivatives at POINTS)
LEFT0 = ([0, 0, 1e4, INF], [0, 0, 1, 1])  # -> 0 on the left, -> x on the right
NAN = float("nan")
NAN_AT_INF = ([NAN, 0, 1e4, INF], [NAN, 0, 1, NAN])
ACTIVATIONS = {
    "relu": (F.relu, *LEFT0),
    "leaky_relu": (F.leaky_relu, [-INF, -100, 1e4, INF], [0.01, 0.01, 1, 1]),
    "prelu": (lambda x: F.prelu(x, np.array([0.25], x.dtype)), [-INF, -2500, 1e4, INF],
              [0.25, 0.25, 1, 1]),
    "rrelu": (F.rrelu, [-INF, -1e4 * 11 / 48, 1e4, INF], [11 / 48, 11 / 48, 1, 1]),
    "elu": (F.elu, [-1, -1, 1e4, INF], [0, 0, 1, 1]),
    "selu": (F.selu, [-SELU_SCALE * SELU_ALPHA] * 2 + [SELU_SCALE * 1e4, INF],
             [0, 0, SELU_SCALE, SELU_SCALE]),
    "celu": (F.celu, [-1, -1, 1e4, INF], [0, 0, 1, 1]),
    # PyTorch's values, nan where its formula meets inf * 0 (torch 2.13, float64)
    "gelu": (F.gelu, *NAN_AT_INF),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), *NAN_AT_INF),
    "silu": (F.silu, *NAN_AT_INF),
    "mish": (F.mish, *NAN_AT_INF),
    "softplus": (F.softplus, *LEFT0),
    "softsign": (F.softsign, [NAN, -1e4 / 10001, 1e4 / 10001, NAN],
                 [NAN, 1 / 10001 ** 2, 1 / 10001 ** 2, NAN]),
    "hardtanh": (F.hardtanh, [-1, -1, 1, 1], [0, 0, 0, 0]),
    "relu6": (F.relu6, [0, 0, 6, 6], [0, 0, 0, 0]),
    "hardsigmoid": (F.hardsigmoid, [0, 0, 1, 1], [0, 0, 0, 0]),
    "hardswish": (F.hardswish, [NAN, 0, 1e4, INF], [0, 0, 1, 1]),
    "logsigmoid": (F.logsigmoid, [-INF, -1e4, 0, 0], [1, 1, 0, 0]),
    "sigmoid": (F.sigmoid, [0, 0, 1, 1], [0, 0, 0, 0]),
    "tanh": (F.tanh, [-1, -1, 1, 1], [0, 0, 0, 0]),
}


def _strict(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kw)


def _close(got, want, dtype):
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_at_infinities_and_1e4(name, dtype):
    fn, values, slopes = ACTIVATIONS[name]
    x = ag.tensor(POINTS.astype(dtype), requires_grad=True)

    def run():
        y = fn(x)
        y.backward(np.ones(4, dtype))
        return y
    y = _strict(run)
    assert y.dtype == dtype and x.grad.dtype == dtype
    _close(y.data, values, dtype)
    _close(x.grad.data, slopes, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_of_nan_is_nan_and_silent(name, dtype):
    fn = ACTIVATIONS[name][0]
    x = ag.tensor(np.array([NAN, 0.5], dtype), requires_grad=True)

    def run():
        y = fn(x)
        y.backward(np.ones(2, dtype))
        return y
    y = _strict(run)
    assert math.isnan(y.data[0]) and not math.isnan(y.data[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("second_order", [False, True])
def test_second_order_gradients_at_infinities_are_silent(dtype, second_order):
    for fn, _, slopes in ACTIVATIONS.values():
        for point, slope in zip(POINTS, slopes):
            x = ag.tensor(np.array([point], dtype), requires_grad=True)

            def run(fn=fn, x=x):
                (g,) = ag.gradients(ag.sum(fn(x)), [x], create_graph=True)
                if second_order and g.requires_grad:
                    ag.sum(g).backward()
                return g
            g = _strict(run)
            _close(g.data, [slope], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_rows_with_infinities_follow_pytorch_silently(fn, dtype):
    x = ag.tensor(np.array([[-INF, 0, 1], [-1e4, 0, 1e4], [INF, 0, 1], [NAN, 0, 1],
                            [-INF, -INF, -INF]], dtype), requires_grad=True)
    g = np.array([[1, 2, 3]] * 5, dtype)

    def run():
        y = fn(x, axis=1)
        y.backward(g)
        return y
    y = _strict(run)
    p = np.array([0, 1, math.e]) / (1 + math.e)
    if fn is F.softmax:
        _close(y.data[0], p, dtype)
        _close(y.data[1], [0, 0, 1], dtype)
        _close(x.grad.data[0], p * (g[0] - p @ g[0]), dtype)
        _close(x.grad.data[1], [0, 0, 0], dtype)
    else:
        assert y.data[0, 0] == -INF
        _close(y.data[0, 1:], np.log(p[1:]), dtype)
        _close(y.data[1], [-2e4, -1e4, 0], dtype)
        _close(x.grad.data[0], g[0] - p * 6, dtype)
        _close(x.grad.data[1], [1, 2, -3], dtype)
    # a row with +inf or nan, or only -inf: x - max is nan there, as PyTorch's
    assert np.isnan(y.data[2:]).all() and np.isnan(x.grad.data[2:]).all()


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_of_empty_arrays(fn):
    for shape, axis in (((0, 3), 1), ((2, 0), 1), ((0, 3), 0)):
        x = ag.tensor(np.zeros(shape, np.float32), requires_grad=True)
        y = _strict(fn, x, axis=axis)
        assert y.shape == shape
        _strict(y.backward, np.zeros(shape, np.float32))
        assert x.grad.shape == shape


# -- losses ----------------------------------------------------------------------
def _loss_case(fn, inputs, kw=None, needs=None):
    """fn(*inputs, **kw) and its gradients, every warning an error."""
    ts = [ag.tensor(a, requires_grad=(needs is None or n)) for a, n in
          zip(inputs, needs or [True] * len(inputs))]

    def run():
        out = fn(*ts, **(kw or {}))
        out.backward(np.ones(out.shape, out.dtype))
        return out
    return _strict(run), [t.grad.data if t.grad is not None else None for t in ts]


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_at_infinite_logits(dtype):
    z = np.array([INF, INF, -INF, -INF, 1e4, -1e4, NAN], dtype)
    y = np.array([0, 1, 0, 1, 0, 1, 0], dtype)
    loss, (dz, dy) = _loss_case(F.binary_cross_entropy_with_logits, (z, y),
                                {"reduction": "none"})
    # bce(+inf, 0) = +inf; nan where PyTorch's formula meets inf - inf or 0 * inf
    _close(loss.data[:6], [INF, NAN, NAN, NAN, 1e4, 1e4], dtype)
    _close(dz[:6], [1, 0, 0, -1, 1, -1], dtype)
    _close(dy[:6], -z[:6], dtype)
    assert math.isnan(loss.data[6])
    pw = np.array(3.0, dtype)
    loss, (dz, _) = _loss_case(F.binary_cross_entropy_with_logits, (z, y),
                               {"reduction": "none", "pos_weight": pw})
    _close(loss.data[:6], [INF, NAN, NAN, NAN, 1e4, 3e4], dtype)
    _close(dz[:6], [1, 0, 0, -3, 1, -3], dtype)
    loss, _ = _loss_case(F.binary_cross_entropy_with_logits, (z[:1], y[:1]))
    assert loss.item() == INF


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_at_probabilities_0_and_1_is_clamped_silently(dtype):
    p = np.array([0, 1, 0, 1], dtype)
    y = np.array([0, 1, 1, 0], dtype)
    loss, (dp, dy) = _loss_case(F.binary_cross_entropy, (p, y), {"reduction": "none"})
    _close(loss.data, [0, 0, 100, 100], dtype)
    _close(dp, [0, 0, -1e12, 1e12], dtype)
    _close(dy, [100, -100, 100, -100], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [None, 0.5])
def test_huber_and_smooth_l1_gradient_at_infinity_is_delta(dtype, beta):
    d = np.array([INF, -INF, 1e4, -1e4, 0.25], dtype)
    if beta is None:
        fn, kw, delta, scale = F.huber_loss, {"delta": 1.5}, 1.5, 1.0
    else:
        fn, kw, delta, scale = F.smooth_l1_loss, {"beta": beta}, beta, 1 / beta
    loss, (dx, dt) = _loss_case(fn, (d, np.zeros(5, dtype)), {"reduction": "none", **kw})
    big = delta * (1e4 - delta / 2)
    _close(loss.data, np.array([INF, INF, big, big, 0.25 ** 2 / 2]) * scale, dtype)
    _close(dx, np.array([delta, -delta, delta, -delta, 0.25]) * scale, dtype)
    _close(dt, -dx, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_with_infinite_logits(dtype):
    x = np.array([[-INF, 0, 1], [-1e4, 0, 1e4], [INF, 0, 1], [NAN, 0, 1]], dtype)
    t = np.array([1, 2, 0, 0])
    p = np.array([0, 1, math.e]) / (1 + math.e)
    for kw in ({}, {"weight": np.array([1.0, 2.0, 0.5], dtype)}, {"ignore_index": 2}):
        loss, (dx, _) = _loss_case(F.cross_entropy, (x, t), {"reduction": "none", **kw},
                                 needs=[True, False])
        w = kw.get("weight", np.ones(3))[[1, 2, 0, 0]]
        if "ignore_index" in kw:
            w[1] = 0
        _close(loss.data[:2], [w[0] * -math.log(p[1]), 0], dtype)
        _close(dx[0], w[0] * (p - [0, 1, 0]), dtype)
        _close(dx[1], [0, 0, 0], dtype)
        assert np.isnan(loss.data[2:]).all() and np.isnan(dx[2:]).all()  # as PyTorch
    # the target on a -inf logit: an infinite loss, finite gradient; label smoothing
    # puts weight on it too (inf, as PyTorch)
    loss, (dx, _) = _loss_case(F.cross_entropy, (x[:1], np.array([0])), needs=[True, False])
    assert loss.item() == INF and np.isfinite(dx).all()
    loss, _ = _loss_case(F.cross_entropy, (x[:1], np.array([1])), {"label_smoothing": 0.1},
                         needs=[True, False])
    assert loss.item() == INF


@pytest.mark.parametrize("dtype", DTYPES)
def test_probability_targets_and_nll_ignore_impossible_classes(dtype):
    x = np.array([[-INF, 0, 1], [-1e4, 0, 1e4]], dtype)
    q = np.array([[0, 0.5, 0.5], [0, 0, 1]], dtype)
    loss, (dx, dq) = _loss_case(F.cross_entropy, (x, q), {"reduction": "none"})
    p = np.array([0, 1, math.e]) / (1 + math.e)
    _close(loss.data, [-0.5 * (math.log(p[1]) + math.log(p[2])), 0], dtype)
    _close(dx[0], p - q[0], dtype)
    logp = F.log_softmax(x, axis=1).data
    loss, (dlp, _) = _loss_case(F.nll_loss, (logp, np.array([1, 2])), {"reduction": "none"},
                              needs=[True, False])
    _close(loss.data, [-logp[0, 1], 0], dtype)
    _close(dlp, [[0, -1, 0], [0, 0, -1]], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_div_takes_zero_targets_as_zero(dtype):
    x = np.array([-INF, -INF, -1e4, 0.0], dtype)
    t = np.array([0, 0.5, 0, 0.5], dtype)
    loss, (dx, dt) = _loss_case(F.kl_div, (x, t), {"reduction": "none"})
    _close(loss.data, [0, INF, 0, 0.5 * math.log(0.5)], dtype)
    _close(dx, -t, dtype)
    log_t = np.where(t > 0, np.log(np.where(t > 0, t, 1)), -INF).astype(dtype)
    loss, _ = _loss_case(F.kl_div, (x, log_t), {"reduction": "none", "log_target": True})
    _close(loss.data, [0, INF, 0, 0.5 * math.log(0.5)], dtype)


EMPTY = {  # name -> (function, inputs of an empty batch, inputs that need no grad)
    "mse_loss": (F.mse_loss, ("x", "x"), ()),
    "l1_loss": (F.l1_loss, ("x", "x"), ()),
    "huber_loss": (F.huber_loss, ("x", "x"), ()),
    "smooth_l1_loss": (F.smooth_l1_loss, ("x", "x"), ()),
    "binary_cross_entropy": (F.binary_cross_entropy, ("x", "x"), ()),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits, ("x", "x"), ()),
    "bce_with_logits_pos_weight": (
        lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=np.ones(3)),
        ("x", "x"), ()),
    "cross_entropy": (F.cross_entropy, ("x", "t"), (1,)),
    "cross_entropy_smoothed": (lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                               ("x", "t"), (1,)),
    "cross_entropy_probabilities": (F.cross_entropy, ("x", "x"), ()),
    "nll_loss": (F.nll_loss, ("x", "t"), (1,)),
    "kl_div": (F.kl_div, ("x", "x"), ()),
    "kl_div_batchmean": (lambda a, b: F.kl_div(a, b, reduction="batchmean"), ("x", "x"), ()),
    "cosine_embedding_loss": (F.cosine_embedding_loss, ("x", "x", "t"), (2,)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(EMPTY))
def test_mean_of_an_empty_batch_is_nan_and_silent(name, dtype):
    fn, kinds, constant = EMPTY[name]
    inputs = [np.zeros((0, 3), dtype) if k == "x" else np.zeros(0, np.int64) for k in kinds]
    loss, grads = _loss_case(fn, inputs, needs=[i not in constant for i in range(len(kinds))])
    assert loss.shape == () and math.isnan(loss.item())
    assert all(g is None or g.shape == (0, 3) for g in grads)
    if "batchmean" not in name and "smoothed" not in name and "pos_weight" not in name:
        total, _ = _loss_case(lambda *a: fn(*a, reduction="sum"), inputs,
                              needs=[i not in constant for i in range(len(kinds))])
        assert total.item() == 0
