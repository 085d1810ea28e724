"""One training step of examples/gpt.py's GPT: autograd-core against PyTorch on the CPU.

    python benchmarks/gpt.py                   # 4 layers, 4 heads, 128 wide, context 64, batch 32
    python benchmarks/gpt.py --threads 2 --repeat 20

A step is what the example's training loop does: forward, cross-entropy,
backward, gradient clipping to norm 1, AdamW (decay on the 2-D parameters).
Both engines start from the same float32 weights and see the same batches;
the first step's losses are compared, so an engine computing something else
is flagged instead of timed. Steps are timed in turn (autograd-core, PyTorch,
autograd-core, ...) so a slow spell of a shared machine hits both alike; the
table shows the median and the minimum, and three ratios: of the medians,
of the minima, and the median over the rounds of each round's ratio. Both
run on `--threads` cores (BLAS threads for numpy, intra-op threads for
PyTorch). PyTorch is optional: without it only autograd-core is timed.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def load_example():
    """examples/gpt.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("example_gpt", ROOT / "examples" / "gpt.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def torch_gpt(config):
    """The same GPT in PyTorch, parameter for parameter (names, shapes, tying)."""
    import torch

    tnn, tF = torch.nn, torch.nn.functional

    class CausalSelfAttention(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = tnn.Linear(config.n_embd, 3 * config.n_embd)
            self.c_proj = tnn.Linear(config.n_embd, config.n_embd)

        def forward(self, x):
            B, T, E = x.shape
            H = config.n_head
            q, k, v = (t.view(B, T, H, E // H).transpose(1, 2)
                       for t in self.c_attn(x).split(E, dim=2))
            att = q @ k.transpose(-2, -1) * (1.0 / (E // H) ** 0.5)
            mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
            att = tF.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
            return self.c_proj((att @ v).transpose(1, 2).reshape(B, T, E))

    class MLP(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = tnn.Linear(config.n_embd, 4 * config.n_embd)
            self.c_proj = tnn.Linear(4 * config.n_embd, config.n_embd)

        def forward(self, x):
            return self.c_proj(tF.gelu(self.c_fc(x), approximate="tanh"))

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = tnn.LayerNorm(config.n_embd), CausalSelfAttention()
            self.ln_2, self.mlp = tnn.LayerNorm(config.n_embd), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.wte = tnn.Embedding(config.vocab_size, config.n_embd)
            self.wpe = tnn.Embedding(config.block_size, config.n_embd)
            self.h = tnn.ModuleList([Block() for _ in range(config.n_layer)])
            self.ln_f = tnn.LayerNorm(config.n_embd)
            self.lm_head = tnn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, idx, targets):
            """The mean cross-entropy of the next-token logits against targets."""
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return tF.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    return GPT()


def copy_into_torch(model, tmodel) -> None:
    """Give the PyTorch twin autograd-core's weights (in the twin's dtype)."""
    import torch

    tparams = dict(tmodel.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            tparams[name].copy_(torch.from_numpy(np.array(p.data)))


def torch_adamw(model, tmodel, weight_decay: float, lr: float, betas=(0.9, 0.95)):
    """PyTorch's AdamW with the example's two groups, in the same order."""
    import torch

    tparams = dict(tmodel.named_parameters())
    named = list(model.named_parameters())
    return torch.optim.AdamW(
        [{"params": [tparams[n] for n, p in named if p.ndim >= 2], "weight_decay": weight_decay},
         {"params": [tparams[n] for n, p in named if p.ndim < 2], "weight_decay": 0.0}],
        lr=lr, betas=betas)


def make_steps(args, batches) -> dict:
    gpt = load_example()
    import autograd_core as ag
    import nn

    ag.allocator.tune_malloc()  # as run.py's harness does: no page faults on temporaries
    ag.manual_seed(0)
    config = gpt.GPTConfig(vocab_size=args.vocab, block_size=args.context, n_layer=args.layers,
                           n_head=args.heads, n_embd=args.width)
    model = gpt.GPT(config)
    opt = model.configure_optimizers(weight_decay=0.1, lr=1e-3)
    it = iter(range(10**9))

    def ag_step():
        x, y = batches[next(it) % len(batches)]
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    steps = {"autograd-core": ag_step}
    try:
        import torch
    except ImportError:
        return steps
    torch.set_num_threads(args.threads)
    tmodel = torch_gpt(config)
    copy_into_torch(model, tmodel)
    topt = torch_adamw(model, tmodel, weight_decay=0.1, lr=1e-3)
    tbatches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    tit = iter(range(10**9))

    def torch_step():
        x, y = tbatches[next(tit) % len(tbatches)]
        loss = tmodel(x, y)
        topt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 1.0)
        topt.step()
        return loss.item()

    steps["PyTorch"] = torch_step
    return steps


def cases(quick: bool) -> list:
    """The step as a row of `run.py`'s table (no floor: times, and the ratio to PyTorch)."""
    import harness

    args = argparse.Namespace(layers=4, heads=4, width=128, context=64, batch=32, vocab=96,
                              threads=harness.blas_threads())
    rng = np.random.default_rng(0)
    batches = [tuple(rng.integers(0, args.vocab, (args.batch, args.context)) for _ in "xy")
               for _ in range(4)]
    built = {}  # both models made at once, so PyTorch's copies the untrained weights

    def factory(name):
        def make():
            if not built:
                try:
                    harness.load_nn()
                except ImportError:
                    built["autograd-core"] = None
                else:
                    built.update(make_steps(args, batches))
            if built.get(name) is None:
                raise ImportError(f"{name} is not importable")
            return harness.two_steps_first(built[name])
        return make

    name = (f"gpt step, {args.layers} layers, {args.heads} heads, width {args.width}, "
            f"context {args.context}, batch {args.batch}")
    return [harness.Case(name, {n: factory(n) for n in ("autograd-core", "PyTorch")},
                         rtol=1e-4, reference="PyTorch")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=96)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15, help="timed steps per engine")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    batches = [tuple(rng.integers(0, args.vocab, (args.batch, args.context)) for _ in "xy")
               for _ in range(4)]
    with threadpool_limits(limits=args.threads, user_api="blas"):
        steps = make_steps(args, batches)
        first = {name: step() for name, step in steps.items()}  # also warms up
        if "PyTorch" in first and abs(first["PyTorch"] - first["autograd-core"]) > 1e-4:
            print(f"first losses differ: {first}")
            return 1
        times = {name: [] for name in steps}
        for _ in range(args.repeat):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)

    print(f"GPT training step: {args.layers} layers, {args.heads} heads, width {args.width}, "
          f"context {args.context}, batch {args.batch}, vocab {args.vocab}, float32, "
          f"{args.threads} thread(s); first loss {first['autograd-core']:.5f}")
    for name, ts in times.items():
        print(f"  {name:14s} median {1e3 * statistics.median(ts):8.1f} ms   "
              f"min {1e3 * min(ts):8.1f} ms")
    if "PyTorch" in times:
        ours, theirs = times["autograd-core"], times["PyTorch"]
        paired = statistics.median(a / b for a, b in zip(ours, theirs))
        medians = statistics.median(ours) / statistics.median(theirs)
        print(f"  autograd-core / PyTorch: {medians:.2f}x (medians), "
              f"{min(ours) / min(theirs):.2f}x (minima), {paired:.2f}x (paired: the "
              f"median of each round's ratio)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
