"""The edge values of issue 18 against PyTorch itself (skipped where torch is not
installed; `make crosscheck` runs them with the benchmark venv's torch): every
activation and the losses at +-inf, +-1e4, at float32 and float64, values and
gradients, with every warning an error on our side."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

POINTS = np.array([-math.inf, -1e4, 1e4, math.inf])
# name -> (ours, torch's)
ACTIVATIONS = {
    "relu": (F.relu, TF.relu), "leaky_relu": (F.leaky_relu, TF.leaky_relu),
    "elu": (F.elu, TF.elu), "selu": (F.selu, TF.selu), "celu": (F.celu, TF.celu),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu), "mish": (F.mish, TF.mish), "softplus": (F.softplus, TF.softplus),
    "softsign": (F.softsign, TF.softsign), "hardtanh": (F.hardtanh, TF.hardtanh),
    "relu6": (F.relu6, TF.relu6), "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish), "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "sigmoid": (F.sigmoid, torch.sigmoid), "tanh": (F.tanh, torch.tanh),
    "softmax": (lambda x: F.softmax(x, axis=0), lambda x: TF.softmax(x, dim=0)),
    "log_softmax": (lambda x: F.log_softmax(x, axis=0), lambda x: TF.log_softmax(x, dim=0)),
}
# Where torch's float32 kernel differs from its own float64 one, we follow float64:
# float32 gelu(+inf) is nan in torch 2.13, inf in float64 (and here).
FLOAT32_DIFFERS = {("gelu", 3)}


def _ours(fn, x: np.ndarray):
    t = ag.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(t)
        y.backward(np.ones(y.shape, x.dtype))
    return y.data, t.grad.data


def _theirs(fn, x: np.ndarray):
    t = torch.tensor(x, requires_grad=True)
    y = fn(t)
    y.backward(torch.ones_like(y))
    return y.detach().numpy(), t.grad.numpy()


def _compare(got, want, dtype, skip=()):
    got, want = np.array(got, np.float64), np.array(want, np.float64)
    for i in skip:
        got[i] = want[i] = 0.0
    rtol = 1e-4 if dtype == np.float32 else 1e-12  # float32 kernels round differently
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-30, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_edges_equal_torch(name, dtype):
    ours, theirs = ACTIVATIONS[name]
    x = POINTS.astype(dtype)
    skip = [i for n, i in FLOAT32_DIFFERS if n == name] if dtype == np.float32 else []
    y, g = _ours(ours, x)
    ty, tg = _theirs(theirs, x)
    _compare(y, ty, dtype, skip)
    _compare(g, tg, dtype, skip)


LOSSES = {
    "bce_with_logits": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits),
    "huber": (F.huber_loss, TF.huber_loss), "smooth_l1": (F.smooth_l1_loss, TF.smooth_l1_loss),
    "mse": (F.mse_loss, TF.mse_loss), "l1": (F.l1_loss, TF.l1_loss),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_edges_equal_torch(name, dtype):
    ours, theirs = LOSSES[name]
    x = np.array([-math.inf, -1e4, 1e4, math.inf, 0.5, -0.5], dtype)
    target = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0], dtype)
    for reduction in ("none", "sum"):
        y, g = _ours(lambda t, r=reduction: ours(t, ag.tensor(target), reduction=r), x)
        ty, tg = _theirs(lambda t, r=reduction: theirs(t, torch.tensor(target), reduction=r),
                         x)
        _compare(y, ty, dtype)
        _compare(g, tg, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_with_infinite_logits_equals_torch(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-math.inf, 0.0, 1.0], [2.0, -math.inf, -math.inf],
                  [0.5, 0.25, -1.0]], dtype)
    target = np.array([0, 1, 0, 2])
    y, g = _ours(lambda t: F.cross_entropy(t, ag.tensor(target), reduction="none"), x)
    ty, tg = _theirs(lambda t: TF.cross_entropy(t, torch.tensor(target), reduction="none"), x)
    _compare(y, ty, dtype)
    _compare(g, tg, dtype)
