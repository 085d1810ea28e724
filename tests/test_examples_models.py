"""The two trained models of examples/: a character-level GPT and a small ResNet
(tiny configurations, a few steps each), and the GPT against PyTorch's numbers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
import optim
from nn.experiments.data import one_blas_thread

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _load(name: str, folder: Path = EXAMPLES):
    spec = importlib.util.spec_from_file_location(f"{folder.name}_{name}", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matrices: on a busy machine, spinning BLAS threads make steps many times slower."""
    with one_blas_thread():
        yield


gpt = _load("gpt")
resnet = _load("resnet")

TINY = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def tiny_gpt(seed: int = 0, **kw):
    ag.manual_seed(seed)
    return gpt.GPT(gpt.GPTConfig(**{**TINY, **kw}))


def tokens(shape, seed: int = 0, vocab: int = TINY["vocab_size"]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=shape)


# ---- GPT -------------------------------------------------------------------------

def test_gpt_shapes_and_initial_loss():
    model = tiny_gpt()
    idx = tokens((3, 8))
    logits, loss = model(idx, tokens((3, 8), seed=1))
    assert logits.shape == (3, 8, 11) and logits.dtype == np.float32
    # small initial weights: close to a uniform guess over the vocabulary
    assert abs(loss.item() - np.log(11)) < 0.1
    assert model(idx[:, :5])[0].shape == (3, 5, 11) and model(idx)[1] is None
    with pytest.raises(ValueError, match="block size 8"):
        model(tokens((1, 9)))


def test_gpt_loss_decreases():
    model = tiny_gpt()
    opt = model.configure_optimizers(weight_decay=0.1, lr=1e-2)
    x, y = tokens((4, 8)), tokens((4, 8), seed=1)
    losses = []
    for _ in range(20):
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    assert all(b < a + 1e-3 for a, b in zip(losses, losses[1:]))


def test_gpt_attention_is_causal():
    model = tiny_gpt()
    idx = tokens((2, 8))
    changed = idx.copy()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    before, after = model(idx)[0].data, model(changed)[0].data
    np.testing.assert_array_equal(before[:, :5], after[:, :5])  # the past cannot see it
    assert np.abs(before[:, 5:] - after[:, 5:]).min(axis=-1).max() > 0
    # and the gradient of an early position's logit reaches no later token's embedding
    x = model.wte(idx).detach().requires_grad_()
    h = x + model.wpe(np.arange(8))
    for block in model.h:
        h = block(h)
    h[:, 3].sum().backward()
    grad = np.abs(x.grad.data).sum(axis=(0, 2))
    assert (grad[:4] > 0).all() and (grad[4:] == 0).all()


def test_gpt_attention_is_the_spelled_out_formula():
    rng = np.random.default_rng(0)
    q, k, v = (ag.tensor(rng.standard_normal((2, 3, 5, 4))) for _ in range(3))
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, is_causal=True).data,
                               gpt.causal_attention(q, k, v).data, rtol=1e-12, atol=1e-14)


def test_gpt_weight_tying():
    model = tiny_gpt()
    assert model.lm_head.weight is model.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "wte.weight" in names and "lm_head.weight" not in names  # listed once
    assert len(list(model.parameters())) == len({id(p) for p in model.parameters()})
    # both uses add into the one gradient: the head's part alone is not the whole
    _, loss = model(tokens((2, 8)), tokens((2, 8), seed=1))
    loss.backward()
    head_only = tiny_gpt()
    head_only.lm_head.weight = nn.Parameter(head_only.wte.weight.data.copy())
    _, loss2 = head_only(tokens((2, 8)), tokens((2, 8), seed=1))
    loss2.backward()
    np.testing.assert_allclose(loss.item(), loss2.item(), rtol=1e-6)
    both = head_only.lm_head.weight.grad.data + head_only.wte.weight.grad.data
    np.testing.assert_allclose(model.wte.weight.grad.data, both, rtol=1e-4, atol=1e-7)


def test_gpt_adamw_groups():
    model = tiny_gpt()
    opt = model.configure_optimizers(weight_decay=0.1, lr=3e-3, betas=(0.9, 0.95))
    assert isinstance(opt, optim.AdamW)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert decay["lr"] == no_decay["lr"] == 3e-3 and decay["betas"] == (0.9, 0.95)
    assert all(p.ndim == 2 for p in decay["params"])
    assert all(p.ndim == 1 for p in no_decay["params"])
    ids = [id(p) for g in opt.param_groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())  # each once
    named = {id(p): n for n, p in model.named_parameters()}
    decayed = {named[id(p)] for p in decay["params"]}
    assert {"wte.weight", "wpe.weight", "h.0.attn.c_attn.weight", "h.1.mlp.c_proj.weight"} \
        <= decayed
    assert not any(n.endswith(".bias") or ".ln_" in n or n.startswith("ln_") for n in decayed)


def test_gpt_init_and_schedule():
    model = tiny_gpt(n_embd=64)
    params = dict(model.named_parameters())
    assert abs(params["h.0.attn.c_attn.weight"].data.std() - 0.02) < 0.003
    assert abs(params["h.0.mlp.c_proj.weight"].data.std() - 0.02 / 2) < 0.002
    assert not params["h.0.attn.c_attn.bias"].data.any()
    assert (params["h.0.ln_1.weight"].data == 1).all()
    f = gpt.warmup_cosine(warmup=10, steps=110)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55) and f(110) == pytest.approx(0.1)
    assert f(500) == pytest.approx(0.1)


def test_gpt_data_and_generation():
    data = gpt.CharData("hello, world\n" * 10)
    assert data.decode(data.encode("hello")) == "hello"
    x, y = data.batch("train", 4, 6)
    assert x.shape == y.shape == (4, 6)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
    model = tiny_gpt(vocab_size=len(data.chars))
    model.eval()
    ag.manual_seed(3)
    out = model.generate(data.encode("he")[None], 10, top_k=3)
    ag.manual_seed(3)
    again = model.generate(data.encode("he")[None], 10, top_k=3)
    assert out.shape == (1, 12) and (out == again).all()
    assert len(gpt.load_text()) > 10_000  # the repository's own text is there


# ---- ResNet ----------------------------------------------------------------------

def images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, n)


def test_resnet_shapes():
    ag.manual_seed(0)
    model = resnet.ResNet()
    x, _ = images(5)
    assert model(x).shape == (5, 10)
    blocks = list(model.layers)
    assert [b.downsample is None for b in blocks] == [True, False, False]
    strided = blocks[1].downsample[0]
    assert strided.weight.shape == (32, 16, 1, 1) and strided.stride in (2, (2, 2))
    h = model.stem(x)
    assert h.shape == (5, 16, 8, 8)
    for block, shape in zip(blocks, [(16, 8, 8), (32, 4, 4), (64, 2, 2)]):
        h = block(h)
        assert h.shape == (5, *shape)
    assert model(images(2)[0]).shape == (2, 10)
    deeper = resnet.ResNet(widths=(8, 16), blocks=2)
    assert len(deeper.layers) == 4 and deeper(x).shape == (5, 10)


def test_resnet_trains():
    ag.manual_seed(0)
    model = resnet.ResNet(widths=(8, 16, 32))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = images(32)
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert model.layers[0].bn1.num_batches_tracked == 8


def test_resnet_eval_is_deterministic():
    ag.manual_seed(0)
    model = resnet.ResNet(widths=(8, 16, 32))
    x, _ = images(6)
    model(x)  # one training-mode batch moves the running statistics
    model.eval()
    running = model.layers[0].bn1.running_mean.copy()
    with ag.no_grad():
        a, b = model(x).data, model(x).data
        alone = model(x[:1]).data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(alone, a[:1], rtol=1e-5, atol=1e-6)  # no batch statistics
    np.testing.assert_array_equal(model.layers[0].bn1.running_mean, running)
    model.train()
    assert not np.allclose(model(x[:2]).data, a[:2], atol=1e-4)  # batch statistics again


# ---- against PyTorch -------------------------------------------------------------

def test_gpt_matches_pytorch():
    torch = pytest.importorskip("torch")
    model = tiny_gpt().double()
    config = model.config
    twin = _load("gpt", ROOT / "benchmarks")  # the same GPT written in PyTorch
    tmodel = twin.torch_gpt(config).double()
    tparams = dict(tmodel.named_parameters())
    assert sorted(tparams) == sorted(n for n, _ in model.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            tparams[name].copy_(torch.from_numpy(p.data.copy()))
    assert tmodel.lm_head.weight is tmodel.wte.weight

    opt = model.configure_optimizers(weight_decay=0.1, lr=1e-2)
    decay = [tparams[n] for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [tparams[n] for n, p in model.named_parameters() if p.ndim < 2]
    topt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=1e-2, betas=(0.9, 0.95))
    factor = gpt.warmup_cosine(warmup=2, steps=6)
    sched = optim.lr_scheduler.LambdaLR(opt, factor)
    tsched = torch.optim.lr_scheduler.LambdaLR(topt, factor)

    losses, tlosses = [], []
    for step in range(3):
        x, y = tokens((4, 8), seed=2 * step), tokens((4, 8), seed=2 * step + 1)
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        sched.step()
        losses.append(loss.item())

        tloss = tmodel(torch.from_numpy(x), torch.from_numpy(y))
        topt.zero_grad()
        tloss.backward()
        tnorm = torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 0.5)
        topt.step()
        tsched.step()
        tlosses.append(tloss.item())
        assert norm == pytest.approx(float(tnorm), rel=1e-9)

    np.testing.assert_allclose(losses, tlosses, rtol=1e-9, atol=0)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.data, tparams[name].detach().numpy(), rtol=1e-8,
                                   atol=1e-10, err_msg=name)
