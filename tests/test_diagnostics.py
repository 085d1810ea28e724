"""nn.diagnostics.Monitor: opt-in hooks, dead units, saturation, gradient norms."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from nn.diagnostics import Monitor, activation_stats


def _model() -> nn.Sequential:
    ag.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Sigmoid(),
                         nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))


def _hooks(model: nn.Module) -> list:
    return [m._forward_hooks for m in model.modules()]


def test_attach_detach_leaves_no_hooks_and_same_outputs():
    model = _model()
    x = ag.randn(5, 6)
    assert all(h is None for h in _hooks(model))  # nothing until attached
    before = model(x).data.copy()
    monitor = Monitor(model)
    assert all(h is None for h in _hooks(model))
    with monitor:
        assert sum(bool(h) for h in _hooks(model)) == 3  # ReLU, Sigmoid, Tanh
        np.testing.assert_array_equal(model(x).data, before)
    assert not monitor.attached
    assert all(h is None for h in _hooks(model))
    np.testing.assert_array_equal(model(x).data, before)


def test_detach_keeps_the_users_own_hooks():
    model = _model()
    seen = []
    model[1].register_forward_hook(lambda m, i, o: seen.append(1))
    Monitor(model).attach().detach()
    model(ag.randn(2, 6))
    assert seen == [1] and len(model[1]._forward_hooks) == 1


def _relu_after(bias: float) -> nn.Sequential:
    ag.manual_seed(1)
    lin = nn.Linear(4, 5)
    lin.weight.data[...] = 0.01 * lin.weight.data
    lin.bias.data[...] = bias
    return nn.Sequential(lin, nn.ReLU())


@pytest.mark.parametrize("bias, dead", [(-100.0, 1.0), (100.0, 0.0)])
def test_dead_units_on_a_constructed_case(bias, dead):
    model = _relu_after(bias)
    with Monitor(model) as monitor:
        model(ag.randn(16, 4))
        record = monitor.step()
    assert record["dead"]["1"] == dead
    assert record["sparsity"]["1"] == dead


def test_dead_counts_units_zero_for_every_sample():
    y = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])  # units 0 and 3 never fire
    stats = activation_stats(y, "zero")
    assert stats == {"dead": 0.5, "sparsity": 6 / 8}


def test_dead_units_of_a_conv_are_channels():
    y = np.ones((2, 4, 3, 3))
    y[:, 1] = 0.0  # channel 1 is zero at every position of every sample
    y[0, 2, 0, 0] = 0.0  # a single zero does not kill channel 2
    stats = activation_stats(y, "zero")
    assert stats["dead"] == 0.25
    assert stats["sparsity"] == pytest.approx((18 + 1) / 72)


def test_saturation_on_constructed_inputs():
    model = nn.Sequential(nn.Sigmoid(), nn.Tanh())
    z = np.array([[-10.0, 0.0, 10.0, 0.1]])
    with Monitor(model) as monitor:
        model(ag.tensor(z))
        record = monitor.step()
    s = 1 / (1 + np.exp(-z))
    assert record["saturated"]["0"] == 0.5  # -10 and 10 leave [0.01, 0.99]
    assert record["mean_derivative"]["0"] == pytest.approx(np.mean(s * (1 - s)), rel=1e-5)
    t = np.tanh(s)  # tanh of the sigmoid's output: all in (0, 0.77), none saturated
    assert record["saturated"]["1"] == 0.0
    assert record["mean_derivative"]["1"] == pytest.approx(np.mean(1 - t * t), rel=1e-5)


def test_saturation_thresholds_are_configurable():
    y = np.array([[-0.999, -0.5, 0.2, 0.995]])
    assert activation_stats(y, "tanh")["saturated"] == 0.5
    assert activation_stats(y, "tanh", tanh_limit=0.4)["saturated"] == 0.75
    p = np.array([[0.05, 0.5, 0.96]])
    assert activation_stats(p, "sigmoid")["saturated"] == 0.0
    assert activation_stats(p, "sigmoid", sigmoid_band=(0.1, 0.9))["saturated"] == 2 / 3


def test_gradient_norms_equal_hand_computed_norms():
    model = _model()
    with Monitor(model) as monitor:
        loss = F.cross_entropy(model(ag.randn(7, 6)), np.arange(7) % 3)
        loss.backward()
        record = monitor.step(loss=loss.item())
    assert record["loss"] == loss.item() and record["step"] == 0
    for name, p in model.named_parameters():
        assert record["grad_norm"][name] == pytest.approx(np.linalg.norm(p.grad.data), rel=1e-6)
    w, b = model[2].weight.grad.data, model[2].bias.grad.data
    assert record["layer_grad_norm"]["2"] == pytest.approx(
        np.sqrt(np.sum(w ** 2) + np.sum(b ** 2)), rel=1e-6)
    assert record["speed"]["2"] == pytest.approx(np.linalg.norm(b), rel=1e-6)
    assert set(record["speed"]) == {"0", "2", "4", "6"}


def test_history_series_summary_and_training_only():
    model = _model()
    with Monitor(model, training_only=True) as monitor:
        for _ in range(3):
            model.zero_grad()
            F.cross_entropy(model(ag.randn(4, 6)), np.zeros(4, np.int64)).backward()
            monitor.after_backward()
        model.eval()
        model(ag.randn(4, 6))  # ignored: eval mode
        assert monitor.collect() == {}
        model.train()
    assert len(monitor.history) == 3
    assert len(monitor.series("speed", "0")) == 3
    assert np.isnan(monitor.series("dead", "nope")).all()
    text = monitor.summary(last=3)
    assert "| module |" in text and "ReLU" in text and "Sigmoid" in text


def test_zero_watch_by_name_and_to_dot():
    model = _model()
    monitor = Monitor(model, zero_watch=["3"])  # the Sigmoid module, by name
    with monitor:
        loss = F.cross_entropy(model(ag.randn(4, 6)), np.zeros(4, np.int64))
        dot = monitor.to_dot(loss)
        assert "|grad|" in dot.source
        loss.backward()
        record = monitor.step()
    assert record["dead"] == {"3": 0.0}  # sigmoid is never exactly 0
    assert "1" not in record.get("dead", {})


def test_vanishing_gradients_in_a_tiny_sigmoid_run():
    pytest.importorskip("sklearn")
    from nn.experiments import vanishing

    sig = vanishing.train_one("sigmoid", epochs=1, seed=0)["speeds"]
    relu = vanishing.train_one("relu", epochs=1, seed=0)["speeds"]
    # expected ~1/7 per layer, so ~3e-3 from the first to the fourth hidden layer
    assert np.all(sig[:, 0] < 0.03 * sig[:, -1])
    assert np.all(sig[:, :-1] < sig[:, 1:])  # monotone: each layer slower than the next
    assert np.all(relu[:, 0] > 0.05 * relu[:, -1])  # no such collapse with ReLU (~0.2)


def test_summary_rows_follow_the_layer_order():
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 5), nn.Tanh(),
                          nn.Linear(5, 3))
    with Monitor(model) as monitor:
        F.cross_entropy(model(ag.randn(4, 6)), np.zeros(4, np.int64)).backward()
        monitor.step()
    rows = [line.split("|")[1].strip() for line in monitor.summary().splitlines()[2:]]
    # first seen would put the activations (recorded during forward) last
    assert rows == ["0", "1", "2", "3", "4"]
