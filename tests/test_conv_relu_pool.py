"""nn.fuse runs Conv2d -> ReLU -> MaxPool2d as one conv2d_relu_max_pool2d node: the
values and gradients of the three layers in turn (to any order; bit for bit where
the arithmetic is exact, else to float32 rounding, the conv's product summing in
another order), PyTorch's first maximum of a tied window taking the gradient.
Configurations outside the op's scope stay apart."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
from autograd_core.backend import to_numpy
from nn.functional import conv as F
from nn.functional import conv_ops


def tied_values(rng, shape):
    """Small integers and halves: exact sums in float64, so any summation order gives
    the same bits; windows with ties, zeros and all-negative ones."""
    return rng.integers(-3, 4, size=shape).astype(np.float64) / rng.choice([1, 2], size=shape)


def layers(w0, b0, padding, pool):
    conv = nn.Conv2d(w0.shape[1], w0.shape[0], w0.shape[2:], padding=padding,
                     bias=b0 is not None)
    conv.weight.data = w0.copy()
    if b0 is not None:
        conv.bias.data = b0.copy()
    return nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(pool))


def run(model, x0, weights, order: int, x_grad: bool = True):
    """The output, the loss and every gradient (x's, then the parameters'); order 2
    differentiates the squared norm of dx again (the create_graph route). Without
    x_grad the fused module runs the fused op, else conv2d and relu_max_pool2d."""
    x = ag.tensor(x0, requires_grad=x_grad)
    out = model(x)
    loss = (out * weights).sum()
    if order == 2:
        (dx,) = ag.gradients(loss, [x], create_graph=True)
        loss = (dx * dx).sum()
    loss.backward()
    grads = [x.grad] + [p.grad for p in model.parameters()]
    return [out.data, loss.data] + [None if g is None else g.data for g in grads]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 3), pool=st.integers(1, 3),
       padding=st.integers(0, 3), bias=st.booleans(), order=st.sampled_from([0, 1, 2]))
def test_fused_equals_the_three_layers_bit_for_bit(seed, k, pool, padding, bias, order):
    """order 0: the input takes no gradient (the fused op runs); 1 and 2 with it."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(max(1, k + pool - 1 - 2 * padding), 8, size=2))
    x0, w0 = tied_values(rng, (2, 2, h, w)), tied_values(rng, (3, 2, k, k))
    b0 = tied_values(rng, (3,)) if bias else None
    plain, fast = layers(w0, b0, padding, pool), nn.fuse(layers(w0, b0, padding, pool))
    assert type(fast[0]) is nn.ConvReLUMaxPool2d
    out_shape = plain(ag.tensor(x0)).shape  # a ragged edge (floor mode) is dropped
    weights = tied_values(rng, out_shape)
    x_grad = order > 0
    order = max(order, 1)
    fused = run(fast, x0, weights, order, x_grad)
    apart = run(plain, x0, weights, order, x_grad)
    for a, b in zip(fused, apart, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("k, padding, pool, bias", [
    (3, 1, 2, True), (3, 1, 2, False), (3, 0, 2, True), (2, 1, 3, True), (1, 0, 2, False),
    (3, 2, (2, 3), True), (5, 2, 2, True)])
def test_fused_op_equals_the_three_ops_in_float32(k, padding, pool, bias):
    rng = np.random.default_rng(k * 10 + padding)
    x0 = rng.standard_normal((5, 3, 9, 11)).astype(np.float32)
    w0 = rng.standard_normal((4, 3, k, k)).astype(np.float32)
    b0 = rng.standard_normal(4).astype(np.float32) if bias else None
    results = []
    for fused in (True, False):
        x, w = ag.tensor(x0, requires_grad=True), ag.tensor(w0, requires_grad=True)
        b = None if b0 is None else ag.tensor(b0, requires_grad=True)
        out = (F.conv2d_relu_max_pool2d(x, w, b, padding, pool) if fused else
               F.max_pool2d(ag.relu(F.conv2d(x, w, b, padding=padding)), pool))
        out.backward(ag.tensor(np.linspace(-1, 1, out.size, dtype=np.float32)
                               .reshape(out.shape)))
        results.append([out.data] + [t.grad.data for t in (x, w, b) if t is not None])
    for a, b in zip(*results, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * np.abs(b).max())


def test_a_tied_window_sends_the_gradient_to_its_first_maximum():
    # a 1x1 conv of weight 1: the pool sees x itself
    x = ag.tensor(np.array([[[[1.0, 1.0, -1.0, -2.0],
                              [0.5, 1.0, -3.0, -4.0]]]]), requires_grad=True)
    w = ag.tensor(np.ones((1, 1, 1, 1)), requires_grad=True)
    out = F.conv2d_relu_max_pool2d(x, w, None, 0, 2)
    np.testing.assert_array_equal(out.data, [[[[1.0, 0.0]]]])
    out.backward(ag.tensor(np.array([[[[3.0, 5.0]]]])))
    # the first of the tied 1s takes it all; the all-negative window gives nothing
    np.testing.assert_array_equal(x.grad.data, [[[[3.0, 0.0, 0.0, 0.0],
                                                  [0.0, 0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(w.grad.data, [[[[3.0]]]])


def test_large_columns_are_recomputed_in_backward(monkeypatch):
    rng = np.random.default_rng(3)
    x0, w0, b0 = (rng.standard_normal(s) for s in ((2, 2, 6, 6), (3, 2, 3, 3), (3,)))

    def grads():
        ts = [ag.tensor(v, requires_grad=True) for v in (x0, w0, b0)]
        F.conv2d_relu_max_pool2d(*ts, 1, 2).sum().backward()
        return [t.grad.data for t in ts]

    kept = grads()
    monkeypatch.setattr(conv_ops, "KEEP_SAVED_BYTES", 0)
    for a, b in zip(grads(), kept, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_pool_that_does_not_fit_names_the_op():
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d: a 3x3 pool"):
        F.conv2d_relu_max_pool2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, 0, 3)


def test_fuse_keeps_the_conv_name_parameters_and_state_dict():
    ag.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 2, 3, padding=1, bias=False), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
    fast = nn.fuse(model)
    assert [type(m).__name__ for m in fast] == ["ConvReLUMaxPool2d", "ConvReLUMaxPool2d",
                                                "FlattenLinear"]
    assert list(fast._modules) == ["0", "3", "7"]
    assert list(fast.state_dict()) == list(model.state_dict())
    assert all(a is b for a, b in zip(fast.parameters(), model.parameters(), strict=True))
    assert "bias=False" in repr(fast[1]) and "pool_size=(2, 2)" in repr(fast[0])
    x = ag.tensor(np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32))
    outs, grads = [], []
    for m in (fast, model):
        m.zero_grad()
        out = m(x)
        out.sum().backward()
        outs.append(out.data)
        grads.append([p.grad.data.copy() for p in m.parameters()])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the first block's input takes no gradient: the fused op; the second's does:
    # conv2d and relu_max_pool2d (there the op's fold was slower)
    second = fast(x).grad_fn.next_functions[0]
    assert second.name == "relu_max_pool2d"
    assert second.next_functions[0].next_functions[0].name == "conv2d_relu_max_pool2d"


class MyConv(nn.Conv2d):
    pass


@pytest.mark.parametrize("conv, pool", [
    (nn.Conv2d(1, 2, 3, stride=2), nn.MaxPool2d(2)),
    (nn.Conv2d(1, 2, 3, dilation=2), nn.MaxPool2d(2)),
    (nn.Conv2d(2, 2, 3, groups=2), nn.MaxPool2d(2)),
    (nn.Conv2d(1, 2, 2, padding="same"), nn.MaxPool2d(2)),  # an uneven split
    (MyConv(1, 2, 3), nn.MaxPool2d(2)),
    (nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, stride=1)),
    (nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, padding=1)),
    (nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, dilation=2)),
    (nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, ceil_mode=True)),
])
def test_out_of_scope_layers_stay_apart(conv, pool):
    fast = nn.fuse(nn.Sequential(conv, nn.ReLU(), pool))
    assert [type(m).__name__ for m in fast] == [type(conv).__name__, "ReLUMaxPool2d"]


def test_hooks_and_indices_keep_the_layers_apart():
    hooked = nn.Conv2d(1, 2, 3)
    hooked.register_forward_hook(lambda m, args, out: None)
    fast = nn.fuse(nn.Sequential(hooked, nn.ReLU(), nn.MaxPool2d(2)))
    assert [type(m).__name__ for m in fast] == ["Conv2d", "ReLUMaxPool2d"]
    fast = nn.fuse(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(),
                                 nn.MaxPool2d(2, return_indices=True)))
    assert [type(m).__name__ for m in fast] == ["Conv2d", "ReLU", "MaxPool2d"]


def test_on_array_api_strict_it_equals_numpy():
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in ((2, 2, 7, 6), (3, 2, 3, 3), (3,))]
    results = []
    for wrap in (np.asarray, lambda a: xps.asarray(a, device=xps.Device("device1"))):
        ts = [ag.as_tensor(wrap(a)) for a in arrays]
        for t in ts:
            t.requires_grad_()
        out = F.conv2d_relu_max_pool2d(*ts, 1, 2)
        out.sum().backward()
        results.append([to_numpy(out.data)] + [to_numpy(t.grad.data) for t in ts])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_non_finite_gradient_reaches_only_the_window_winners(bad):
    """The pools' gradients mask g by multiplying (fast) only where g is finite: an inf
    or nan upstream gradient reaches each window's winner and leaves the rest 0, as
    PyTorch's, with no RuntimeWarning (inf * 0 would be nan)."""
    x0 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    winners = np.zeros((4, 4), bool)
    winners[1::2, 1::2] = True
    ones = np.ones((1, 1, 1, 1), np.float32)
    cases = [lambda x: F.max_pool2d(x, 2), lambda x: F.relu_max_pool2d(x, 2),
             lambda x: F.max_pool2d(x, 2, stride=1)[..., ::2, ::2],  # overlapping windows
             lambda x: F.conv2d_relu_max_pool2d(x, ag.tensor(ones), None, 0, 2)]
    for pool in cases:
        x = ag.tensor(x0, requires_grad=True)
        y = pool(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y.backward(np.full(y.shape, bad, np.float32))
        g = x.grad.data[0, 0]
        assert (g[~winners] == 0).all()
        np.testing.assert_array_equal(g[winners], np.float32(bad))
