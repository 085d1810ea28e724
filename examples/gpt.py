"""A character-level GPT, in the shape of nanoGPT / minGPT, trained on this repository's text.

    python examples/gpt.py                     # the default run below
    python examples/gpt.py --steps 200 --seed 1

The model: token and position embeddings, `n_layer` pre-LayerNorm blocks of
causal multi-head self-attention and a GELU MLP (4x wide; GPT-2's tanh form
of GELU), a final LayerNorm, and a head whose weight IS the token
embedding's Parameter (weight tying). Initialisation as GPT-2's: N(0, 0.02) weights, zero biases,
the residual projections scaled by 1/sqrt(2 * n_layer). Training as
nanoGPT's: AdamW with weight decay on the 2-D parameters only (matrices and
embeddings; biases and LayerNorm gains are not decayed), the gradient norm
clipped at 1, the learning rate warmed up linearly and then annealed on a
cosine to a tenth of its peak (LambdaLR).

The text is this repository's own documentation: README.md, docs/*.md and
benchmarks/README.md (about 45 kB of characters), split 90/10 into training
and validation text.

Measured (default flags: 2 layers, 4 heads, width 64, context 64, batch 16,
1,000 steps at peak lr 6e-3; seed 0, float32), on a machine of 2 CPU cores
shared with other jobs: 50-60 s of wall time (30 s of CPU time), validation
loss 1.873 nats per character, train 1.526 (a uniform guess over the 94
characters is ln 94 = 4.54). The samples are English-like words, code
names and markdown. The text is the data: editing the docs moves these
numbers a little.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim
from autograd_core import random as ag_random
from nn.experiments.data import one_blas_thread

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ("README.md", "docs/*.md", "benchmarks/README.md")  # globs, in this order


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 64  # the longest context
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions <= t only:
    softmax(q k^T / sqrt(d) + mask) v per head, with q, k, v from one Linear(E, 3E)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        B, T, E = x.shape
        H = self.n_head
        # (B, T, 3E) -> three (B, H, T, E/H)
        q, k, v = (t.reshape(B, T, H, E // H).transpose(0, 2, 1, 3)
                   for t in ag.split(self.c_attn(x), 3, axis=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # = causal_attention
        y = y.transpose(0, 2, 1, 3).reshape(B, T, E)  # heads side by side again
        return self.c_proj(y)


def causal_attention(q: ag.Tensor, k: ag.Tensor, v: ag.Tensor) -> ag.Tensor:
    """What F.scaled_dot_product_attention(q, k, v, is_causal=True) computes, spelled
    out: q, k, v (..., T, d) -> softmax(q k^T / sqrt(d), keys after t masked) v."""
    T, d = q.shape[-2:]
    att = (q @ k.swapaxes(-1, -2)) * (1.0 / math.sqrt(d))  # (..., T, T)
    causal = np.tril(np.ones((T, T), dtype=bool))  # row t: the keys t may attend to
    return F.softmax(ag.where(causal, att, -np.inf), axis=-1) @ v


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's (and minGPT's) GELU
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    """x + attn(ln(x)), then x + mlp(ln(x)): pre-LayerNorm residual blocks."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one Parameter, two uses
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2: residual projections scaled down
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))
            elif name.endswith(".bias") and "ln_" not in name:
                nn.init.zeros_(p)
            elif p.ndim == 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, targets=None):
        """Logits (B, T, vocab) for integer tokens idx (B, T), and the mean
        cross-entropy against `targets` (B, T) when given (else None)."""
        B, T = np.shape(idx)
        if T > self.config.block_size:
            raise ValueError(f"GPT: a sequence of {T} tokens is longer than the block size "
                             f"{self.config.block_size}")
        x = self.wte(idx) + self.wpe(np.arange(T))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(B * T, -1), np.reshape(targets, (B * T,)))
        return logits, loss

    def configure_optimizers(self, weight_decay: float, lr: float,
                             betas: tuple[float, float] = (0.9, 0.95)) -> optim.AdamW:
        """AdamW with two groups: every 2-D parameter (matrices, embeddings) decays,
        the 1-D ones (biases, LayerNorm gains) do not."""
        params = list(self.parameters())
        groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
        return optim.AdamW(groups, lr=lr, betas=betas)

    @ag.no_grad()
    def generate(self, idx: np.ndarray, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None) -> np.ndarray:
        """Extend idx (B, T) by sampling one token at a time from the model's
        distribution (drawn from ag's generator, so ag.manual_seed fixes it)."""
        idx = np.asarray(idx)
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.block_size:])
            logits = logits.data[:, -1, :].astype(np.float64) / temperature
            if top_k is not None:
                kth = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1]), None]
                logits = np.where(logits < kth, -np.inf, logits)
            probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)
            nxt = [ag_random.RNG.choice(len(p), p=p) for p in probs]
            idx = np.concatenate([idx, np.asarray(nxt)[:, None]], axis=1)
        return idx


def warmup_cosine(warmup: int, steps: int, floor: float = 0.1):
    """lr factor at step t: linear warm-up to 1, then a cosine down to `floor`."""
    def factor(t: int) -> float:
        if t < warmup:
            return (t + 1) / warmup
        progress = min(1.0, (t - warmup) / max(1, steps - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def load_text() -> str:
    """The repository's documentation, one file after another."""
    paths = [path for pattern in TEXTS for path in sorted(ROOT.glob(pattern))]
    return "\n".join(path.read_text(encoding="utf-8") for path in paths)


class CharData:
    """The text as integer tokens, one per distinct character, split 90/10."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        tokens = self.encode(text)
        n = int(0.9 * len(tokens))
        self.train, self.val = tokens[:n], tokens[n:]

    def encode(self, s: str) -> np.ndarray:
        return np.array([self.stoi[c] for c in s], dtype=np.int64)

    def decode(self, tokens) -> str:
        return "".join(self.chars[int(i)] for i in tokens)

    def batch(self, split: str, batch_size: int, block_size: int) -> tuple[np.ndarray, ...]:
        """batch_size random windows: inputs (B, T) and the next characters (B, T)."""
        data = self.train if split == "train" else self.val
        starts = ag_random.RNG.integers(0, len(data) - block_size - 1, size=batch_size)
        x = np.stack([data[i:i + block_size] for i in starts])
        y = np.stack([data[i + 1:i + 1 + block_size] for i in starts])
        return x, y


@ag.no_grad()
def estimate_loss(model: GPT, data: CharData, batches: int, batch_size: int) -> dict:
    """The mean loss over `batches` random batches of each split, in eval mode."""
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = [model(*data.batch(split, batch_size, model.config.block_size))[1].item()
                  for _ in range(batches)]
        out[split] = float(np.mean(losses))
    model.train()
    return out


def train(steps: int = 1000, seed: int = 0, batch_size: int = 16, lr: float = 6e-3,
          weight_decay: float = 0.1, warmup: int = 50, eval_every: int = 250,
          eval_batches: int = 20, log=print, **model_kw) -> tuple[GPT, CharData, dict]:
    """Train a GPT on the repository's text; returns (model, data, final losses)."""
    ag.manual_seed(seed)
    data = CharData(load_text())
    model = GPT(GPTConfig(vocab_size=len(data.chars), **model_kw))
    opt = model.configure_optimizers(weight_decay, lr)
    sched = optim.lr_scheduler.LambdaLR(opt, warmup_cosine(warmup, steps))
    n_params = sum(p.size for p in model.parameters())
    log(f"{n_params:,} parameters, vocabulary {len(data.chars)}, "
        f"{len(data.train):,} training characters")
    start = time.perf_counter()
    for step in range(steps):
        if step % eval_every == 0:
            losses = estimate_loss(model, data, eval_batches, batch_size)
            log(f"step {step:5d}  train {losses['train']:.4f}  val {losses['val']:.4f}  "
                f"({time.perf_counter() - start:.0f} s)")
        _, loss = model(*data.batch("train", batch_size, model.config.block_size))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    losses = estimate_loss(model, data, eval_batches, batch_size)
    losses["seconds"] = time.perf_counter() - start
    log(f"step {steps:5d}  train {losses['train']:.4f}  val {losses['val']:.4f}  "
        f"({losses['seconds']:.0f} s)")
    return model, data, losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=3, help="samples printed at the end")
    args = parser.parse_args(argv)
    ag.allocator.tune_malloc()  # a CPU training loop: keep freed memory between steps
    with one_blas_thread():  # small matrices: extra BLAS threads only spin
        model, data, _ = train(args.steps, args.seed)
        model.eval()
        for _ in range(args.samples):
            print("-" * 40)
            print(data.decode(model.generate(data.encode("\n")[None], 200, top_k=20)[0, 1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
