"""optim on parameters of another array-API library (array-api-strict, on the CPU):
the same numbers as numpy bit for bit (parameters below blas.MIN_SIZE elements: above
it numpy's update is a BLAS axpy, tests/test_blas.py), state made in the parameter's
library and device, state dicts that round-trip, and nn.save writing host arrays."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim

xp = pytest.importorskip("array_api_strict")

CONFIGS = [
    ("SGD", dict(lr=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, momentum=0.9, centered=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, betas=(0.3, 0.6))),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
]
SHAPES = [(), (7,), (4, 5)]


def host(a):
    return np.from_dlpack(a)


def run(name, kwargs, dtype, strict, steps=5):
    rng = np.random.default_rng(0)
    params = []
    for shape in SHAPES:
        p = ag.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
        if strict:
            p._data = xp.asarray(p.data)  # the core will do this through device=
        params.append(p)
    opt = getattr(optim, name)(params, **kwargs)
    for _ in range(steps):
        for p in params:
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad = xp.asarray(g) if strict else ag.tensor(g)
        opt.step()
    return params, opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_updates_match_numpy_bit_for_bit(name, kwargs, dtype):
    ours, opt = run(name, kwargs, dtype, strict=True)
    theirs, reference = run(name, kwargs, dtype, strict=False)
    for p, q in zip(ours, theirs):
        assert type(p.data) is type(xp.asarray(1.0)) and p.data.dtype == xp.asarray(q.data).dtype
        assert host(p.data).tobytes() == q.data.tobytes()
    for p, q in zip(ours, theirs):
        mine, numpys = opt.state[p], reference.state[q]
        assert list(mine) == list(numpys)
        for key, value in mine.items():
            if isinstance(numpys[key], np.ndarray):
                assert value.__array_namespace__() is xp, key
                assert value.device == p.data.device and value.dtype == p.data.dtype, key
                assert host(value).tobytes() == numpys[key].tobytes(), key
            else:
                assert value == numpys[key], key


def test_state_dict_round_trip_stays_in_the_parameters_library(tmp_path):
    params, opt = run("Adam", dict(lr=0.01, amsgrad=True), np.float32, strict=True)
    sd = opt.state_dict()
    assert sd["state"][1]["exp_avg"].__array_namespace__() is xp
    assert sd["state"][1]["exp_avg"] is not opt.state[params[1]]["exp_avg"]  # a copy
    path = tmp_path / "ckpt.npz"
    nn.save({"optim": sd}, path)  # written as host arrays
    back = nn.load(path)["optim"]
    assert isinstance(back["state"][1]["exp_avg"], np.ndarray)
    fresh = optim.Adam([ag.tensor(np.zeros(s, np.float32), requires_grad=True) for s in SHAPES])
    for p, q in zip(fresh.param_groups[0]["params"], params):
        p._data = xp.asarray(np.zeros(q.shape, np.float32))
    fresh.load_state_dict(back)
    for p, q in zip(fresh.param_groups[0]["params"], params):
        for key, value in fresh.state[p].items():
            if key != "step":
                assert value.__array_namespace__() is xp and value.dtype == xp.float32
                assert host(value).tobytes() == host(opt.state[q][key]).tobytes()


def test_a_gradient_of_another_library_is_refused_before_any_update():
    params, opt = run("SGD", dict(lr=0.1, momentum=0.9), np.float64, strict=True, steps=1)
    before = [host(p.data).copy() for p in params]
    for p in params:
        p.grad = xp.ones(p.shape, dtype=xp.float64)
    with pytest.raises(RuntimeError, match="assigned grad is on cpu but the tensor is on "
                                           "array_api_strict"):
        params[2].grad = np.ones(params[2].shape)  # refused where the user erred
    for p, b in zip(params, before):
        assert host(p.data).tobytes() == b.tobytes()
