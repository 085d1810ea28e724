"""nn.functional on a second array library: every activation and loss runs on
array-api-strict's device1 (arrays that refuse numpy's functions and any silent
move to the host) and gives numpy's values and gradients, in float64."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn.functional as F
from nn.functional.layers import flatten_linear, linear_relu

xps = pytest.importorskip("array_api_strict")
DEVICE = xps.Device("device1")

rng = np.random.default_rng(0)
X = rng.uniform(-3, 3, size=(4, 5))
X2 = rng.uniform(-3, 3, size=(4, 5))
P = rng.uniform(0.05, 0.95, size=(4, 5))
Y = rng.uniform(0, 1, size=(4, 5))
LOGP = X - np.log(np.exp(X).sum(1, keepdims=True))
Q = np.exp(X2) / np.exp(X2).sum(1, keepdims=True)
CLASSES = np.array([0, 4, 2, 1])
SIGNS = np.array([1, -1, 1, -1])
W5 = rng.uniform(0.5, 2.0, size=5)

# name -> (function, float inputs (differentiated), constant inputs (passed after them))
CASES = {
    "relu": (F.relu, (X,), ()),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), (X,), ()),
    "prelu": (F.prelu, (X, np.full(5, 0.25)), ()),
    "rrelu": (F.rrelu, (X,), ()),
    "elu": (F.elu, (X,), ()),
    "selu": (F.selu, (X,), ()),
    "celu": (lambda x: F.celu(x, 0.5), (X,), ()),
    "gelu": (F.gelu, (X,), ()),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), (X,), ()),
    "silu": (F.silu, (X,), ()),
    "mish": (F.mish, (X,), ()),
    "softplus": (lambda x: F.softplus(x, 2.0, 3.0), (X,), ()),
    "softsign": (F.softsign, (X,), ()),
    "hardtanh": (F.hardtanh, (X,), ()),
    "relu6": (F.relu6, (X * 3,), ()),
    "hardsigmoid": (F.hardsigmoid, (X,), ()),
    "hardswish": (F.hardswish, (X,), ()),
    "logsigmoid": (F.logsigmoid, (X,), ()),
    "softmax": (lambda x: F.softmax(x, axis=1), (X,), ()),
    "log_softmax": (lambda x: F.log_softmax(x, axis=0), (X,), ()),
    "mse_loss": (F.mse_loss, (X, X2), ()),
    "l1_loss": (lambda a, b: F.l1_loss(a, b, reduction="sum"), (X, X2), ()),
    "huber_loss": (lambda a, b: F.huber_loss(a, b, delta=0.7), (X, X2), ()),
    "smooth_l1_loss": (lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), (X, X2), ()),
    "binary_cross_entropy": (F.binary_cross_entropy, (P, Y), ()),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits, (X, Y), ()),
    "bce_with_logits_pos_weight": (
        lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=W5), (X, Y), ()),
    "cross_entropy": (F.cross_entropy, (X,), (CLASSES,)),
    "cross_entropy_weighted": (
        lambda x, t: F.cross_entropy(x, t, weight=W5, ignore_index=2, label_smoothing=0.1),
        (X,), (CLASSES,)),
    "cross_entropy_none": (lambda x, t: F.cross_entropy(x, t, reduction="none"), (X,),
                           (CLASSES,)),
    "cross_entropy_probabilities": (F.cross_entropy, (X, Q), ()),
    "nll_loss": (lambda x, t: F.nll_loss(x, t, weight=W5), (LOGP,), (CLASSES,)),
    "kl_div": (lambda a, b: F.kl_div(a, b, reduction="batchmean"), (LOGP, Q), ()),
    "kl_div_log_target": (lambda a, b: F.kl_div(a, b, log_target=True), (LOGP, np.log(Q)), ()),
    "cosine_embedding_loss": (lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=0.1),
                              (X, X2), (SIGNS,)),
    "linear": (F.linear, (X, X2[:3], X[0, :3]), ()),
    "linear_3d": (F.linear, (X.reshape(2, 2, 5), X2[:3]), ()),
    "linear_relu": (linear_relu, (X, X2[:3], X[0, :3]), ()),
    "flatten_linear": (flatten_linear, (X.reshape(4, 5, 1), X2[:3], X[0, :3]), ()),
    "dropout": (lambda x: F.dropout(x, 0.3), (X,), ()),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   (X, X2[0], X[1]), ()),
    "batch_norm_eval": (lambda x, w, b: F.batch_norm(
        x, np.linspace(-1, 1, 5), np.linspace(0.5, 2, 5), w, b), (X, X2[0], X[1]), ()),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, 5, w, b), (X, X2[0], X[1]), ()),
}

# Not yet runnable on array-api-strict: the core's reshape, expand_dims and matmul
# forwards still call numpy (sum/mean's gradient reshapes, prelu reshapes its weight,
# linear's gradient multiplies); their port is under way on another branch.
CORE_SHAPE_OPS = {"bce_with_logits_pos_weight", "binary_cross_entropy",
                  "binary_cross_entropy_with_logits", "cosine_embedding_loss",
                  "cross_entropy_none", "cross_entropy_probabilities", "huber_loss", "kl_div",
                  "kl_div_log_target", "l1_loss", "mse_loss", "nll_loss", "prelu",
                  "smooth_l1_loss", "linear", "linear_relu", "linear_3d", "flatten_linear",
                  "batch_norm", "batch_norm_eval", "layer_norm"}


def _run(fn, floats, constants, on_device: bool):
    def put(a):
        return xps.asarray(a, device=DEVICE) if on_device else a
    inputs = [ag.as_tensor(put(a)) for a in floats]
    for t in inputs:
        t.requires_grad = True
    ag.manual_seed(0)  # dropout and rrelu draw the same numbers both times
    out = fn(*inputs, *(put(c) for c in constants))
    out.backward(put(np.ones(tuple(out.shape))))
    return out, [t.grad for t in inputs]


def _host(a):
    a = a.data if isinstance(a, ag.Tensor) else a
    return np.from_dlpack(a) if not isinstance(a, np.ndarray) else a


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason="core shape ops and matmul on numpy"))
    if n in CORE_SHAPE_OPS else n for n in sorted(CASES)])
def test_functional_on_array_api_strict_matches_numpy(name):
    fn, floats, constants = CASES[name]
    want, want_grads = _run(fn, floats, constants, on_device=False)
    got, grads = _run(fn, floats, constants, on_device=True)
    assert got.device == "array_api_strict:device1"
    np.testing.assert_allclose(_host(got), _host(want), rtol=1e-12, atol=1e-15)
    for g, w in zip(grads, want_grads):
        assert g is not None
        np.testing.assert_allclose(_host(g), _host(w), rtol=1e-12, atol=1e-15)
