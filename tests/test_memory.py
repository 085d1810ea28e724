"""The graph is freed by reference counting alone, and training runs in flat memory."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np

import autograd_core as ag


class Square(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x


def _step(w, x, create=False):
    h = ag.tanh(x @ w)
    y = Square.apply(h).sum() + ag.logsumexp(h, axis=1).mean()
    y.backward(create_graph=create)
    return y


def test_graph_is_freed_without_the_cycle_collector():
    gc.disable()
    try:
        w = ag.randn(4, 3, requires_grad=True)
        for create in (False, True):
            y = _step(w, ag.randn(5, 4), create)
            node = weakref.ref(y.grad_fn)
            w.grad = None
            del y
            assert node() is None, "the graph outlived its output: a reference cycle"
    finally:
        gc.enable()


def test_training_loop_runs_in_flat_memory():
    w = ag.randn(64, 32, requires_grad=True)
    x = ag.randn(16, 64)
    tracemalloc.start()
    try:
        sizes = []
        for i in range(2000):
            _step(w, x)
            w.data -= 0.001 * w.grad.data
            w.grad = None
            if i in (999, 1999):  # after warm-up: numpy and Python caches fill first
                sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert sizes[1] - sizes[0] < 16 * 1024, f"memory grew by {sizes[1] - sizes[0]} bytes"
    assert np.isfinite(w.data).all()
