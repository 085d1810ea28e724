"""The GPU check (issue 17): `make gpu-check`, or

    PYTHONPATH=. python benchmarks/gpu_check.py --device cuda --out gpu-check.md

Parts (all by default; pick with --parity --training --sync --speed):
- parity: every registered op and composite on the device against numpy, one
  seed each, forward, first and second order, float64 and float32;
- training: 5 steps of an MLP, a small CNN and a WGAN-GP ring GAN on the device
  equal the same 5 steps on numpy (losses and final parameters);
- sync: one steady-state step of each reads nothing back to the host
  (cupyx.allow_synchronize(False) on CuPy; counted host reads on array-api-strict);
- speed (CuPy only): per-step times against a hand-written CuPy floor and
  PyTorch CUDA where installed.

Imports only numpy, cupy, torch (optional) and this repository, so it runs on a
machine without network. Without CuPy or a GPU, --device cuda prints
"skipped: no CuPy/GPU" and exits 0. --device array_api_strict:device1 runs the
parity, training and sync parts on the CI stand-in (speed is skipped there).
A time budget (--budget, seconds) stops the parity part early, listing the ops
it did not reach, so the whole check ends in time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

import autograd_core as ag
import nn
import optim
from autograd_core.backend import parse_device, to_numpy
from autograd_core.opcheck import all_names, run_on

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # imported by path in tests
from chain import chain, floor_grad  # noqa: E402  (benchmarks/chain.py: the same chain)

SKIPPED = "skipped: no CuPy/GPU"
# float64 on a GPU: other summation orders and transcendental routines than numpy's.
TOL = {"float64": (1e-9, 1e-9), "float32": (1e-3, 1e-3)}  # (rtol, atol relative to scale)


# -- the device ---------------------------------------------------------------------------
def cupy_or_none():
    """CuPy if it is installed and sees a GPU, else None."""
    try:
        import cupy
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # no CuPy, no driver, no GPU
        return None


class Device:
    """Moves numpy arrays onto the device under test and waits for it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.backend, self.where = parse_device(name)
        self.kind = self.backend.name  # "cupy", "array_api_strict", ...
        self.cupy = self.backend.library if self.kind == "cupy" else None

    def put(self, a: np.ndarray):
        return self.backend.xp.from_host(np.asarray(a), self.where)

    def sync(self) -> None:
        if self.cupy is not None:
            self.cupy.cuda.get_current_stream().synchronize()





def _error(got: np.ndarray, want: np.ndarray, dtype: str) -> float:
    """max |got - want| / (atol * scale + rtol * |want|): <= 1 passes."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return math.inf
    if got.size == 0:
        return 0.0
    rtol, atol = TOL[dtype]
    finite = np.isfinite(want)
    if not np.array_equal(np.isfinite(got), finite) or \
            not np.array_equal(got[~finite], want[~finite]):
        return math.inf
    scale = max(1.0, float(np.max(np.abs(want[finite]), initial=0.0)))
    err = np.abs(got[finite] - want[finite]) / (atol * scale + rtol * np.abs(want[finite]))
    return float(np.max(err, initial=0.0))


# -- parity: every op and composite ---------------------------------------------------------
def compare_case(got: dict, want: dict, dtype: str) -> tuple[float, str]:
    """The worst error over forward, first and second order, and where it is."""
    worst, where = 0.0, ""
    for order in ("forward", "first", "second"):
        if len(got[order]) != len(want[order]):
            return math.inf, f"{order}: {len(got[order])} results, numpy {len(want[order])}"
        for i, (a, b) in enumerate(zip(got[order], want[order], strict=True)):
            if (a is None) != (b is None):
                return math.inf, f"{order} {i}: None on one side only"
            if b is not None:
                e = _error(a, b, dtype)
                if e > worst:
                    worst, where = e, f"{order} {i}"
    return worst, where


def parity(dev: Device, names: list[str], deadline: float, dtypes=("float64", "float32"),
           seed: int = 0) -> dict:
    rows, unreached = [], []
    for name in names:
        if time.monotonic() > deadline:
            unreached.append(name)
            continue
        for dtype in dtypes:
            row = {"op": name, "dtype": dtype}
            t0 = time.perf_counter()
            try:
                want = run_on(name, seed, lambda a: a, dtype)
            except Exception as exc:  # an op that refuses float32 on numpy too: not a GPU fault
                row.update(status="n/a", detail=f"numpy: {type(exc).__name__}: {exc}"[:200])
                rows.append(row)
                continue
            try:
                got = run_on(name, seed, dev.put, dtype)
                err, where = compare_case(got, want, dtype)
                row.update(status="ok" if err <= 1 else "FAIL", error=err, where=where)
            except Exception as exc:
                row.update(status="FAIL", error=math.inf,
                           detail=f"{type(exc).__name__}: {exc}"[:300])
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
    failed = [r for r in rows if r["status"] == "FAIL"]
    return {"rows": rows, "unreached": unreached, "ok": not failed and not unreached,
            "failed": [f"{r['op']} ({r['dtype']})" for r in failed]}


# -- the three training steps ---------------------------------------------------------------
def _mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


def _cnn(side):
    pooled = 8 * (side // 2) ** 2
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(pooled, 10))


class Classifier:
    """Model + SGD + a list of batches; step(i) trains on batch i, returns the loss."""

    def __init__(self, make, batches, put, lr=0.01, momentum=0.9):
        ag.manual_seed(0)
        self.model = make()
        if put is not None:
            for p in self.model.parameters():
                p.data = put(np.asarray(p.data))
        self.opt = optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)
        put = put or (lambda a: a)
        self.batches = [(ag.as_tensor(put(x)), ag.as_tensor(put(y))) for x, y in batches]

    def step(self, i=0):
        x, y = self.batches[i % len(self.batches)]
        self.opt.zero_grad()
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def parameters(self):
        return list(self.model.parameters())


class RingGAN:
    """One WGAN-GP ring-GAN step: a critic step with gradient penalty (lambda 10),
    then a generator step with the critic frozen; Adam(1e-4, betas (0.5, 0.9))."""

    def __init__(self, batch, hidden, put, latent=8, steps=5):
        from nn.gan.models import Discriminator, Generator
        from nn.gan.ring import ring_data
        ag.manual_seed(0)
        self.G, self.D = Generator(latent, 2, hidden=hidden), Discriminator(2, hidden=hidden)
        if put is not None:
            for p in [*self.G.parameters(), *self.D.parameters()]:
                p.data = put(np.asarray(p.data))
        self.opt_g = optim.Adam(self.G.parameters(), lr=1e-4, betas=(0.5, 0.9))
        self.opt_d = optim.Adam(self.D.parameters(), lr=1e-4, betas=(0.5, 0.9))
        rng = np.random.default_rng(1)
        ag.manual_seed(1)
        put = put or (lambda a: a)
        f32 = np.float32
        self.batches = [tuple(put(a) for a in (
            ring_data(batch), rng.standard_normal((batch, latent)).astype(f32),
            rng.uniform(size=(batch, 1)).astype(f32),
            rng.standard_normal((batch, latent)).astype(f32))) for _ in range(steps)]

    def step(self, i=0):
        from nn.gan.losses import gradient_penalty
        real, z1, eps, z2 = self.batches[i % len(self.batches)]
        real = ag.as_tensor(real)
        with ag.no_grad():
            fake = self.G(ag.as_tensor(z1))
        self.opt_d.zero_grad()
        d_loss = (self.D(fake).mean() - self.D(real).mean()
                  + 10 * gradient_penalty(self.D, real, fake, eps=eps))
        d_loss.backward()
        self.opt_d.step()
        for p in self.D.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad()
        g_loss = -self.D(self.G(ag.as_tensor(z2))).mean()
        g_loss.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        return d_loss + g_loss

    def parameters(self):
        return [*self.G.parameters(), *self.D.parameters()]


def workloads(quick: bool) -> dict[str, Callable[[Any], Any]]:
    """name -> (put -> a trainer); quick = tiny sizes (the CI stand-in)."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    sizes, n_mlp = ((32, 16, 16, 10), 8) if quick else ((784, 1024, 1024, 10), 128)
    side, n_cnn = (4, 4) if quick else (8, 1024)
    n_gan, hidden = (8, (8, 8)) if quick else (256, (128, 128))
    mlp_batches = [(rng.standard_normal((n_mlp, sizes[0])).astype(f32),
                    rng.integers(0, 10, n_mlp)) for _ in range(5)]
    cnn_batches = [(rng.standard_normal((n_cnn, 1, side, side)).astype(f32),
                    rng.integers(0, 10, n_cnn)) for _ in range(5)]
    return {
        f"MLP {'-'.join(map(str, sizes))}, batch {n_mlp}":
            lambda put: Classifier(lambda: _mlp(sizes), mlp_batches, put),
        f"CNN conv3x3(8)-pool-linear, batch {n_cnn} of 1x{side}x{side}":
            lambda put: Classifier(lambda: _cnn(side), cnn_batches, put),
        f"WGAN-GP ring GAN, batch {n_gan}, hidden {hidden}":
            lambda put: RingGAN(n_gan, hidden, put),
    }


def training(dev: Device, quick: bool, steps: int = 5) -> dict:
    rows = []
    for name, make in workloads(quick).items():
        row = {"case": name}
        try:
            ref, got = make(None), make(dev.put)
            want_losses = [float(ref.step(i).data) for i in range(steps)]
            got_losses = [float(to_numpy(got.step(i).data)) for i in range(steps)]
            loss_err = max(abs(a - b) / (1e-5 + 1e-4 * abs(b))
                           for a, b in zip(got_losses, want_losses))
            param_err = max(_error(to_numpy(p.data), np.asarray(q.data), "float32")
                            for p, q in zip(got.parameters(), ref.parameters()))
            row.update(losses=got_losses, numpy_losses=want_losses, loss_error=loss_err,
                       param_error=param_err,
                       status="ok" if loss_err <= 1 and param_err <= 1 else "FAIL")
        except Exception as exc:
            row.update(status="FAIL", detail=f"{type(exc).__name__}: {exc}"[:300],
                       trace=traceback.format_exc(limit=-4))
        rows.append(row)
    return {"rows": rows, "ok": all(r["status"] == "ok" for r in rows)}


# -- sync: a steady-state step reads nothing back -----------------------------------------------
READS = ("__bool__", "__float__", "__int__", "__index__", "__array__", "__dlpack__", "item")


@contextlib.contextmanager
def counted_host_reads(array_type):
    """The list of host reads made through `array_type`'s conversion methods."""
    reads, saved = [], {}
    for name in READS:
        original = array_type.__dict__.get(name)
        if original is None:
            continue
        saved[name] = original

        def counted(self, *args, _name=name, _original=original, **kw):
            reads.append(_name)
            return _original(self, *args, **kw)
        setattr(array_type, name, counted)
    try:
        yield reads
    finally:
        for name, original in saved.items():
            setattr(array_type, name, original)


def sync_check(dev: Device, quick: bool) -> dict:
    rows = []
    for name, make in workloads(quick).items():
        row = {"case": name}
        try:
            trainer = make(dev.put)
            trainer.step(0)  # warm-up: allocations, cuBLAS handles, compiled kernels
            trainer.step(1)
            dev.sync()
            if dev.cupy is not None:
                import cupyx
                try:
                    with cupyx.allow_synchronize(False):
                        trainer.step(2)
                    row.update(status="ok", reads=0)
                except cupyx.DeviceSynchronized:
                    row.update(status="FAIL", detail="host synchronisation inside the step",
                               trace=traceback.format_exc(limit=-6))
            else:
                array_type = type(dev.put(np.zeros(1)))
                with counted_host_reads(array_type) as reads:
                    trainer.step(2)
                row.update(status="ok" if not reads else "FAIL", reads=len(reads),
                           detail=", ".join(reads[:10]))
        except Exception as exc:
            row.update(status="FAIL", detail=f"{type(exc).__name__}: {exc}"[:300])
        rows.append(row)
    return {"rows": rows, "ok": all(r["status"] == "ok" for r in rows),
            "method": "cupyx.allow_synchronize(False)" if dev.cupy is not None
            else "counted host reads on the array type"}


# -- the hand-written floors (numpy or CuPy) --------------------------------------------------
def floor_kernels(xp):
    """(relu_backward(g, h), sgd_update(g, lr, p) in place) for xp; fused on CuPy."""
    if xp is np:
        def relu_backward(g, h):
            return np.where(h > 0, g, np.zeros((), g.dtype))

        def sgd(g, lr, p):
            p -= p.dtype.type(lr) * g
        return relu_backward, sgd
    relu_backward = xp.ElementwiseKernel("T g, T h", "T out", "out = h > (T)0 ? g : (T)0",
                                         "floor_relu_backward")
    update = xp.ElementwiseKernel("T g, float64 lr", "T p", "p = p - (T)lr * g", "floor_sgd")

    def sgd(g, lr, p):
        update(g, float(lr), p)
    return relu_backward, sgd


def floor_step_kernels(xp, slope=0.2):
    """(leaky_backward(g, a), momentum(g, lr, mu, p, buf), adam(g, t, p, m, v, lr, betas,
    eps)) for xp, the updates in place, each as optim's (PyTorch's) rule; fused on CuPy.
    momentum: buf = mu buf + g, p -= lr buf (buf starting at 0, the first buf is g).
    adam: m = lerp(m, g, 1 - beta1) (rounded as optim.optimizer.lerp_), v = beta2 v +
    (1 - beta2) g^2, p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)."""
    def scalars(t, lr, betas, eps):
        (b1, b2), w = betas, 1 - betas[0]
        return w, b2, (1 - b2 ** t) ** 0.5, eps, lr / (1 - b1 ** t)
    if not hasattr(xp, "ElementwiseKernel"):
        def leaky_backward(g, a):
            return xp.where(a > 0, g, g * slope)

        def momentum(g, lr, mu, p, buf):
            buf *= mu
            buf += g
            p -= lr * buf

        def adam(g, t, p, m, v, lr, betas, eps):
            w, b2, c2, eps, step_size = scalars(t, lr, betas, eps)
            if w < 0.5:
                m += w * (g - m)
            else:
                m -= g
                m *= 1.0 - w
                m += g
            v *= b2
            v += (1 - b2) * g * g
            denom = xp.sqrt(v)
            denom /= c2
            denom += eps
            p -= m / denom * step_size
        return leaky_backward, momentum, adam
    leaky = xp.ElementwiseKernel("T g, T a, float64 s", "T out", "out = a > (T)0 ? g : g * (T)s",
                                 "floor_leaky_backward")
    sgd = xp.ElementwiseKernel("T g, float64 lr, float64 mu", "T p, T buf",
                               "buf = (T)mu * buf + g; p = p - (T)lr * buf", "floor_momentum")
    step = xp.ElementwiseKernel(
        "T g, float64 w, float64 b2, float64 c2, float64 eps, float64 step_size", "T p, T m, T v",
        "m = w < 0.5 ? m + (T)w * (g - m) : (m - g) * (T)(1.0 - w) + g;"
        "v = v * (T)b2 + (T)(1.0 - b2) * g * g;"
        "p = p - m / (sqrt(v) / (T)c2 + (T)eps) * (T)step_size", "floor_adam")

    def leaky_backward(g, a):
        return leaky(g, a, float(slope))

    def momentum(g, lr, mu, p, buf):
        sgd(g, float(lr), float(mu), p, buf)

    def adam(g, t, p, m, v, lr, betas, eps):
        step(g, *map(float, scalars(t, lr, betas, eps)), p, m, v)
    return leaky_backward, momentum, adam


def softmax_cross_entropy(xp, z, y):
    """(mean cross-entropy of logits z (n, k) at labels y, its gradient w.r.t. z)."""
    n = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    e = xp.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    rows = xp.arange(n)
    loss = (xp.log(s[:, 0]) + m[:, 0] - z[rows, y]).mean()
    g = e / s
    g[rows, y] -= 1
    g /= n
    return loss, g


class FloorMLP:
    """An MLP with ReLUs, softmax cross-entropy (mean) and plain SGD, by hand.

    params: [W1, b1, W2, b2, ...] with W of shape (out, in), as nn.Linear."""

    def __init__(self, xp, params, lr):
        self.xp, self.lr = xp, lr
        self.params = [xp.array(p, copy=True) for p in params]
        self.relu_backward, self.sgd = floor_kernels(xp)

    def step(self, x, y):
        """One SGD step on (x, y); the loss before it (a 0-d device array)."""
        xp = self.xp
        ws, bs = self.params[0::2], self.params[1::2]
        acts, pre = [x], []
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = acts[-1] @ w.T + b
            if i < len(ws) - 1:
                pre.append(h)
                h = xp.maximum(h, 0)
            acts.append(h)
        loss, g = softmax_cross_entropy(xp, acts.pop(), y)
        grads = []
        for i in range(len(ws) - 1, -1, -1):
            grads += [g.sum(axis=0), g.T @ acts[i]]  # b, W (reversed below)
            if i > 0:
                g = self.relu_backward(g @ ws[i], pre[i - 1])
        for p, gp in zip(self.params, grads[::-1]):
            self.sgd(gp, self.lr, p)
        return loss


class FloorCNN:
    """_cnn(side) by hand: Conv2d(1, C, 3, padding=1) -> ReLU -> MaxPool2d(2) -> Flatten
    -> Linear, softmax cross-entropy (mean), SGD with momentum (PyTorch's rule).

    params: [conv weight (C, 1, 3, 3), conv bias (C,), linear weight (10, F), linear
    bias (10,)], as model.parameters(). Activations are kept channel-first, (C, n, H, W):
    the convolution is one matmul of the (C, 9) weight with (9, n H W) im2col columns
    sliced from the padded input, and the pool takes the maximum of four strided views."""

    def __init__(self, xp, params, lr, momentum):
        self.xp, self.lr, self.momentum = xp, lr, momentum
        self.params = [xp.array(p, copy=True) for p in params]
        self.bufs = [xp.zeros_like(p) for p in self.params]  # mu 0 + g: the first is g
        self.relu_backward, _ = floor_kernels(xp)
        _, self.update, _ = floor_step_kernels(xp)

    def step(self, x, y):
        """One step on images x (n, 1, H, W) and labels y; the loss before it (0-d)."""
        xp, (wc, bc, wl, bl) = self.xp, self.params
        n, _, hgt, wid = x.shape
        c, h, w = wc.shape[0], hgt // 2, wid // 2
        xpad = xp.pad(x[:, 0], ((0, 0), (1, 1), (1, 1)))
        cols = xp.stack([xpad[:, i:i + hgt, j:j + wid] for i in range(3) for j in range(3)])
        cols = cols.reshape(9, -1)  # (9, n H W): tap (i, j) of every output pixel
        conv = (wc.reshape(c, 9) @ cols + bc[:, None]).reshape(c, n, hgt, wid)
        # relu(max) = max(relu): pool the 2x2 windows' four quarters (row-major), then ReLU
        quarters = [(i, j, conv[:, :, i:2 * h:2, j:2 * w:2]) for i in (0, 1) for j in (0, 1)]
        top = xp.maximum(xp.maximum(quarters[0][2], quarters[1][2]),
                         xp.maximum(quarters[2][2], quarters[3][2]))
        pooled = xp.maximum(top, 0)
        flat = pooled.transpose(1, 0, 2, 3).reshape(n, -1)  # nn.Flatten of (n, C, h, w)
        loss, g = softmax_cross_entropy(xp, flat @ wl.T + bl, y)
        g_wl, g_bl = g.T @ flat, g.sum(axis=0)
        rest = self.relu_backward((g @ wl).reshape(n, c, h, w).transpose(1, 0, 2, 3), pooled)
        # PyTorch's tie rule: the first maximum of a window takes the gradient; an odd
        # side's last row or column is not pooled and gets none
        g, zero = xp.zeros_like(conv), xp.zeros((), conv.dtype)
        for i, j, q in quarters:
            hit = q == top
            g[:, :, i:2 * h:2, j:2 * w:2] = xp.where(hit, rest, zero)
            rest = xp.where(hit, zero, rest)
        g = g.reshape(c, -1)
        grads = [(g @ cols.T).reshape(wc.shape), g.sum(axis=1), g_wl, g_bl]
        for p, gp, buf in zip(self.params, grads, self.bufs):
            self.update(gp, self.lr, self.momentum, p, buf)
        return loss


def _dense_forward(params, x, act):
    """An MLP [W1, b1, ...] on x: (layer inputs h_0 = x, h_1, ..., pre-activations a_l);
    act between layers, the last layer's a is the output."""
    hs, pre = [x], []
    for i in range(0, len(params), 2):
        pre.append(hs[-1] @ params[i].T + params[i + 1])
        if i < len(params) - 2:
            hs.append(act(pre[-1]))
    return hs, pre


def _dense_backward(params, hs, pre, g, act_backward, weights=True, halves=False):
    """From g = d loss / d output: [dW1, db1, ...] with weights, else d loss / d input.
    halves: the rows are two batches whose bias gradients are summed apart, as the engine
    does for D(fake) and D(real): where they cancel (a unit with one slope on every row)
    that gives 0, not rounding noise that Adam's first step turns into a step of lr."""
    grads, m = [], g.shape[0] // 2
    for i in range(len(params) // 2 - 1, -1, -1):
        if weights:
            db = g[:m].sum(axis=0) + g[m:].sum(axis=0) if halves else g.sum(axis=0)
            grads += [db, g.T @ hs[i]]  # b, W (reversed below)
            if i == 0:
                return grads[::-1]
        g = g @ params[2 * i]
        if i > 0:
            g = act_backward(g, pre[i - 1])
    return g


class FloorRingGAN:
    """RingGAN.step by hand: G = Linear-ReLU-...-Linear, critic D = Linear-LeakyReLU(0.2)-
    ...-Linear(., 1); a critic step on D(fake).mean() - D(real).mean() + 10 GP, then a
    generator step on -D(G(z2)).mean() with the updated critic; Adam (PyTorch's) on each.

    The penalty's gradient. Write D's layers l = 0..L-1 as a_l = h_l W_l^T + b_l,
    h_0 = x, h_{l+1} = act(a_l), output a_{L-1}, and s_l = act'(a_l) in {1, 0.2}. The
    input gradient of sum D(x) is p_0, from q_{L-1} = 1 (n, 1), p_l = q_l W_l and
    q_{l-1} = p_l * s_{l-1}. LeakyReLU is piecewise linear: s_l is constant in the
    weights almost everywhere (the engine's rule where(a > 0, g, 0.2 g) is linear in g),
    so p_0 is multilinear in the W_l and the product rule gives, with
    r = ||p_0|| per row (ag.norm: no eps in the sqrt; its gradient p_0 / r, 0 at r = 0)
    and u = d GP / d p_0 = 2 (r - 1) / n * p_0 / r (times 10 in the loss):
        d GP / d W_l = q_l^T dp_l,  dp_0 = u,  dp_{l+1} = (dp_l W_l^T) * s_l;
    the biases move only the s_l, so GP adds nothing to their gradients."""

    def __init__(self, xp, params_g, params_d, lr=1e-4, betas=(0.5, 0.9), eps=1e-8,
                 gp_weight=10.0, slope=0.2):
        self.xp, self.lr, self.betas, self.eps = xp, lr, betas, eps
        self.gp_weight, self.slope = gp_weight, slope
        self.g = [xp.array(p, copy=True) for p in params_g]
        self.d = [xp.array(p, copy=True) for p in params_d]
        self.moments = [(xp.zeros_like(p), xp.zeros_like(p)) for p in self.g + self.d]
        self.t = 0
        self.relu_backward, _ = floor_kernels(xp)
        self.leaky_backward, _, self.adam = floor_step_kernels(xp, slope)

    @property
    def params(self):
        return self.g + self.d

    def _leaky(self, a):
        return self.xp.where(a > 0, a, a * self.slope)

    def _adam(self, params, grads, moments):
        for p, gp, (m, v) in zip(params, grads, moments):
            self.adam(gp, self.t, p, m, v, self.lr, self.betas, self.eps)

    def step(self, real, z1, eps, z2):
        """One critic and one generator step; d_loss + g_loss before them (0-d)."""
        xp, n, G, D = self.xp, real.shape[0], self.g, self.d
        leaky, leaky_backward = self._leaky, self.leaky_backward

        def relu(a):
            return xp.maximum(a, 0)
        self.t += 1
        # critic step: D on fake, real and x_hat as one batch of 3n rows
        fake = _dense_forward(G, z1, relu)[1][-1]
        x_hat = eps * real + (1 - eps) * fake
        hs, pre = _dense_forward(D, xp.concatenate([fake, real, x_hat]), leaky)
        out = pre[-1]
        rows = slice(2 * n, 3 * n)
        q, qs = xp.ones_like(out[rows]), []
        for i in range(len(D) // 2 - 1, -1, -1):  # p_0 = d sum D(x_hat) / d x_hat
            qs.append(q)
            p = q @ D[2 * i]
            if i > 0:
                q = leaky_backward(p, pre[i - 1][rows])
        qs.reverse()
        r = xp.sqrt((p * p).sum(axis=1, keepdims=True))
        penalty = ((r - 1) ** 2).mean()
        d_loss = out[:n].mean() - out[n:2 * n].mean() + self.gp_weight * penalty
        e = xp.concatenate([xp.full_like(out[:n], 1 / n), xp.full_like(out[:n], -1 / n)])
        grads = _dense_backward(D, [h[:2 * n] for h in hs], [a[:2 * n] for a in pre], e,
                                leaky_backward, halves=True)
        dp = (2 * self.gp_weight / n) * (r - 1) / (r + (r == 0)) * p  # 0 at r = 0
        for i in range(len(D) // 2):
            grads[2 * i] += qs[i].T @ dp
            if i < len(D) // 2 - 1:
                dp = leaky_backward(dp @ D[2 * i].T, pre[i][rows])
        self._adam(D, grads, self.moments[len(G):])
        # generator step through the updated, frozen critic
        hs_g, pre_g = _dense_forward(G, z2, relu)
        hs, pre = _dense_forward(D, pre_g[-1], leaky)
        g_loss = -pre[-1].mean()
        g = _dense_backward(D, hs, pre, xp.full_like(pre[-1], -1 / n), leaky_backward,
                            weights=False)
        grads = _dense_backward(G, hs_g, pre_g, g, self.relu_backward)
        self._adam(G, grads, self.moments[:len(G)])
        return d_loss + g_loss


# -- speed -------------------------------------------------------------------------------------
def per_call(fn, sync, min_block=0.05, blocks=3, max_calls=200) -> float:
    """Seconds per call of fn: the best of `blocks` timed blocks, each long enough."""
    for _ in range(2):
        fn()
    sync()
    k, t = 1, 0.0
    while True:  # calls per block
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        sync()
        t = time.perf_counter() - t0
        if t >= min_block or k >= max_calls:
            break
        k = min(max_calls, k * max(2, int(min_block / max(t, 1e-6))))
    best = t / k
    for _ in range(blocks - 1):
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t0) / k)
    return best


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def check_floor(row: str, engine: list, floor: list) -> None:
    """AssertionError naming the row unless the floor's losses equal the engine's."""
    err = max(abs(a - b) / (1e-6 + 1e-4 * abs(b)) for a, b in zip(floor, engine))
    if not err <= 1:
        raise AssertionError(f"{row}: the floor disagrees with the engine: floor losses "
                             f"{floor}, engine {engine}")


def floor_of(trainer, xp) -> Callable:
    """step(i) of the hand-written floor of a CNN Classifier or a RingGAN, on xp, from
    the trainer's current weights and on its batches."""
    init = [xp.asarray(to_numpy(p.data)) for p in trainer.parameters()]
    if isinstance(trainer, Classifier):
        group = trainer.opt.param_groups[0]
        floor = FloorCNN(xp, init, group["lr"], group["momentum"])
        batches = [(x.data, y.data) for x, y in trainer.batches]
    else:
        n_g = len(list(trainer.G.parameters()))
        floor = FloorRingGAN(xp, init[:n_g], init[n_g:])
        batches = trainer.batches
    return lambda i=0: floor.step(*batches[i % len(batches)])


def _speed_mlp(dev: Device, torch, n: int, rng, sizes=(784, 1024, 1024, 10)) -> tuple:
    """(engine, floor, torch or None) seconds per SGD step of the MLP at batch n, after
    checking that the floor computes the engine's losses on two consecutive steps."""
    cp, f32 = dev.cupy, np.float32
    x = rng.standard_normal((n, sizes[0])).astype(f32)
    y = rng.integers(0, sizes[-1], n)
    trainer = Classifier(lambda: _mlp(sizes), [(x, y)], dev.put, momentum=0)
    init = [to_numpy(p.data) for p in trainer.parameters()]
    floor = FloorMLP(cp, [cp.asarray(p) for p in init], 0.01)
    xd, yd = cp.asarray(x), cp.asarray(y)
    check_floor(f"MLP batch {n}", [float(to_numpy(trainer.step().data)) for _ in range(2)],
                [float(floor.step(xd, yd)) for _ in range(2)])
    t_engine = per_call(trainer.step, dev.sync)
    t_floor = per_call(lambda: floor.step(xd, yd), dev.sync)
    if torch is None:
        return t_engine, t_floor, None
    F = torch.nn.functional
    tp = [torch.tensor(p, device="cuda", requires_grad=True) for p in init]
    topt = torch.optim.SGD(tp, lr=0.01)
    tx, ty = torch.tensor(x, device="cuda"), torch.tensor(y, device="cuda")

    def torch_step():
        topt.zero_grad()
        h = F.relu(F.linear(tx, tp[0], tp[1]))
        h = F.relu(F.linear(h, tp[2], tp[3]))
        F.cross_entropy(F.linear(h, tp[4], tp[5]), ty).backward()
        topt.step()
    return t_engine, t_floor, per_call(torch_step, torch.cuda.synchronize)


def speed(dev: Device, deadline: float, batches=(128, 1024, 8192), quick=False) -> dict:
    """The speed table (CuPy; with quick, tiny sizes: how the tests run it on numpy)."""
    cp, torch = dev.cupy, _torch_cuda()
    rows, notes = [], []
    tsync = torch.cuda.synchronize if torch is not None else None
    rng = np.random.default_rng(0)
    f32 = np.float32

    def add(case, engine, floor=None, torch_t=None, unit="step"):
        rows.append({"case": case, "unit": unit, "engine_ms": engine * 1e3,
                     "floor_ms": None if floor is None else floor * 1e3,
                     "torch_ms": None if torch_t is None else torch_t * 1e3})

    # MLP 784-1024-1024-10, plain SGD lr 0.01
    sizes = (32, 16, 16, 10) if quick else (784, 1024, 1024, 10)
    for n in batches:
        if time.monotonic() > deadline:
            notes.append(f"MLP batch {n}: not run (time budget)")
            continue
        add(f"MLP {'-'.join(map(str, sizes))}, batch {n} (fwd+bwd+SGD)",
            *_speed_mlp(dev, torch, n, rng, sizes))

    # a chain of 1000 elementwise ops on 16 floats, per op (fwd+bwd)
    if time.monotonic() < deadline:
        x0 = rng.standard_normal(16).astype(f32)
        xd = cp.asarray(x0)

        def engine_chain():
            x = ag.tensor(xd, requires_grad=True)
            chain(x, ag.tanh, 1000).sum().backward()
            return x.grad
        g_engine = to_numpy(engine_chain().data)
        g_floor = to_numpy(floor_grad(xd, 1000, cp))
        if not np.allclose(g_engine, g_floor, rtol=1e-4, atol=1e-6):
            raise AssertionError("chain floor disagrees with the engine")
        t_torch = None
        if torch is not None:
            tx0 = torch.tensor(x0, device="cuda")

            def torch_chain():
                tx = tx0.clone().requires_grad_()
                chain(tx, torch.tanh, 1000).sum().backward()
            t_torch = per_call(torch_chain, tsync, max_calls=20) / 1000
        add("chain of 1,000 elementwise ops on 16 floats (per op, fwd+bwd)",
            per_call(engine_chain, dev.sync, max_calls=20) / 1000,
            per_call(lambda: floor_grad(xd, 1000, cp), dev.sync, max_calls=20) / 1000,
            t_torch, unit="op")
    else:
        notes.append("chain: not run (time budget)")

    # the small CNN (also at 1x28x28 on the GPU) and the ring-GAN step
    work = list(workloads(quick).items())[1:]
    if not quick:
        big = [(rng.standard_normal((1024, 1, 28, 28)).astype(f32), rng.integers(0, 10, 1024))
               for _ in range(2)]
        work.insert(1, ("CNN conv3x3(8)-pool-linear, batch 1024 of 1x28x28",
                        lambda put: Classifier(lambda: _cnn(28), big, put)))
    for name, make in work:
        if time.monotonic() > deadline:
            notes.append(f"{name}: not run (time budget)")
            continue
        trainer = make(dev.put)
        floor_step = floor_of(trainer, cp)
        check_floor(name, [float(to_numpy(trainer.step(i).data)) for i in range(2)],
                    [float(floor_step(i)) for i in range(2)])
        t_torch = _torch_time(name, trainer, torch) if torch is not None else None
        add(name + " (one step)", per_call(trainer.step, dev.sync),
            per_call(floor_step, dev.sync), t_torch)
    if torch is None:
        notes.append("PyTorch with CUDA not available: no torch column.")
    return {"rows": rows, "notes": notes, "ok": True}


def _torch_time(name, trainer, torch) -> float:
    """The same step in PyTorch on CUDA (same shapes; weights copied)."""
    F = torch.nn.functional
    tsync = torch.cuda.synchronize

    def t(a):
        return torch.tensor(to_numpy(getattr(a, "data", a)), device="cuda")
    if isinstance(trainer, Classifier):
        wc, bc, wl, bl = (t(p).requires_grad_() for p in trainer.parameters())
        opt = torch.optim.SGD([wc, bc, wl, bl], lr=0.01, momentum=0.9)
        x, y = (t(a) for a in trainer.batches[0])

        def step():
            opt.zero_grad()
            h = F.max_pool2d(F.relu(F.conv2d(x, wc, bc, padding=1)), 2)
            F.cross_entropy(F.linear(h.flatten(1), wl, bl), y).backward()
            opt.step()
        return per_call(step, tsync)

    def net(params, act):
        def f(x):
            for i in range(0, len(params), 2):
                x = F.linear(x, params[i], params[i + 1])
                if i < len(params) - 2:
                    x = act(x)
            return x
        return f
    gp = [t(p).requires_grad_() for p in trainer.G.parameters()]
    dp = [t(p).requires_grad_() for p in trainer.D.parameters()]
    G, D = net(gp, F.relu), net(dp, lambda v: F.leaky_relu(v, 0.2))
    opt_g = torch.optim.Adam(gp, lr=1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(dp, lr=1e-4, betas=(0.5, 0.9))
    real, z1, eps, z2 = (t(a) for a in trainer.batches[0])

    def step():
        with torch.no_grad():
            fake = G(z1)
        opt_d.zero_grad()
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_()
        (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        gp_term = ((g.norm(dim=1) - 1) ** 2).mean()
        (D(fake).mean() - D(real).mean() + 10 * gp_term).backward()
        opt_d.step()
        opt_g.zero_grad()
        for p in dp:
            p.requires_grad_(False)
        (-D(G(z2)).mean()).backward()
        for p in dp:
            p.requires_grad_(True)
        opt_g.step()
    return per_call(step, tsync)


# -- the report ----------------------------------------------------------------------------------
def _fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.{digits}g}"
    return str(v)


def markdown(report: dict) -> str:
    out = [f"# GPU check: {report['device']}", "",
           f"{report['environment']}", "", f"Total time: {report['seconds']:.1f} s.", ""]
    if "training" in report:
        out += ["## Training: 5 steps on the device equal 5 steps on numpy", "",
                "| case | status | loss error | parameter error | detail |",
                "|---|---|---|---|---|"]
        out += [f"| {r['case']} | {r['status']} | {_fmt(r.get('loss_error'))} | "
                f"{_fmt(r.get('param_error'))} | {r.get('detail', '')} |"
                for r in report["training"]["rows"]]
        out += ["", "Errors are in units of the tolerance (<= 1 passes): losses rtol 1e-4, "
                "parameters rtol/atol 1e-3 of their scale (float32).", ""]
    if "sync" in report:
        s = report["sync"]
        out += [f"## Sync: one steady-state step ({s['method']})", "",
                "| case | status | detail |", "|---|---|---|"]
        out += [f"| {r['case']} | {r['status']} | {r.get('detail', '')} |" for r in s["rows"]]
        out += [""]
    if "speed" in report:
        sp = report["speed"]
        out += ["## Speed (best of 3 timed blocks, device synchronised)", "",
                "| case | engine ms | CuPy floor ms | PyTorch ms | engine / floor | "
                "engine / torch |", "|---|---|---|---|---|---|"]
        for r in sp["rows"]:
            ratio_f = r["engine_ms"] / r["floor_ms"] if r["floor_ms"] else None
            ratio_t = r["engine_ms"] / r["torch_ms"] if r["torch_ms"] else None
            out.append(f"| {r['case']} | {_fmt(r['engine_ms'])} | {_fmt(r['floor_ms'])} | "
                       f"{_fmt(r['torch_ms'])} | {_fmt(ratio_f)} | {_fmt(ratio_t)} |")
        out += [""] + [f"- {n}" for n in sp["notes"]] + [""]
    if "parity" in report:
        p = report["parity"]
        rows = p["rows"]
        ok = sum(r["status"] == "ok" for r in rows)
        na = sum(r["status"] == "n/a" for r in rows)
        out += ["## Parity: every op and composite against numpy (seed 0)", "",
                f"{ok} passed, {len(p['failed'])} failed, {na} not applicable on numpy "
                f"either, {len(p['unreached'])} ops not reached in the time budget.", "",
                "Errors are in units of the tolerance (<= 1 passes): float64 rtol/atol 1e-9, "
                "float32 1e-3, atol relative to the largest magnitude.", ""]
        bad = [r for r in rows if r["status"] != "ok"]
        if bad:
            out += ["| op | dtype | status | error | where / detail |", "|---|---|---|---|---|"]
            out += [f"| {r['op']} | {r['dtype']} | {r['status']} | {_fmt(r.get('error'))} | "
                    f"{r.get('where', '')} {r.get('detail', '')} |" for r in bad]
            out += [""]
        if p["unreached"]:
            out += ["Not reached: " + ", ".join(p["unreached"]), ""]
        slow = sorted((r for r in rows if "seconds" in r), key=lambda r: -r["seconds"])[:5]
        out += ["Slowest cases: " + ", ".join(f"{r['op']} {r['dtype']} {r['seconds']:.2f} s"
                                              for r in slow), ""]
    return "\n".join(out)


def _environment(dev: Device) -> str:
    parts = [f"python {sys.version.split()[0]}", f"numpy {np.__version__}"]
    if dev.cupy is not None:
        props = dev.cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        parts += [f"cupy {dev.cupy.__version__}", f"GPU {name}"]
    torch = _torch_cuda()
    if torch is not None:
        parts.append(f"torch {torch.__version__}")
    return ", ".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    for part in ("parity", "training", "sync", "speed"):
        ap.add_argument(f"--{part}", action="store_true", help=f"run the {part} part")
    ap.add_argument("--out", default="gpu-check.md", help="markdown report (JSON beside it)")
    ap.add_argument("--ops", default="", help="comma-separated op names (default: all)")
    ap.add_argument("--budget", type=float, default=270.0, help="seconds for the whole check")
    ap.add_argument("--quick", action="store_true",
                    help="tiny training sizes (default on devices other than cuda)")
    args = ap.parse_args(argv)
    start = time.monotonic()
    deadline = start + args.budget
    parts = [p for p in ("training", "sync", "speed", "parity") if getattr(args, p)]
    parts = parts or ["training", "sync", "speed", "parity"]
    if args.device.partition(":")[0] == "cuda" and cupy_or_none() is None:
        print(SKIPPED)
        return 0
    dev = Device(args.device)
    quick = args.quick or dev.cupy is None
    if dev.cupy is None and "speed" in parts:
        parts.remove("speed")
        print("speed: skipped (CuPy only)")
    report: dict[str, Any] = {"device": args.device, "environment": _environment(dev)}
    for part in parts:
        t0 = time.perf_counter()
        if part == "training":
            report[part] = training(dev, quick)
        elif part == "sync":
            report[part] = sync_check(dev, quick)
        elif part == "speed":
            try:  # at most a quarter of the budget, leaving the rest to parity
                report[part] = speed(dev, min(deadline, time.monotonic() + args.budget / 4))
            except Exception as exc:
                report[part] = {"rows": [], "ok": False,
                                "notes": [f"speed failed: {type(exc).__name__}: {exc}"]}
        else:
            names = [n for n in args.ops.split(",") if n] or all_names()
            unknown = sorted(set(names) - set(all_names()))
            if unknown:
                raise SystemExit(f"--ops: unknown op or composite {', '.join(unknown)}")
            report[part] = parity(dev, names, deadline)
        print(f"{part}: {'ok' if report[part]['ok'] else 'FAILED'} "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    report["seconds"] = time.monotonic() - start
    text = markdown(report)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(report, f, indent=1, default=lambda v: None if v is None else str(v))
    print(f"report: {args.out}")
    return 0 if all(report[p]["ok"] for p in parts) else 1


if __name__ == "__main__":
    sys.exit(main())
