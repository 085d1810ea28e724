"""(c) mlp: one SGD training step of a 784-256-256-10 ReLU MLP, float32.

Softmax cross-entropy (mean over the batch), SGD with lr 0.01, batches 16,
128 and 1024. Every engine starts from the same weights (PyTorch's default
init, drawn once) and the same batch; each step returns the loss.
"""

from __future__ import annotations

import numpy as np
from harness import (
    FLOOR,
    Case,
    FloorError,
    HandWrittenSGD,
    central_difference_error,
    classifier_step,
    load_nn,
    only_autograd_core,
    rel_err,
)

SIZES = (784, 256, 256, 10)
LR = 0.01


def init_params(sizes, rng, dtype=np.float32) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...] in PyTorch's layout (out, in), U(+-1/sqrt(in))."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1 / np.sqrt(n_in)
        params.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(dtype))
        params.append(rng.uniform(-bound, bound, n_out).astype(dtype))
    return params


def batch(sizes, n, rng, dtype=np.float32):
    return rng.standard_normal((n, sizes[0])).astype(dtype), rng.integers(0, sizes[-1], n)


class NumpyMLP(HandWrittenSGD):
    """Hand-written forward and backward, every buffer allocated once."""

    lr = LR

    def __init__(self, params, n):
        self.params = [p.copy() for p in params]
        self.grads = [np.empty_like(p) for p in params]
        self.z = [np.empty((n, w.shape[0]), w.dtype) for w in self.params[::2]]
        self.masks = [np.empty(z.shape, bool) for z in self.z[:-1]]
        self.dz = [np.empty_like(z) for z in self.z[:-1]]  # gradients of hidden layers
        self.col = np.empty((n, 1), self.z[0].dtype)
        self.rows = np.arange(n)

    def forward_backward(self, x, y) -> float:
        ws, bs, n = self.params[::2], self.params[1::2], len(x)
        inputs = [x, *self.z[:-1]]
        for i, (w, b, z) in enumerate(zip(ws, bs, self.z, strict=True)):
            np.matmul(inputs[i], w.T, out=z)
            z += b
            if i < len(self.masks):
                np.maximum(z, 0, out=z)  # relu in place
                np.greater(z, 0, out=self.masks[i])
        # stable log-softmax: logits - max - log(sum(exp(logits - max)))
        logits, s = self.z[-1], self.col
        np.max(logits, axis=1, keepdims=True, out=s)
        logits -= s
        picked = logits[self.rows, y]
        np.exp(logits, out=logits)
        np.sum(logits, axis=1, keepdims=True, out=s)
        loss = float(np.log(s).sum() - picked.sum()) / n
        # d loss / d logits = (softmax - onehot) / n
        logits /= s
        logits[self.rows, y] -= 1
        logits *= 1 / n
        g = logits
        for i in range(len(ws) - 1, -1, -1):
            np.matmul(g.T, inputs[i], out=self.grads[2 * i])
            np.sum(g, axis=0, out=self.grads[2 * i + 1])
            if i > 0:
                np.matmul(g, ws[i], out=self.dz[i - 1])
                np.multiply(self.dz[i - 1], self.masks[i - 1], out=self.dz[i - 1])
                g = self.dz[i - 1]
        return loss



def check() -> str:
    """Floor gradients over two steps against torch (float64), else central differences."""
    try:
        import torch
    except ImportError:
        return _check_central_difference()
    rng = np.random.default_rng(3)
    params, (x, y) = init_params(SIZES, rng, np.float64), batch(SIZES, 16, rng, np.float64)
    floor, tp = NumpyMLP(params, len(x)), [torch.tensor(p, requires_grad=True) for p in params]
    for _ in range(2):  # the second step catches stale buffers
        floor.forward_backward(x, y)
        h = torch.from_numpy(x)
        for i in range(0, len(tp), 2):
            h = h @ tp[i].T + tp[i + 1]
            h = torch.relu(h) if i < len(tp) - 2 else h
        torch.nn.functional.cross_entropy(h, torch.from_numpy(y)).backward()
        err = max(rel_err(g, p.grad.numpy()) for g, p in zip(floor.grads, tp, strict=True))
        if not err <= 1e-4:
            raise FloorError(f"mlp floor gradients differ from torch's by {err:.3g}")
        floor.step(x, y)
        with torch.no_grad():
            for p in tp:
                p -= LR * p.grad
                p.grad = None
    return f"mlp floor matches torch's gradients (float64, 2 steps) to {err:.1e} relative"


def _check_central_difference(eps=1e-6) -> str:
    rng = np.random.default_rng(4)
    sizes = (6, 5, 5, 3)
    params, (x, y) = init_params(sizes, rng, np.float64), batch(sizes, 4, rng, np.float64)
    floor = NumpyMLP(params, len(x))
    err = central_difference_error(floor, x, y, eps)
    if not err <= 1e-4:
        raise FloorError(f"mlp floor differs from central differences by {err:.3g}")
    return f"mlp floor matches central differences (6-5-5-3) to {err:.1e} relative"


def make_impls(sizes, n, seed=0, fuse=True) -> dict:
    rng = np.random.default_rng(seed)
    params, (x, y) = init_params(sizes, rng), batch(sizes, n, rng)
    hidden = len(params) // 2 - 1

    def floor():
        model = NumpyMLP(params, n)
        return lambda: model.step(x, y)

    def autograd_core():
        ag, nn, F, optim = load_nn()
        layers = []
        for i in range(0, len(params), 2):
            layers.append(nn.Linear(params[i].shape[1], params[i].shape[0]))
            layers[-1].weight.data, layers[-1].bias.data = params[i].copy(), params[i + 1].copy()
            layers += [nn.ReLU()] if i < 2 * hidden else []
        model = nn.Sequential(*layers)
        if fuse:  # each Linear -> ReLU as one op
            model = nn.fuse(model)
        opt = optim.SGD(model.parameters(), lr=LR)
        return classifier_step(model, opt, ag.as_tensor(x), ag.as_tensor(y), F.cross_entropy)

    def pytorch():
        import torch

        layers = []
        for i in range(0, len(params), 2):
            layers.append(torch.nn.Linear(params[i].shape[1], params[i].shape[0]))
            with torch.no_grad():
                layers[-1].weight.copy_(torch.from_numpy(params[i]))
                layers[-1].bias.copy_(torch.from_numpy(params[i + 1]))
            layers += [torch.nn.ReLU()] if i < 2 * hidden else []
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        return classifier_step(model, opt, torch.from_numpy(x), torch.from_numpy(y),
                               torch.nn.functional.cross_entropy)

    def hips():
        import autograd
        import autograd.numpy as anp

        ps = [np.array(p.T) for p in params]  # copies; weights as (in, out)

        def loss_fn(ps, x, y):
            h = x
            for i in range(0, len(ps), 2):
                h = anp.dot(h, ps[i]) + ps[i + 1]
                h = anp.maximum(h, 0) if i < len(ps) - 2 else h
            z = h - anp.max(h, axis=1, keepdims=True)
            return anp.mean(anp.log(anp.sum(anp.exp(z), axis=1)) - z[np.arange(len(y)), y])

        value_and_grad = autograd.value_and_grad(loss_fn)

        def step():
            loss, grads = value_and_grad(ps, x, y)
            for p, g in zip(ps, grads, strict=True):
                p -= LR * g
            return loss

        return step

    def mygrad():
        import mygrad as mg
        from mygrad.nnet import relu, softmax_crossentropy

        ps = [mg.tensor(np.array(p.T)) for p in params]  # weights as (in, out)

        def step():
            h = x
            for i in range(0, len(ps), 2):
                h = mg.matmul(h, ps[i]) + ps[i + 1]
                h = relu(h) if i < len(ps) - 2 else h
            loss = softmax_crossentropy(h, y)
            loss.backward()
            for p in ps:
                p.data -= LR * p.grad
            return loss.item()

        return step

    return {FLOOR: floor, "autograd-core": autograd_core, "PyTorch": pytorch,
            "HIPS autograd": hips, "MyGrad": mygrad}


def cases(quick: bool) -> list[Case]:
    # autograd-core runs nn.fuse(model), and in a row of its own the model as written
    return [case for n in (16, 128, 1024) for case in (
        Case(f"mlp batch {n}", make_impls(SIZES, n), rtol=1e-4),
        Case(f"mlp batch {n}, without nn.fuse",
             only_autograd_core(make_impls(SIZES, n, fuse=False)), rtol=1e-4))]
