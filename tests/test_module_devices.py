"""Module.to(device): parameters (with their grads) and buffers move in place, on
array-api-strict's second device, the stand-in for a GPU; optimizers keep their
state there; state_dicts are saved as host arrays and loaded onto each
parameter's device."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core.backend import to_numpy
from nn import functional as F

xps = pytest.importorskip("array_api_strict")
DEV = "array_api_strict:device1"


def model():
    ag.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def host(array) -> np.ndarray:
    return to_numpy(array)


def test_to_moves_parameters_grads_and_buffers_in_place():
    net = model()
    params = list(net.parameters())
    for p in params:
        p.grad = np.ones(p.shape, p.data.dtype)
    before = {k: v.copy() for k, v in net.state_dict().items()}
    assert net.to(DEV) is net
    assert list(net.parameters()) == params  # the same Parameter objects
    for p in params:
        assert p.device == DEV and p.grad.device == DEV
        np.testing.assert_array_equal(host(p.grad.data), 1.0)
    assert {b.device for b in net.buffers()} == {xps.Device("device1")}
    for k, v in net.state_dict().items():
        assert v.device == xps.Device("device1")
        np.testing.assert_array_equal(host(v), before[k])
    assert net.cpu() is net and all(p.device == "cpu" for p in params)
    assert all(isinstance(b, np.ndarray) for b in net.buffers())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_to_takes_a_device_and_a_dtype_together():
    net = model().to(DEV, ag.float64)
    assert all(p.device == DEV and p.dtype == xps.float64 for p in net.parameters())
    bn = net[1]
    assert bn.running_mean.dtype == xps.float64
    assert bn.num_batches_tracked.dtype == xps.int64  # integer buffers keep their dtype
    net.to(dtype=np.float32, device="cpu")
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float32)}


def test_unknown_devices_and_dtypes_raise_before_anything_moves():
    net = model()
    with pytest.raises(RuntimeError, match="unknown device 'tpu:0'"):
        net.to("tpu:0")
    with pytest.raises(RuntimeError, match="unknown device 'array_api_strict:device9'"):
        net.to("array_api_strict:device9", ag.float64)
    with pytest.raises(TypeError, match="only floating point dtypes, got int64"):
        net.to(DEV, np.int64)
    with pytest.raises(TypeError, match="the device is given twice"):
        net.to("cpu", DEV)
    assert all(p.device == "cpu" and p.dtype == np.float32 for p in net.parameters())


def test_cuda_without_cupy_says_what_is_missing():
    if ag.cuda.is_available():
        pytest.skip("a GPU is here")
    with pytest.raises(RuntimeError, match="(?i)cupy|gpu|cuda"):
        model().cuda()


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1)], ids=["SGD", "Adam"])
@pytest.mark.parametrize("built", ["before", "after"])
def test_optimizers_step_and_keep_their_state_on_the_parameters_device(make, built):
    """Gradients set by hand: the step itself, on device1, equals the step on numpy."""
    reference, net = model(), model()
    opt_ref = make(list(reference.parameters()))
    opt = make(list(net.parameters())) if built == "before" else None
    net.to(DEV)
    opt = opt or make(list(net.parameters()))
    rng = np.random.default_rng(0)
    for _ in range(3):
        for p, q in zip(reference.parameters(), net.parameters(), strict=True):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad = g
            q.grad = xps.asarray(g, device=xps.Device("device1"))
        opt_ref.step()
        opt.step()
    for p, q in zip(reference.parameters(), net.parameters(), strict=True):
        assert q.device == DEV
        np.testing.assert_allclose(host(q.data), p.data, rtol=1e-6, atol=1e-7)
        for value in opt.state[q].values():
            if hasattr(value, "__array_namespace__"):
                assert value.device == xps.Device("device1")


class Tiny(nn.Module):
    """A model on core ops only (matmul, add, tanh, mean), which run on every backend."""

    def __init__(self):
        super().__init__()
        ag.manual_seed(0)
        self.w = nn.Parameter(ag.randn(4, 3) * 0.5)
        self.b = nn.Parameter(ag.zeros(4))
        self.v = nn.Parameter(ag.randn(1, 4) * 0.5)

    def forward(self, x):
        return ag.tanh(x @ self.w.T + self.b) @ self.v.T


@pytest.mark.parametrize("opt_class", [optim.SGD, optim.Adam])
def test_forward_backward_and_steps_on_device1_equal_numpys(opt_class):
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    target = np.linspace(-1, 1, 5, dtype=np.float32)[:, None]
    runs = []
    for device in ("cpu", DEV):
        net = Tiny().to(device)
        opt = opt_class(net.parameters(), lr=0.1)
        for _ in range(3):
            err = net(ag.tensor(x, device=device)) - ag.tensor(target, device=device)
            loss = ag.mean(err * err)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert all(p.device == device and p.grad.device == device for p in net.parameters())
        runs.append((loss.item(), [host(p.data) for p in net.parameters()]))
    (loss0, params0), (loss1, params1) = runs
    assert loss1 == pytest.approx(loss0, rel=1e-5)
    for a, b in zip(params0, params1, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opt_class", [optim.SGD, optim.Adam])
def test_a_training_step_of_nn_layers_on_device1_equals_numpys(opt_class):
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1])
    losses = []
    for device in ("cpu", DEV):
        net = model().to(device)
        opt = opt_class(net.parameters(), lr=0.1)
        for _ in range(2):
            xb = ag.tensor(x, device=device)
            loss = F.cross_entropy(net(xb), ag.tensor(y, device=device))
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert all(p.device == device and p.grad.device == device for p in net.parameters())
        losses.append((loss.item(), [host(p.data) for p in net.parameters()]))
    (loss0, params0), (loss1, params1) = losses
    assert loss1 == pytest.approx(loss0, rel=1e-5)
    for a, b in zip(params0, params1, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_save_writes_host_arrays_and_load_state_dict_copies_onto_each_device(tmp_path):
    net = model()
    net[1].running_mean[...] = [1, 2, 3, 4]
    net.to(DEV)
    path = tmp_path / "net.npz"
    nn.save(net.state_dict(), path)
    loaded = nn.load(path)
    assert all(type(v) is np.ndarray for v in loaded.values())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(loaded[k], host(v))

    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    other.to(DEV)
    params = list(other.parameters())
    # float64 values land in the float32 parameters, on device1, in the same objects
    other.load_state_dict({k: v.astype(np.float64) if v.dtype.kind == "f" else v
                           for k, v in loaded.items()})
    assert list(other.parameters()) == params
    for k, v in other.state_dict().items():
        assert v.device == xps.Device("device1")
        np.testing.assert_array_equal(host(v), loaded[k])
    assert other[0].weight.dtype == xps.float32 and other[1].num_batches_tracked.dtype == xps.int64

    # and back: a device1 state_dict into a model on the CPU
    plain = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    plain.load_state_dict(net.state_dict())
    for k, v in plain.state_dict().items():
        np.testing.assert_array_equal(v, loaded[k])


def test_load_state_dict_still_names_bad_keys_on_a_device():
    net = model().to(DEV)
    state = net.state_dict()
    state["0.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        net.load_state_dict(state)


def test_a_fused_model_runs_on_device1_as_the_model_as_written():
    ag.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(2 * 4 * 4, 4), nn.ReLU(),
                        nn.Linear(4, 2)).to(DEV)
    fast = nn.fuse(net)  # after .to: the copies share the moved parameters
    x = ag.tensor(np.random.default_rng(2).standard_normal((3, 1, 8, 8)).astype(np.float32),
                  device=DEV)
    grads = []
    for model in (net, fast):
        model.zero_grad()
        out = model(x)
        (out * out).sum().backward()
        grads.append([host(out.data)] + [host(p.grad.data) for p in model.parameters()])
    assert fast(x).device == DEV and fast(x).grad_fn.name == "linear"
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
