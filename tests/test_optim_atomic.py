"""Optimizer steps are all or nothing: a bad gradient anywhere (first, middle, last)
raises naming the parameter, and no parameter and no state has changed, including
step counters and state that the step would have created."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import autograd_core as ag
import optim

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict(weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
]
SHAPE = (2, 3)


def setup(name, kwargs, warm):
    """Three parameters of shape (2, 3) in two groups; `warm`: two good steps taken."""
    rng = np.random.default_rng(0)
    params = [ag.tensor(rng.standard_normal(SHAPE), requires_grad=True) for _ in range(3)]
    opt = getattr(optim, name)([{"params": params[:2]}, {"params": params[2:], "lr": 0.05}],
                               **kwargs)
    for _ in range(2 if warm else 0):
        for p in params:
            p.grad = ag.tensor(rng.standard_normal(SHAPE))
        opt.step()
    for p in params:
        p.grad = ag.tensor(rng.standard_normal(SHAPE))
    return params, opt


def snapshot(params, opt):
    return [p.data.copy() for p in params], copy.deepcopy(opt.state_dict())


def assert_bitwise_equal(a, b, where="state"):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_bitwise_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_bitwise_equal(x, y, f"{where}.{i}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    else:
        assert a == b, where


def check_unchanged(params, opt, before):
    data, state = before
    for i, (p, d) in enumerate(zip(params, data)):
        assert_bitwise_equal(p.data, d, f"parameter {i}")
    assert_bitwise_equal(opt.state_dict(), state)


@pytest.mark.parametrize("warm", [False, True], ids=["fresh", "warm"])
@pytest.mark.parametrize("position", [0, 1, 2], ids=["first", "middle", "last"])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_a_wrong_shaped_gradient_changes_nothing(name, kwargs, position, warm):
    params, opt = setup(name, kwargs, warm)
    before = snapshot(params, opt)
    assigned = False
    with pytest.raises((ValueError, RuntimeError)) as info:
        # The core may come to refuse this assignment itself; either way, nothing changes.
        params[position].grad = ag.tensor(np.ones((3, 2)))
        assigned = True
        opt.step()
    check_unchanged(params, opt, before)
    if assigned:
        message = str(info.value)
        group = 0 if position < 2 else 1
        assert f"{name}: gradient of parameter {position} (param group {group})" in message
        assert "(3, 2)" in message and "(2, 3)" in message
    params[position].grad = ag.tensor(np.ones(SHAPE))
    opt.step()  # and the next good step goes through
    assert not np.array_equal(params[position].data, before[0][position])


BAD_GRADIENTS = {
    "list": lambda: [[1.0] * 3] * 2,
    "text": lambda: "gradient",
    "int array": lambda: np.ones(SHAPE, dtype=np.int64),
    "bool array": lambda: np.ones(SHAPE, dtype=bool),
    "complex array": lambda: np.ones(SHAPE, dtype=np.complex128),
    "object array": lambda: np.full(SHAPE, 1.0, dtype=object),
}


@pytest.mark.parametrize("bad", list(BAD_GRADIENTS))
@pytest.mark.parametrize(("name", "kwargs"), [CONFIGS[1], CONFIGS[6], CONFIGS[8]])
def test_a_gradient_that_is_not_an_array_of_floats_changes_nothing(name, kwargs, bad):
    params, opt = setup(name, kwargs, warm=True)
    before = snapshot(params, opt)
    assigned = False
    with pytest.raises((TypeError, ValueError, RuntimeError)) as info:
        params[1].grad = BAD_GRADIENTS[bad]()
        assigned = True
        opt.step()
    check_unchanged(params, opt, before)
    if assigned:
        assert f"{name}: gradient of parameter 1 (param group 0)" in str(info.value)


def test_a_raw_array_gradient_of_the_right_shape_is_used():
    p = ag.tensor(np.ones(SHAPE), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    p.grad = np.full(SHAPE, 2.0)
    opt.step()
    assert np.all(p.data == 0.0)


def test_anomaly_mode_names_the_parameter_with_a_nan_gradient():
    """In anomaly mode a step refuses a NaN gradient, naming the parameter's index
    and group, and changes no parameter."""
    params = [ag.tensor(np.ones(2), requires_grad=True) for _ in range(4)]
    opt = optim.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1)
    for p in params:
        p.grad = ag.tensor(np.ones(2))
    params[3].grad = ag.tensor(np.array([1.0, np.nan]))
    with ag.detect_anomaly(), pytest.raises(RuntimeError,
                                             match=r"parameter 3 \(param group 1"):
        opt.step()
    for p in params:
        np.testing.assert_array_equal(p.data, np.ones(2))
