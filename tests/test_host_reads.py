"""No hidden host reads: a training step on a device reads nothing back.

array-api-strict's Array counts every conversion to a host value (bool, float,
int, index, numpy, dlpack, item) while one training step runs on its
"device1": forward, backward and an SGD step of an MLP, a small CNN and a
WGAN-GP step. Each must make none (on a GPU each would be a synchronizing
copy).
"""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim

xps = pytest.importorskip("array_api_strict")
DEVICE1 = xps.Device("device1")
READS = ("__bool__", "__float__", "__int__", "__index__", "__array__", "__dlpack__", "item")


@pytest.fixture
def host_reads(monkeypatch):
    """The list of host reads made through array-api-strict's Array methods."""
    reads = []
    array = type(xps.asarray(0.0))
    for name in READS:
        original = getattr(array, name, None)
        if original is None:
            continue

        def counted(self, *args, _name=name, _original=original, **kw):
            reads.append(_name)
            return _original(self, *args, **kw)
        monkeypatch.setattr(array, name, counted)
    return reads


def _on_device(model):
    for p in model.parameters():
        p.data = xps.asarray(np.asarray(p.data), device=DEVICE1)
    return model


def _strict(a) -> ag.Tensor:
    return ag.as_tensor(xps.asarray(a, device=DEVICE1))


def _step(model, loss_fn):
    opt = optim.SGD(model.parameters(), lr=0.01)
    opt.zero_grad()
    loss = loss_fn()
    loss.backward()
    opt.step()


def test_mlp_step_reads_nothing(host_reads):
    rng = np.random.default_rng(0)
    model = _on_device(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    x = _strict(rng.standard_normal((5, 4)).astype(np.float32))
    y = _strict(rng.integers(0, 3, 5))
    host_reads.clear()
    _step(model, lambda: nn.functional.cross_entropy(model(x), y))
    assert host_reads == []


def test_cnn_step_reads_nothing(host_reads):
    rng = np.random.default_rng(0)
    model = _on_device(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                                     nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3)))
    x = _strict(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    y = _strict(rng.integers(0, 3, 2))
    host_reads.clear()
    _step(model, lambda: nn.functional.cross_entropy(model(x), y))
    assert host_reads == []


def test_wgan_gp_critic_step_reads_nothing(host_reads):
    from nn.gan.losses import gradient_penalty
    from nn.gan.models import Discriminator
    rng = np.random.default_rng(0)
    critic = _on_device(Discriminator(2, hidden=(8, 8)))
    real = _strict(rng.standard_normal((6, 2)).astype(np.float32))
    fake = _strict(rng.standard_normal((6, 2)).astype(np.float32))
    eps = _strict(rng.uniform(size=(6, 1)).astype(np.float32))
    host_reads.clear()
    _step(critic, lambda: critic(fake).mean() - critic(real).mean()
          + 10 * gradient_penalty(critic, real, fake, eps=eps))
    assert host_reads == []
