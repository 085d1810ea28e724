"""nn.fuse runs ReLU -> MaxPool2d as MaxPool2d -> ReLU, Linear -> ReLU as one
linear_relu node and Flatten -> Linear as one flatten_linear node: the same
values and gradients, to any order, bit for bit, with ReLU on a pool's share of
the data. Each test compares with the two layers called one after the other.
A plain Sequential runs the layers as written (tests/test_fuse.py); Conv2d ->
ReLU -> MaxPool2d is fused as three (tests/test_conv_relu_pool.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn


def tied_values(rng, shape):
    """Small integers (and their halves): windows with ties, zeros, all-negative ones."""
    return rng.integers(-3, 4, size=shape).astype(np.float64) / rng.choice([1, 2], size=shape)


def run(model_layers, x0, w0, order: int):
    """loss and (dx, dw) through conv -> layers, as Sequential or layer by layer; order 2
    differentiates the squared norm of dx again (a WGAN-GP penalty's shape)."""
    conv = nn.Conv2d(1, 2, 2, padding=1, bias=False)
    conv.weight.data = w0.copy()
    x = ag.tensor(x0, requires_grad=True)
    # the layers fused apart from the conv, which would join a ReLU -> MaxPool2d
    out = (nn.Sequential(conv, nn.fuse(nn.Sequential(*model_layers)))(x) if order > 0
           else _by_hand(conv, model_layers, x))
    out = out[0] if isinstance(out, tuple) else out
    weights = np.linspace(-1, 1, out.size).reshape(out.shape)
    loss = (out * weights).sum()
    if abs(order) == 2:
        (dx,) = ag.gradients(loss, [x], create_graph=True)
        loss = (dx * dx).sum()
    loss.backward()
    # (at order 2 x gets no gradient: the network is piecewise linear in x)
    dx = None if x.grad is None else x.grad.data
    return out.data, loss.data, dx, conv.weight.grad.data


def _by_hand(conv, layers, x):
    h = conv(x)
    for layer in layers:
        h = layer(h)
    return h


pools = st.builds(
    lambda k, s, p, c, d: dict(kernel_size=k, stride=s, padding=min(p, k // 2), ceil_mode=c,
                               dilation=d),
    st.integers(1, 3), st.sampled_from([None, 1, 2]), st.integers(0, 1), st.booleans(),
    st.integers(1, 2))


@settings(max_examples=60, deadline=None)
@given(pool=pools, seed=st.integers(0, 2**16), order=st.sampled_from([1, 2]))
def test_relu_then_max_pool_equals_the_layers_in_turn(pool, seed, order):
    rng = np.random.default_rng(seed)
    x0, w0 = tied_values(rng, (2, 1, 6, 7)), tied_values(rng, (2, 1, 2, 2))
    layers = lambda: [nn.ReLU(), nn.MaxPool2d(**pool)]  # noqa: E731
    fused = run(layers(), x0, w0, order)
    apart = run(layers(), x0, w0, -order)
    assert fused[2] is not None or order == 2
    for a, b in zip(fused, apart, strict=True):
        np.testing.assert_array_equal(a, b)


def test_relu_runs_on_the_pooled_data_in_one_node():
    seq = nn.fuse(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)))
    x = ag.randn(2, 3, 8, 8, requires_grad=True)
    out = seq(x)
    assert out.grad_fn.name == "relu_max_pool2d" and out.grad_fn.next_functions == (None,)
    assert out.shape == (2, 3, 4, 4)
    assert np.array_equal(out.data, np.maximum(x.data, 0).reshape(2, 3, 4, 2, 4, 2).max((3, 5)))


def test_a_forward_hook_sees_the_real_relu_output():
    relu, seen = nn.ReLU(), []
    relu.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    seq = nn.fuse(nn.Sequential(relu, nn.MaxPool2d(2)))
    out = seq(ag.randn(1, 1, 4, 4, requires_grad=True))
    assert seen == [(1, 1, 4, 4)] and out.grad_fn.name == "max_pool2d"


def test_indices_are_the_relu_outputs_first_maxima():
    # a window of negatives: relu ties it at 0, so its index is the window's first entry
    x = ag.tensor(np.array([[[[-3.0, -1.0], [-2.0, -4.0]]]]))
    out, idx = nn.fuse(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True)))(x)
    assert out.data.ravel().tolist() == [0.0] and idx.data.ravel().tolist() == [0]


def test_other_pairs_run_in_turn():
    class MyReLU(nn.ReLU):
        def forward(self, x):
            return super().forward(x) * 2.0

    for first in (MyReLU(), nn.LeakyReLU(0.1)):
        out = nn.fuse(nn.Sequential(first, nn.MaxPool2d(2)))(ag.randn(1, 1, 4, 4,
                                                                     requires_grad=True))
        assert out.grad_fn.name == "max_pool2d"


def test_a_monitor_counts_dead_units_on_the_full_relu_output():
    from nn.diagnostics import Monitor

    conv = nn.Conv2d(1, 2, 1, bias=False)
    conv.weight.data = np.array([[[[1.0]]], [[[-1.0]]]])  # channel 1 is -channel 0
    seq = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))
    x = np.ones((1, 1, 2, 2))
    x[0, 0, 0, 0] = -1.0  # channel 0: one of 4 outputs 0; channel 1: three of 4
    with Monitor(seq) as mon:
        seq(ag.tensor(x))
        stats = mon.collect()
    assert stats["sparsity"]["1"] == 0.5  # 4 zeros of 8 full-size outputs, not of 2 pooled


# -- Linear -> ReLU: one linear_relu node --------------------------------------------
def mlp_run(layers, x0, order: int):
    """loss and the input's and every weight's gradients through the layers, as
    nn.fuse(Sequential) (order > 0) or layer by layer (order < 0); order 2 differentiates
    the squared norm of dx again, which reaches the weights through linear_relu's rule."""
    x = ag.tensor(x0, requires_grad=True)
    out = nn.fuse(nn.Sequential(*layers))(x) if order > 0 else _by_hand(layers[0], layers[1:], x)
    loss = (out * np.linspace(-1, 1, out.size).reshape(out.shape)).sum()
    if abs(order) == 2:
        (dx,) = ag.gradients(loss, [x], create_graph=True)
        loss = (dx * dx).sum()
    loss.backward()
    # (at order 2 a bias after the last relu gets no gradient: dx does not depend on it)
    grads = [p.grad for layer in layers for p in layer.parameters()] + [x.grad]
    return [out.data, loss.data] + [None if g is None else g.data for g in grads]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), order=st.sampled_from([1, 2]), bias=st.booleans())
def test_linear_then_relu_equals_the_layers_in_turn(seed, order, bias):
    rng = np.random.default_rng(seed)
    x0 = tied_values(rng, (3, 4))  # ties and exact zeros: relu's kink is hit

    def layers():
        ag.manual_seed(seed)
        return [nn.Linear(4, 5, bias=bias), nn.ReLU(), nn.Linear(5, 2), nn.ReLU()]

    fused, apart = mlp_run(layers(), x0, order), mlp_run(layers(), x0, -order)
    assert fused[2] is not None  # the first weight's gradient, at either order
    for a, b in zip(fused, apart, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def fused(*layers):
    return nn.fuse(nn.Sequential(*layers))


def test_linear_then_relu_is_one_node_unless_a_hook_or_subclass_intervenes():
    x = ag.randn(2, 3, requires_grad=True)
    assert fused(nn.Linear(3, 4), nn.ReLU())(x).grad_fn.name == "linear_relu"
    hooked = nn.Linear(3, 4)
    hooked.register_forward_hook(lambda m, args, out: None)
    assert fused(hooked, nn.ReLU())(x).grad_fn.name == "relu"

    class Scaled(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2.0

    assert fused(Scaled(3, 4), nn.ReLU())(x).grad_fn.name == "relu"
    assert fused(nn.Linear(3, 4), nn.LeakyReLU())(x).grad_fn.name == "leaky_relu"


# -- Flatten -> Linear: one flatten_linear node --------------------------------------
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), order=st.sampled_from([1, 2]))
def test_flatten_then_linear_equals_the_layers_in_turn(seed, order):
    rng = np.random.default_rng(seed)
    x0 = tied_values(rng, (2, 1, 4, 5))

    def layers():
        ag.manual_seed(seed)
        return [nn.Conv2d(1, 2, 2, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                nn.Linear(2 * 2 * 3, 3), nn.Tanh()]  # tanh: a second derivative in x

    fused, apart = mlp_run(layers(), x0, order), mlp_run(layers(), x0, -order)
    for a, b in zip(fused, apart, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_flatten_then_linear_is_one_node_only_for_the_default_flatten():
    x = ag.randn(2, 3, 4, requires_grad=True)
    assert fused(nn.Flatten(), nn.Linear(12, 2))(x).grad_fn.name == "flatten_linear"
    assert fused(nn.Flatten(0), nn.Linear(24, 2))(x).grad_fn.name == "linear"
    with pytest.raises(IndexError, match="flatten: axis 1 is out of range"):  # as apart
        fused(nn.Flatten(), nn.Linear(12, 2))(ag.randn(12))
