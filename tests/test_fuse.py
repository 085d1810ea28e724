"""A model runs as written; nn.fuse(model) is the explicit step that fuses runs of
layers, with the same values and gradients (bit for bit but where the fused conv's
product sums in another order) and fewer graph nodes."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from nn import functional as F


def cnn():
    ag.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 8), nn.ReLU(), nn.Linear(8, 8),
                         nn.ReLU(), nn.Linear(8, 3))


def nodes(out) -> list[str]:
    """The names of every node in out's graph, each once."""
    seen, stack, names = set(), [out.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(node.name)
        stack.extend(node.next_functions)
    return names


def batch():
    rng = np.random.default_rng(1)
    x = ag.tensor(rng.standard_normal((4, 1, 8, 8)).astype(np.float32))
    return x, ag.as_tensor(np.array([0, 2, 1, 2]))


def test_sequential_runs_the_layers_as_written():
    x = ag.randn(2, 3, requires_grad=True)
    assert nn.Sequential(nn.Linear(3, 4), nn.ReLU())(x).grad_fn.name == "relu"
    img = ag.randn(2, 1, 4, 4, requires_grad=True)
    assert nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(img).grad_fn.name == "max_pool2d"
    out = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))(img)
    assert out.grad_fn.name == "linear" and out.grad_fn.next_functions[0].name == "reshape"
    names = nodes(F.cross_entropy(cnn()(batch()[0]), batch()[1]))
    assert not {"linear_relu", "relu_max_pool2d", "flatten_linear"} & set(names)


def test_relu_forward_and_its_hooks_run_in_a_plain_sequential(monkeypatch):
    calls = []
    forward = nn.ReLU.forward
    monkeypatch.setattr(nn.ReLU, "forward", lambda self, x: calls.append("forward")
                        or forward(self, x))  # where a breakpoint would stop
    model = cnn()
    for m in model:
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda m, args, out: calls.append("hook"))
    model(batch()[0])
    assert calls == ["forward", "hook"] * 3


def test_fuse_gives_the_same_values_and_gradients_with_fewer_nodes():
    x, y = batch()
    results = []
    for make in (cnn, lambda: nn.fuse(cnn())):
        model = make()
        loss = F.cross_entropy(model(x), y)
        names = nodes(loss)  # (backward frees the graph)
        loss.backward()
        results.append((loss, [p.grad.data for p in model.parameters()], names))
    (plain, plain_grads, plain_nodes), (fast, fast_grads, fast_nodes) = results
    np.testing.assert_allclose(plain.data, fast.data, rtol=1e-6)
    for a, b in zip(plain_grads, fast_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # conv+relu+pool (3 nodes to 1), flatten+linear, linear+relu
    assert len(fast_nodes) == len(plain_nodes) - 4
    assert {"conv2d_relu_max_pool2d", "flatten_linear", "linear_relu"} <= set(fast_nodes)


def test_fuse_returns_a_new_model_sharing_the_parameters():
    model = cnn()
    fast = nn.fuse(model)
    assert fast is not model and len(model) == 9 and len(fast) == 5  # model unchanged
    assert list(fast.state_dict()) == list(model.state_dict())  # the same keys
    assert all(a is b for a, b in zip(fast.parameters(), model.parameters(), strict=True))
    # pairs from the left: Flatten -> Linear takes the Linear before ReLU can
    assert [type(m).__name__ for m in fast] == ["ConvReLUMaxPool2d", "FlattenLinear",
                                                "ReLU", "LinearReLU", "Linear"]
    # training the one trains the other: an optimizer over model's parameters
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = batch()
    before = model(x).data.copy()
    F.cross_entropy(fast(x), y).backward()
    opt.step()
    np.testing.assert_allclose(fast(x).data, model(x).data, rtol=1e-6)
    assert not np.array_equal(before, model(x).data)
    # a state_dict loaded into the fused model reaches the original's parameters
    fast.load_state_dict(cnn().state_dict())
    np.testing.assert_array_equal(model(x).data, cnn()(x).data)


def test_fuse_reaches_sequentials_inside_custom_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
            self.head = nn.Linear(4, 2)
            self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(2, 2), nn.ReLU())])

        def forward(self, x):
            return self.blocks[0](self.head(self.body(x)))

    net = Net()
    fast = nn.fuse(net)
    x = ag.randn(5, 3)
    assert type(fast) is Net and type(fast.body[0]) is nn.LinearReLU
    assert type(fast.blocks[0][0]) is nn.LinearReLU and type(net.body[0]) is nn.Linear
    np.testing.assert_array_equal(fast(x).data, net(x).data)
    assert fast(x).grad_fn.name == "linear_relu" and net(x).grad_fn.name == "relu"


def test_fuse_keeps_shared_modules_shared_and_leaves_the_rest_alone():
    shared = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    outer = nn.Sequential(shared, nn.Tanh(), shared)
    fast = nn.fuse(outer)
    assert fast[0] is fast[2] and fast[0] is not shared
    assert [type(m).__name__ for m in fast] == ["Sequential", "Tanh", "Sequential"]
    assert nn.fuse(fast[0])[0].weight is shared[0].weight  # fusing again changes nothing


def test_fuse_takes_a_module():
    with pytest.raises(TypeError, match="fuse: expected an nn.Module, got list"):
        nn.fuse([nn.Linear(2, 2), nn.ReLU()])
