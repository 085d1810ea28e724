"""(d) cnn: one SGD step of a small CNN on a batch of 64 1x8x8 images, float32.

conv 3x3 (8 filters, padding 1) -> ReLU -> 2x2 max pool -> linear 128 -> 10,
softmax cross-entropy, SGD lr 0.01. Same weights and batch for every engine.
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
from numpy.lib.stride_tricks import sliding_window_view

N, C, LR = 64, 8, 0.01


def init_params(rng, dtype=np.float32) -> list[np.ndarray]:
    """[conv w (8,1,3,3), conv b, linear w (10,128), linear b], PyTorch's init."""
    shapes = [((C, 1, 3, 3), 9), ((C,), 9), ((10, C * 16), C * 16), ((10,), C * 16)]
    return [(rng.uniform(-1, 1, s) / np.sqrt(fan_in)).astype(dtype) for s, fan_in in shapes]


def batch(n, rng, dtype=np.float32):
    return rng.standard_normal((n, 1, 8, 8)).astype(dtype), rng.integers(0, 10, n)


def im2col(x, xp, cols):
    """(n,1,8,8) -> cols (9, 4*16*n): rows (kh,kw), columns (ph,pw,ho,wo,n).

    Columns are grouped by position in the 2x2 pooling window (ph,pw), so the
    pool is a reduction over one axis of the conv output; n innermost keeps
    every copy contiguous.
    """
    n = len(x)
    xp[1:-1, 1:-1] = x[:, 0].transpose(1, 2, 0)  # zero-padded, (10, 10, n)
    v = sliding_window_view(xp, (3, 3), axis=(0, 1))  # (h, w, n, kh, kw)
    np.copyto(cols.reshape(3, 3, 2, 2, 4, 4, n),
              v.reshape(4, 2, 4, 2, n, 3, 3).transpose(5, 6, 1, 3, 0, 2, 4))
    return cols


class NumpyCNN(HandWrittenSGD):
    """Hand-written forward and backward in channel-major layout, buffers reused.

    conv output z is (C, 4, 16n): channel, position in the pooling window,
    (ho, wo, n). Pooled features (C*16, n) are then in PyTorch's flatten order.
    """

    lr = LR

    def __init__(self, params, n):
        wc, bc, wl, bl = (p.copy() for p in params)
        self.params = [wc, bc, wl, bl]
        self.grads = [np.empty_like(p) for p in self.params]
        dt = wc.dtype
        self.xp = np.zeros((10, 10, n), dt)
        self.cols = np.empty((9, 64 * n), dt)
        self.z = np.empty((C, 64 * n), dt)
        self.pooled = np.empty((C, 16 * n), dt)
        self.first = np.empty((C, 4, 16 * n), bool)  # argmax mask of each window
        self.taken = np.empty((C, 16 * n), bool)
        self.logits = np.empty((10, n), dt)  # transposed: classes x batch
        self.gpool = np.empty((C * 16, n), dt)
        self.gz = np.empty((C, 4, 16 * n), dt)
        self.row = np.empty((1, n), dt)
        self.cols_idx = np.arange(n)

    def forward_backward(self, x, y) -> float:
        (wc, bc, wl, bl), (gwc, gbc, gwl, gbl), n = self.params, self.grads, len(x)
        cols, z = im2col(x, self.xp, self.cols), self.z
        np.matmul(wc.reshape(C, 9), cols, out=z)
        z += bc[:, None]
        np.maximum(z, 0, out=z)
        z4 = z.reshape(C, 4, 16 * n)
        pooled = np.max(z4, axis=1, out=self.pooled)  # (C, 16n) == (C*16, n)
        # argmax mask: the first entry of each window equal to its max
        first, taken = self.first, self.taken
        np.equal(z4, pooled[:, None], out=first)
        taken[...] = first[:, 0]
        for k in range(1, 4):
            first[:, k] &= ~taken
            taken |= first[:, k]
        pooled = pooled.reshape(C * 16, n)
        logits, s = self.logits, self.row
        np.matmul(wl, pooled, out=logits)
        logits += bl[:, None]
        # stable softmax cross-entropy, then d loss / d logits = (softmax - onehot) / n
        np.max(logits, axis=0, keepdims=True, out=s)
        logits -= s
        picked = logits[y, self.cols_idx]
        np.exp(logits, out=logits)
        np.sum(logits, axis=0, keepdims=True, out=s)
        loss = float(np.log(s).sum() - picked.sum()) / n
        logits /= s
        logits[y, self.cols_idx] -= 1
        logits *= 1 / n
        np.matmul(logits, pooled.T, out=gwl)
        np.sum(logits, axis=1, out=gbl)
        gpool = self.gpool
        np.matmul(wl.T, logits, out=gpool)
        gpool *= pooled > 0  # ReLU: the window's winner is > 0 exactly when its max is
        np.multiply(first, gpool.reshape(C, 1, 16 * n), out=self.gz)
        gz = self.gz.reshape(C, 64 * n)
        np.matmul(gz, cols.T, out=gwc.reshape(C, 9))
        np.sum(gz, axis=1, out=gbc)
        return loss


class PlainNumpyCNN(HandWrittenSGD):
    """The same step as a person first writes it by hand: im2col rows per output
    pixel (n, h, w), so the conv output is NHWC; pooling by reshaping it into
    2x2 windows. The padded input and the columns are reused buffers, the rest
    plain numpy expressions. No layout chosen for the pool, unlike NumpyCNN.
    """

    lr = LR

    def __init__(self, params, n):
        self.params = [p.copy() for p in params]
        self.grads = [np.empty_like(p) for p in self.params]
        dt = self.params[0].dtype
        self.xp = np.zeros((n, 10, 10), dt)
        self.cols = np.empty((n, 8, 8, 3, 3), dt)
        self.rows = np.arange(n)

    def forward_backward(self, x, y) -> float:
        (wc, bc, wl, bl), (gwc, gbc, gwl, gbl), n = self.params, self.grads, len(x)
        self.xp[:, 1:-1, 1:-1] = x[:, 0]
        self.cols[...] = sliding_window_view(self.xp, (3, 3), axis=(1, 2))
        cols = self.cols.reshape(n * 64, 9)
        z = cols @ wc.reshape(C, 9).T + bc  # (n*64, C): NHWC
        np.maximum(z, 0, out=z)
        z6 = z.reshape(n, 4, 2, 4, 2, C)
        pooled = z6.max(axis=(2, 4))  # (n, 4, 4, C)
        # Every maximum of a window gets the gradient: ties happen only at 0 after
        # ReLU, where ReLU's gradient is 0, so this equals PyTorch's first maximum.
        mask = z6 == pooled[:, :, None, :, None]
        flat = pooled.transpose(0, 3, 1, 2).reshape(n, C * 16)  # PyTorch's (C, H, W) order
        logits = flat @ wl.T + bl
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        sums = e.sum(axis=1)
        loss = float(np.log(sums).sum() - logits[self.rows, y].sum()) / n
        e /= sums[:, None]  # softmax, then d loss / d logits = (softmax - onehot) / n
        e[self.rows, y] -= 1
        e /= n
        np.matmul(e.T, flat, out=gwl)
        np.sum(e, axis=0, out=gbl)
        gpool = (e @ wl).reshape(n, C, 4, 4).transpose(0, 2, 3, 1)
        gz = mask * gpool[:, :, None, :, None]  # (n, 4, 2, 4, 2, C)
        gz = gz.reshape(n * 64, C)
        gz *= z > 0
        np.matmul(gz.T, cols, out=gwc.reshape(C, 9))
        np.sum(gz, axis=0, out=gbc)
        return loss


def check() -> str:
    """Floor gradients over two steps against torch (float64), else central differences."""
    try:
        import torch
    except ImportError:
        return _check_central_difference()
    rng = np.random.default_rng(5)
    params, (x, y) = init_params(rng, np.float64), batch(N, rng, np.float64)
    floors = [NumpyCNN(params, N), PlainNumpyCNN(params, N)]
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    F = torch.nn.functional
    for _ in range(2):  # the second step catches stale buffers
        losses = [floor.forward_backward(x, y) for floor in floors]
        h = F.max_pool2d(torch.relu(F.conv2d(torch.from_numpy(x), tp[0], tp[1], padding=1)), 2)
        F.cross_entropy(F.linear(h.flatten(1), tp[2], tp[3]), torch.from_numpy(y)).backward()
        err = max(rel_err(g, p.grad.numpy()) for floor in floors
                  for g, p in zip(floor.grads, tp, strict=True))
        if not err <= 1e-4 or not np.allclose(losses[0], losses[1]):
            raise FloorError(f"cnn floors' gradients differ from torch's by {err:.3g}")
        for floor in floors:
            floor.step(x, y)
        with torch.no_grad():
            for p in tp:
                p -= LR * p.grad
                p.grad = None
    return f"cnn floors match torch's gradients (float64, 2 steps) to {err:.1e} relative"


def _check_central_difference(eps=1e-6) -> str:
    rng = np.random.default_rng(6)
    params, (x, y) = init_params(rng, np.float64), batch(2, rng, np.float64)
    err = max(central_difference_error(cls(params, len(x)), x, y, eps)
              for cls in (NumpyCNN, PlainNumpyCNN))
    if not err <= 1e-4:
        raise FloorError(f"cnn floors differ from central differences by {err:.3g}")
    return f"cnn floors match central differences (batch 2) to {err:.1e} relative"


def make_impls(n=N, seed=0, floor_class=NumpyCNN, fuse=True) -> dict:
    rng = np.random.default_rng(seed)
    params, (x, y) = init_params(rng), batch(n, rng)

    def floor():
        model = floor_class(params, n)
        return lambda: model.step(x, y)

    def autograd_core():
        ag, nn, F, optim = load_nn()
        model = nn.Sequential(nn.Conv2d(1, C, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(C * 16, 10))
        for p, value in zip(model.parameters(), params, strict=True):
            p.data = value.copy()
        if fuse:  # Conv2d -> ReLU -> MaxPool2d and Flatten -> Linear, one op each
            model = nn.fuse(model)
        opt = optim.SGD(model.parameters(), lr=LR)
        return classifier_step(model, opt, ag.as_tensor(x), ag.as_tensor(y), F.cross_entropy)

    def pytorch():
        import torch

        tnn = torch.nn
        model = tnn.Sequential(tnn.Conv2d(1, C, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Flatten(), tnn.Linear(C * 16, 10))
        with torch.no_grad():
            for p, value in zip(model.parameters(), params, strict=True):
                p.copy_(torch.from_numpy(value))
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        return classifier_step(model, opt, torch.from_numpy(x), torch.from_numpy(y),
                               tnn.functional.cross_entropy)

    def hips():
        import autograd
        import autograd.numpy as anp

        # hand-rolled on the floor's im2col of the (constant) input, channel-major
        wc, bc, wl, bl = params
        ps = [wc.reshape(C, 9).copy(), bc[:, None].copy(), wl.copy(), bl[:, None].copy()]
        xp, cols = np.zeros((10, 10, n), x.dtype), np.empty((9, 64 * n), x.dtype)

        def loss_fn(ps, cols, y):
            h = anp.maximum(anp.dot(ps[0], cols) + ps[1], 0)
            h = anp.max(anp.reshape(h, (C, 4, 16 * n)), axis=1)  # 2x2 max pool
            z = anp.dot(ps[2], anp.reshape(h, (C * 16, n))) + ps[3]  # (10, n)
            z = z - anp.max(z, axis=0, keepdims=True)
            return anp.mean(anp.log(anp.sum(anp.exp(z), axis=0)) - z[y, np.arange(n)])

        value_and_grad = autograd.value_and_grad(loss_fn)

        def step():
            loss, grads = value_and_grad(ps, im2col(x, xp, cols), y)
            for p, g in zip(ps, grads, strict=True):
                p -= LR * g
            return loss

        return step

    def mygrad():
        import mygrad as mg
        from mygrad.nnet import conv_nd, max_pool, relu, softmax_crossentropy

        wc, bc, wl, bl = params
        ps = [mg.tensor(wc), mg.tensor(bc.reshape(1, C, 1, 1)), mg.tensor(wl.T.copy()),
              mg.tensor(bl)]

        def step():
            h = relu(conv_nd(x, ps[0], stride=1, padding=1) + ps[1])
            h = max_pool(h, (2, 2), 2).reshape(n, C * 16)
            loss = softmax_crossentropy(mg.matmul(h, ps[2]) + ps[3], y)
            loss.backward()
            for p in ps:
                p.data -= LR * p.grad
            return loss.item()

        return step

    return {FLOOR: floor, "autograd-core": autograd_core, "PyTorch": pytorch,
            "HIPS autograd": hips, "MyGrad": mygrad}


def cases(quick: bool) -> list[Case]:
    # Against the specialised floor, and against the plain one (see PlainNumpyCNN);
    # autograd-core runs nn.fuse(model), and in a row of its own the model as written.
    return [Case(f"cnn batch {N}", make_impls(), rtol=1e-4),
            Case(f"cnn batch {N}, plain floor", make_impls(floor_class=PlainNumpyCNN),
                 rtol=1e-4),
            Case(f"cnn batch {N}, without nn.fuse",
                 only_autograd_core(make_impls(fuse=False)), rtol=1e-4)]
