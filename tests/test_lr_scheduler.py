"""Learning-rate schedulers against their closed forms, with PyTorch's step semantics."""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
import pytest

import autograd_core as ag
import optim
from optim import lr_scheduler as S

BASES = [0.1, 0.02]


def make_opt(bases=BASES):
    groups = [{"params": [ag.tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in bases]
    return optim.SGD(groups, lr=1.0, momentum=0.9)


def trace(sched, epochs=20):
    """The rates at epochs 0..epochs: constructing is epoch 0, each step() one more."""
    rates = [sched.get_last_lr()]
    for _ in range(epochs):
        sched.optimizer.step()
        sched.step()
        assert sched.get_last_lr() == [g["lr"] for g in sched.optimizer.param_groups]
        rates.append(sched.get_last_lr())
    return np.array(rates)


def closed(form, epochs=20, bases=BASES):
    return np.array([[form(base, t) for base in bases] for t in range(epochs + 1)])


def test_construction_records_initial_lr_and_steps_to_epoch_zero():
    opt = make_opt()
    sched = S.StepLR(opt, step_size=3)
    assert sched.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == BASES == sched.base_lrs
    assert sched.get_last_lr() == BASES
    assert optim.lr_scheduler is S


def test_step_lr():
    rates = trace(S.StepLR(make_opt(), step_size=3, gamma=0.5))
    np.testing.assert_allclose(rates, closed(lambda b, t: b * 0.5 ** (t // 3)), rtol=1e-15)


def test_multi_step_lr_counts_repeated_milestones():
    milestones = [3, 7, 7, 12]
    rates = trace(S.MultiStepLR(make_opt(), milestones=milestones, gamma=0.1))
    expected = closed(lambda b, t: b * 0.1 ** bisect_right(milestones, t))
    np.testing.assert_allclose(rates, expected, rtol=1e-13)


def test_exponential_lr():
    rates = trace(S.ExponentialLR(make_opt(), gamma=0.9))
    np.testing.assert_allclose(rates, closed(lambda b, t: b * 0.9**t), rtol=1e-13)


@pytest.mark.parametrize("eta_min", [0.0, 0.005])
def test_cosine_annealing_lr(eta_min):
    T = 10
    rates = trace(S.CosineAnnealingLR(make_opt(), T_max=T, eta_min=eta_min))

    def form(base, t):
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T)) / 2

    # Up to T_max it anneals; past it, PyTorch's rate climbs back along the same cosine.
    np.testing.assert_allclose(rates, closed(form), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rates[T], [eta_min, eta_min], atol=1e-15)


def test_lambda_lr_one_function_per_group():
    opt = make_opt()
    rates = trace(S.LambdaLR(opt, [lambda t: 1 / (t + 1), lambda t: 0.95**t]))
    expected = np.array([[BASES[0] / (t + 1), BASES[1] * 0.95**t] for t in range(21)])
    np.testing.assert_allclose(rates, expected, rtol=1e-15)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        S.LambdaLR(make_opt(), [lambda t: 1.0])


def test_schedulers_chain_multiplicatively():
    opt = make_opt()
    a, b = S.ExponentialLR(opt, gamma=0.9), S.StepLR(opt, step_size=4, gamma=0.5)
    for t in range(1, 16):
        opt.step()
        a.step()
        b.step()
        for group, base in zip(opt.param_groups, BASES, strict=True):
            assert group["lr"] == pytest.approx(base * 0.9**t * 0.5 ** (t // 4), rel=1e-13)


def test_scheduler_state_dict_resumes():
    opt = make_opt()
    sched = S.CosineAnnealingLR(opt, T_max=8, eta_min=0.001)
    for _ in range(5):
        sched.step()
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_state
    expected = trace(sched, 6)

    opt2 = make_opt([1.0, 1.0])
    sched2 = S.CosineAnnealingLR(opt2, T_max=8)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    assert sched2.last_epoch == 5 and sched2.eta_min == 0.001
    np.testing.assert_array_equal(trace(sched2, 6), expected)


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(make_opt(), step_size=2, last_epoch=3)


def test_reduce_lr_on_plateau_patience_and_cooldown():
    opt = make_opt([1.0])
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, threshold=0.0)
    metrics = [10, 9, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8]
    # Epoch 5 is the third without improvement (> patience): halve. Epoch 6 is in the
    # cooldown and not counted, so epochs 7-8 make only two bad ones; 9 improves.
    expected = [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25]
    rates = []
    for m in metrics:
        sched.step(m)
        rates.append(opt.param_groups[0]["lr"])
    assert rates == expected
    assert sched.get_last_lr() == [0.25] and sched.last_epoch == 12 and sched.best == 8


def test_reduce_lr_on_plateau_defaults_threshold_and_min_lr():
    opt = make_opt([1.0, 0.5])
    sched = S.ReduceLROnPlateau(opt, min_lr=[0.05, 0.0])
    assert (sched.mode, sched.factor, sched.patience, sched.threshold) == ("min", 0.1, 10, 1e-4)
    assert (sched.threshold_mode, sched.cooldown, sched.eps) == ("rel", 0, 1e-8)
    sched.step(1.0)
    for _ in range(11):  # improvements below the relative threshold 1e-4 do not count
        sched.step(1.0 - 5e-5)
    assert sched.get_last_lr() == pytest.approx([0.1, 0.05])
    for _ in range(11):
        sched.step(1.0)
    assert sched.get_last_lr() == pytest.approx([0.05, 0.005])  # first group at its floor


def test_reduce_lr_on_plateau_max_mode_abs_threshold():
    opt = make_opt([1.0])
    sched = S.ReduceLROnPlateau(opt, mode="max", patience=0, threshold=0.1, threshold_mode="abs")
    for m, lr in [(0.5, 1.0), (0.55, 0.1), (0.7, 0.1), (0.75, 0.01)]:
        sched.step(m)
        assert opt.param_groups[0]["lr"] == pytest.approx(lr)
    with pytest.raises(ValueError, match="mode"):
        S.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="Factor"):
        S.ReduceLROnPlateau(opt, factor=1.0)


def test_reduce_lr_on_plateau_eps_stops_tiny_changes():
    opt = make_opt([1e-8])
    sched = S.ReduceLROnPlateau(opt, patience=0)
    sched.step(1.0)
    sched.step(2.0)  # 1e-8 -> 1e-9 changes the rate by less than eps = 1e-8
    assert opt.param_groups[0]["lr"] == 1e-8


def test_reduce_lr_on_plateau_state_dict():
    opt = make_opt([1.0])
    sched = S.ReduceLROnPlateau(opt, patience=1)
    for m in [3.0, 2.0, 2.5]:
        sched.step(m)
    state = sched.state_dict()
    sched2 = S.ReduceLROnPlateau(make_opt([1.0]), patience=5, mode="max")
    sched2.load_state_dict(state)
    assert (sched2.best, sched2.num_bad_epochs, sched2.patience, sched2.mode) == (2.0, 1, 1, "min")


SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.85)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES)
def test_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = getattr(S, name)(make_opt(), **kwargs)
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in BASES]
    t_opt = torch.optim.SGD(groups, lr=1.0)
    theirs = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    for _ in range(25):
        t_opt.step()
        theirs.step()
        ours.step()
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-14)


def test_reduce_lr_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    kwargs = dict(factor=0.5, patience=2, cooldown=1, min_lr=0.01)
    ours = S.ReduceLROnPlateau(make_opt(), **kwargs)
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in BASES]
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch.optim.SGD(groups), **kwargs)
    metrics = np.random.default_rng(0).normal(size=60).cumsum()  # a random walk
    for m in metrics:
        ours.step(m)
        theirs.step(m)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-15)


# -- bad input: clear errors at construction ---------------------------------------------
def _opt():
    return optim.SGD([ag.tensor([1.0], requires_grad=True)], lr=0.1)


@pytest.mark.parametrize("T_max", [0, -1, 2.5])
def test_cosine_rejects_a_non_positive_T_max(T_max):
    with pytest.raises(ValueError, match=rf"^CosineAnnealingLR: T_max must be a positive "
                                         rf"integer, got {T_max}"):
        S.CosineAnnealingLR(_opt(), T_max)


def test_gamma_must_be_non_negative():
    # gamma = 0 (drop the rate to zero) is allowed, as in PyTorch; a negative one is not.
    S.StepLR(_opt(), 1, gamma=0)
    S.ExponentialLR(_opt(), 0)
    S.MultiStepLR(_opt(), [2], gamma=0)
    with pytest.raises(ValueError, match=r"^StepLR: step_size must be a positive integer, got 0"):
        S.StepLR(_opt(), 0)
    with pytest.raises(ValueError, match=r"^StepLR: gamma must be a finite number >= 0, got -1"):
        S.StepLR(_opt(), 1, gamma=-1)
    with pytest.raises(ValueError, match=r"^ExponentialLR: gamma .* got -0.5"):
        S.ExponentialLR(_opt(), -0.5)
    with pytest.raises(ValueError, match=r"^MultiStepLR: gamma .* got nan"):
        S.MultiStepLR(_opt(), [2], gamma=float("nan"))


def test_milestones_and_lr_lambda_types():
    with pytest.raises(TypeError, match=r"^MultiStepLR: milestones must be a list of epoch "
                                        r"numbers, got 5"):
        S.MultiStepLR(_opt(), 5)
    with pytest.raises(TypeError, match=r"^MultiStepLR: milestones must be integer epoch "
                                        r"numbers, got 2.5"):
        S.MultiStepLR(_opt(), [1, 2.5])
    with pytest.raises(TypeError, match=r"^LambdaLR: lr_lambda must be a function \(or a list "
                                        r"of them\), got float"):
        S.LambdaLR(_opt(), 0.5)
    with pytest.raises(TypeError, match=r"^LambdaLR: lr_lambda\[0\] must be a function"):
        S.LambdaLR(_opt(), [0.5])
    with pytest.raises(TypeError, match=r"^StepLR: optimizer must be an Optimizer, got list"):
        S.StepLR([], 1)


def test_plateau_metrics_must_be_one_number():
    sched = S.ReduceLROnPlateau(_opt())
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau.step: metrics must be one number, "
                                         r"got shape \(2,\)"):
        sched.step(np.ones(2))
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau.step: .*got a list of 2"):
        sched.step([1.0, 2.0])
    with pytest.raises(TypeError, match=r"^ReduceLROnPlateau.step: .*got str"):
        sched.step("0.5")
    sched.step(np.ones((1, 1)))
    sched.step(ag.tensor(0.5))
    assert sched.best == 0.5


def test_plateau_bad_settings():
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau: mode 'foo' is unknown"):
        S.ReduceLROnPlateau(_opt(), mode="foo")
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau: threshold mode 'x'"):
        S.ReduceLROnPlateau(_opt(), threshold_mode="x")
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau: patience must be a non-negative "
                                         r"integer, got -1"):
        S.ReduceLROnPlateau(_opt(), patience=-1)
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau: factor must be >= 0, got -0.1"):
        S.ReduceLROnPlateau(_opt(), factor=-0.1)


# -- wrongly typed arguments ----------------------------------------------------------


def _typed_opt():
    return optim.SGD([ag.tensor(np.ones(2, np.float32), requires_grad=True)], lr=0.1)


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, 2),
    lambda o: S.LambdaLR(o, lambda e: 1.0),
    lambda o: S.ReduceLROnPlateau(o),
])
def test_load_state_dict_of_a_non_dict_is_a_type_error_naming_the_scheduler(make):
    sched = make(_typed_opt())
    name = type(sched).__name__
    with pytest.raises(TypeError, match=rf"{name}.load_state_dict: expected a dict.*got int"):
        sched.load_state_dict(3)


def test_lr_lambda_returning_a_non_number_is_a_type_error_at_construction():
    with pytest.raises(TypeError, match=r"LambdaLR: lr_lambda\(0\) must return a number, got str"):
        S.LambdaLR(_typed_opt(), lambda e: "x")


def test_lr_lambda_returning_numpy_numbers_is_accepted():
    sched = S.LambdaLR(_typed_opt(), lambda e: np.float64(0.5) ** e)
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.05])
