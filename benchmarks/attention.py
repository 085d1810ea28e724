"""attention: one causal self-attention block, forward and backward, float32.

At the GPT benchmark's size (batch 32, context 64, width 128, 4 heads of 32):
qkv = x W_qkv^T + b_qkv, split into q, k, v and into heads, scores q k^T /
sqrt(32), the keys after each query masked, softmax, the weighted sum of v,
heads side by side again, out = y W_o^T + b_o. The loss is mean(out²); a
step computes it and the gradients of the four parameters and of x (a block
inside a network passes its input's gradient on), without an update, so
every call does the same work. The first call returns the loss and every
gradient, flattened, which is compared with the floor's.

Two rows: autograd-core through examples/gpt.py's CausalSelfAttention (its
attention is `F.scaled_dot_product_attention(..., is_causal=True)`, one op)
and PyTorch through `torch.nn.functional.scaled_dot_product_attention`;
then both spelled out op by op (examples/gpt.py's `causal_attention`, and
`masked_fill` + `softmax` in PyTorch). HIPS autograd and MyGrad have no
attention op: they run the spelled-out block, in the first row.
"""

from __future__ import annotations

import math

import numpy as np
from harness import FLOOR, Case, FloorError, load_nn, rel_err

B, T, E, H = 32, 64, 128, 4


def init_params(rng, e=E, dtype=np.float32) -> list[np.ndarray]:
    """[W_qkv (3E, E), b_qkv (3E,), W_o (E, E), b_o (E,)]: PyTorch's Linear layout and init."""
    bound = 1 / math.sqrt(e)
    return [rng.uniform(-bound, bound, shape).astype(dtype)
            for shape in [(3 * e, e), (3 * e,), (e, e), (e,)]]


def flat(loss, grads) -> np.ndarray:
    """The first call's result: the loss and every gradient (params, then x), in float64."""
    return np.concatenate([np.atleast_1d(np.asarray(loss, np.float64))]
                          + [np.asarray(g, np.float64).ravel() for g in grads])


def first_full(step_full, step):
    """A step whose first call returns `step_full()` (for the check), later ones `step()`."""
    calls = [0]

    def run():
        calls[0] += 1
        return step_full() if calls[0] == 1 else step()

    return run


class NumpyAttention:
    """Forward and backward by hand; every buffer of shape known in advance is made once.

    Heads stay views into the qkv buffer (B, T, 3, H, D): matmul reads the strides,
    so the split costs nothing; the gradient of qkv is written in the same layout.
    """

    def __init__(self, params, x, h=H):
        b, t, e = x.shape
        d = e // h
        self.h, self.d, self.scale = h, d, 1.0 / math.sqrt(d)
        self.params = [p.copy() for p in params]
        self.x = x
        self.grads = [np.empty_like(p) for p in params] + [np.empty_like(x)]
        dt = x.dtype
        self.qkv = np.empty((b, t, 3, h, d), dt)
        self.att = np.empty((b, h, t, t), dt)
        self.y = np.empty((b, t, h, d), dt)  # heads side by side: (B*T, E) after a reshape
        self.out = np.empty((b * t, e), dt)
        self.gy = np.empty((b * t, e), dt)
        self.gatt = np.empty((b, h, t, t), dt)
        self.tmp = np.empty((b, h, t, t), dt)
        self.gqkv = np.empty((b, t, 3, h, d), dt)
        self.rowsum = np.empty((b, h, t, 1), dt)
        self.masked = ~np.tril(np.ones((t, t), bool))  # keys after each query

    def forward_backward(self) -> float:
        wqkv, bqkv, wo, bo = self.params
        gwqkv, gbqkv, gwo, gbo, gx = self.grads
        b, t, e = self.x.shape
        x2 = self.x.reshape(b * t, e)
        qkv2 = self.qkv.reshape(b * t, 3 * e)
        np.matmul(x2, wqkv.T, out=qkv2)
        qkv2 += bqkv
        q, k, v = (self.qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # (B, H, T, D)
        att, s = self.att, self.rowsum
        np.matmul(q, k.transpose(0, 1, 3, 2), out=att)
        att *= self.scale
        att[..., self.masked] = -np.inf
        np.max(att, axis=-1, keepdims=True, out=s)
        att -= s
        np.exp(att, out=att)
        np.sum(att, axis=-1, keepdims=True, out=s)
        att /= s  # the softmax, in place
        np.matmul(att, v, out=self.y.transpose(0, 2, 1, 3))
        y2 = self.y.reshape(b * t, e)
        out = self.out
        np.matmul(y2, wo.T, out=out)
        out += bo
        n = out.size
        loss = float(np.vdot(out, out)) / n
        # backward: d loss / d out = 2 out / n
        gout = out
        gout *= 2.0 / n
        np.matmul(gout.T, y2, out=gwo)
        np.sum(gout, axis=0, out=gbo)
        np.matmul(gout, wo, out=self.gy)
        gy = self.gy.reshape(b, t, self.h, self.d).transpose(0, 2, 1, 3)  # (B, H, T, D)
        gq, gk, gv = (self.gqkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
        np.matmul(att.transpose(0, 1, 3, 2), gy, out=gv)
        gatt = self.gatt
        np.matmul(gy, v.transpose(0, 1, 3, 2), out=gatt)
        # softmax: g_s = p * (g_p - sum(g_p * p)); masked p are 0, so their g_s too
        np.sum(np.multiply(gatt, att, out=self.tmp), axis=-1, keepdims=True, out=s)
        gatt -= s
        gatt *= att
        gatt *= self.scale
        np.matmul(gatt, k, out=gq)
        np.matmul(gatt.transpose(0, 1, 3, 2), q, out=gk)
        gqkv2 = self.gqkv.reshape(b * t, 3 * e)
        np.matmul(gqkv2.T, x2, out=gwqkv)
        np.sum(gqkv2, axis=0, out=gbqkv)
        np.matmul(gqkv2, wqkv, out=gx.reshape(b * t, e))
        return loss

    def step_full(self) -> np.ndarray:
        return flat(self.forward_backward(), self.grads)


def _block_step(block, ps, xt, array):
    """(first call: the loss and every gradient, flattened; timed call) for a block's
    forward and backward of mean(out^2) to its parameters `ps` and input `xt`, for
    autograd-core and PyTorch alike (`array`: a gradient Tensor's numpy array)."""
    def forward_backward():
        for p in [*ps, xt]:
            p.grad = None
        loss = (block(xt) ** 2).mean()
        loss.backward()
        return loss

    def full():
        loss = forward_backward()
        return flat(loss.item(), [array(p.grad) for p in [*ps, xt]])

    return first_full(full, lambda: forward_backward().item())


def torch_block(params, h, fused: bool):
    """(block, its parameters): the same block in PyTorch, from the same weights."""
    import torch

    tF = torch.nn.functional
    wqkv, bqkv, wo, bo = (torch.tensor(p, requires_grad=True) for p in params)

    def block(x):
        b, t, e = x.shape
        q, k, v = (u.view(b, t, h, e // h).transpose(1, 2)
                   for u in tF.linear(x, wqkv, bqkv).split(e, dim=2))
        if fused:
            y = tF.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(e // h))
            mask = torch.ones(t, t, dtype=torch.bool).tril()
            y = tF.softmax(att.masked_fill(~mask, float("-inf")), dim=-1) @ v
        return tF.linear(y.transpose(1, 2).reshape(b, t, e), wo, bo)

    return block, [wqkv, bqkv, wo, bo]


def check() -> str:
    """The floor's loss and gradients against PyTorch's (float64), else central differences."""
    rng = np.random.default_rng(7)
    try:
        import torch
    except ImportError:
        return _check_central_difference(rng)
    params, x = init_params(rng, 16, np.float64), rng.standard_normal((3, 8, 16))
    floor = NumpyAttention(params, x, h=2)
    ours = floor.step_full()
    block, tparams = torch_block(params, 2, fused=False)
    tx = torch.tensor(x, requires_grad=True)
    loss = (block(tx) ** 2).mean()
    loss.backward()
    theirs = flat(loss.item(), [p.grad.numpy() for p in [*tparams, tx]])
    err = rel_err(ours, theirs)
    again = rel_err(floor.step_full(), theirs)  # a second call: no stale buffers
    if not max(err, again) <= 1e-4:
        raise FloorError(f"attention floor differs from torch's gradients by {err:.3g}")
    return f"attention floor matches torch's gradients (float64) to {err:.1e} relative"


def _check_central_difference(rng, eps=1e-6) -> str:
    params, x = init_params(rng, 8, np.float64), rng.standard_normal((2, 4, 8))
    floor = NumpyAttention(params, x, h=2)
    floor.forward_backward()
    err = 0.0
    for p, g in zip([*floor.params, floor.x], [g.copy() for g in floor.grads], strict=True):
        numeric = np.empty_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = floor.forward_backward()
            p[i] = old - eps
            numeric[i] = (up - floor.forward_backward()) / (2 * eps)
            p[i] = old
        err = max(err, rel_err(g, numeric))
    if not err <= 1e-4:
        raise FloorError(f"attention floor differs from central differences by {err:.3g}")
    return f"attention floor matches central differences to {err:.1e} relative"


def load_example():
    import gpt  # benchmarks/gpt.py: examples/gpt.py as a module

    return gpt.load_example()


def make_impls(fused: bool, b=B, t=T, e=E, h=H, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    params, x = init_params(rng, e), rng.standard_normal((b, t, e)).astype(np.float32)

    def floor():
        model = NumpyAttention(params, x, h)
        return first_full(model.step_full, model.forward_backward)

    def autograd_core():
        ag, nn, F, optim = load_nn()
        example = load_example()
        ag.manual_seed(0)
        block = example.CausalSelfAttention(example.GPTConfig(vocab_size=1, block_size=t,
                                                              n_head=h, n_embd=e))
        if not fused:  # the same module, attention spelled out op by op
            block.forward = spelled_out(ag, example, block)
        ps = [block.c_attn.weight, block.c_attn.bias, block.c_proj.weight, block.c_proj.bias]
        for p, value in zip(ps, params, strict=True):
            p.data = value.copy()
        return _block_step(block, ps, ag.tensor(x, requires_grad=True), lambda g: g.data)

    def pytorch():
        import torch

        block, ps = torch_block(params, h, fused)
        return _block_step(block, ps, torch.tensor(x, requires_grad=True), lambda g: g.numpy())

    causal = np.tril(np.ones((t, t), bool))
    d = e // h

    def hips():
        import autograd
        import autograd.numpy as anp

        def loss_fn(ps, x):
            wqkv, bqkv, wo, bo = ps
            qkv = anp.reshape(anp.dot(anp.reshape(x, (b * t, e)), wqkv.T) + bqkv,
                              (b, t, 3, h, d))
            q, k, v = (anp.transpose(qkv[:, :, i], (0, 2, 1, 3)) for i in range(3))
            att = anp.matmul(q, anp.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(d))
            att = anp.where(causal, att, -np.inf)
            att = anp.exp(att - anp.max(att, axis=-1, keepdims=True))
            y = anp.matmul(att / anp.sum(att, axis=-1, keepdims=True), v)
            out = anp.dot(anp.reshape(anp.transpose(y, (0, 2, 1, 3)), (b * t, e)), wo.T) + bo
            return anp.mean(out ** 2)

        value_and_grad = autograd.value_and_grad(loss_fn, argnum=(0, 1))
        ps = [p.copy() for p in params]

        def full():
            loss, (gps, gx) = value_and_grad(ps, x)
            return flat(loss, [*gps, gx])

        return first_full(full, lambda: value_and_grad(ps, x)[0])

    def mygrad():
        import mygrad as mg

        ps = [mg.tensor(p) for p in params]
        xt = mg.tensor(x)

        def forward_backward():
            wqkv, bqkv, wo, bo = ps
            qkv = mg.reshape(mg.matmul(mg.reshape(xt, (b * t, e)), wqkv.T) + bqkv,
                             (b, t, 3, h, d))
            q, k, v = (mg.transpose(qkv[:, :, i], (0, 2, 1, 3)) for i in range(3))
            att = mg.matmul(q, mg.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(d))
            att = mg.where(causal, att, -np.inf)
            att = mg.exp(att - mg.max(att, axis=-1, keepdims=True))
            y = mg.matmul(att / mg.sum(att, axis=-1, keepdims=True), v)
            out = mg.matmul(mg.reshape(mg.transpose(y, (0, 2, 1, 3)), (b * t, e)), wo.T) + bo
            loss = mg.mean(out ** 2)
            loss.backward()  # each backward sets .grad afresh (no accumulation)
            return loss

        def full():
            loss = forward_backward()
            return flat(loss.item(), [p.grad for p in [*ps, xt]])

        return first_full(full, lambda: forward_backward().item())

    impls = {FLOOR: floor, "autograd-core": autograd_core, "PyTorch": pytorch}
    if fused:  # no attention op of their own: the spelled-out block, in the first row
        impls |= {"HIPS autograd": hips, "MyGrad": mygrad}
    return impls


def spelled_out(ag, example, block):
    """block.forward with examples/gpt.py's causal_attention instead of the fused op."""
    def forward(x):
        b, t, e = x.shape
        h = block.n_head
        q, k, v = (u.reshape(b, t, h, e // h).transpose(0, 2, 1, 3)
                   for u in ag.split(block.c_attn(x), 3, axis=2))
        y = example.causal_attention(q, k, v)
        return block.c_proj(y.transpose(0, 2, 1, 3).reshape(b, t, e))

    return forward


def cases(quick: bool) -> list[Case]:
    size = f"batch {B}, context {T}, width {E}, {H} heads"
    return [Case(f"attention block, {size}", make_impls(fused=True), rtol=1e-3),
            Case("attention block, spelled out", make_impls(fused=False), rtol=1e-3)]
