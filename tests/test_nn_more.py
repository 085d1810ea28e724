"""Attention, 1-d conv and pools, adaptive pooling, interpolate, group / instance / RMS
norm, normalize, cosine_similarity, F.pad's modes and Embedding's scale_grad_by_freq:
values against numpy references written from PyTorch's formulas, shapes, masks,
module parameters and state_dict keys, errors, and the same numbers on
array-api-strict's device1 where the core can run there."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(0)


def t(a, grad=False):
    return ag.tensor(np.asarray(a, np.float64), dtype=np.float64, requires_grad=grad)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# -- scaled_dot_product_attention ----------------------------------------------------------
def sdpa_ref(q, k, v, keep=None, bias=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if bias is not None:
        s = s + bias
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    dead = np.all(s == -np.inf, axis=-1, keepdims=True)
    p = np.where(dead, 0.0, softmax(np.where(dead, 0.0, s)))
    return p @ v


def qkv(batch=(2, 3), L=4, S=5, E=6, Ev=3):
    return (RNG.standard_normal(batch + (L, E)), RNG.standard_normal(batch + (S, E)),
            RNG.standard_normal(batch + (S, Ev)))


def test_sdpa_plain_scale_and_float_mask():
    q, k, v = qkv()
    np.testing.assert_allclose(F.scaled_dot_product_attention(t(q), t(k), t(v)).data,
                               sdpa_ref(q, k, v), rtol=1e-12)
    np.testing.assert_allclose(F.scaled_dot_product_attention(t(q), t(k), t(v), scale=0.3).data,
                               sdpa_ref(q, k, v, scale=0.3), rtol=1e-12)
    bias = RNG.standard_normal((4, 5))
    np.testing.assert_allclose(
        F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=bias).data,
        sdpa_ref(q, k, v, bias=bias), rtol=1e-12)


def test_sdpa_bool_mask_keeps_where_true_and_causal_is_top_left():
    q, k, v = qkv()
    keep = RNG.random((3, 4, 5)) < 0.6
    keep[..., 0] = True
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=keep)
    np.testing.assert_allclose(out.data, sdpa_ref(q, k, v, keep=keep), rtol=1e-12)
    causal = F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=True)
    np.testing.assert_allclose(causal.data, sdpa_ref(q, k, v, keep=np.tril(np.ones((4, 5), bool))),
                               rtol=1e-12)
    # query 0 sees key 0 only: its output is v[..., 0, :]
    np.testing.assert_allclose(causal.data[..., 0, :], v[..., 0, :], rtol=1e-12)


def test_sdpa_fully_masked_row_is_zero_with_finite_gradients():
    q, k, v = (t(a, grad=True) for a in qkv((2,)))
    keep = np.ones((4, 5), bool)
    keep[1] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        out.sum().backward()
    assert np.all(out.data[:, 1] == 0)
    for x in (q, k, v):
        assert np.all(np.isfinite(x.grad.data))
    assert np.all(q.grad.data[:, 1] == 0)
    # a float mask of -inf masks fully too
    bias = np.zeros((4, 5))
    bias[2] = -np.inf
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    assert np.all(out.data[:, 2] == 0) and np.all(np.isfinite(out.data))


def test_sdpa_dropout_seeded_and_full():
    q, k, v = qkv((1,))
    ag.manual_seed(3)
    a = F.scaled_dot_product_attention(t(q), t(k), t(v), dropout_p=0.5).data
    ag.manual_seed(3)
    b = F.scaled_dot_product_attention(t(q), t(k), t(v), dropout_p=0.5).data
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, sdpa_ref(q, k, v))
    assert np.all(F.scaled_dot_product_attention(t(q), t(k), t(v), dropout_p=1.0).data == 0)


def test_sdpa_gqa_repeats_key_heads():
    q = RNG.standard_normal((1, 4, 3, 2))
    k, v = RNG.standard_normal((1, 2, 5, 2)), RNG.standard_normal((1, 2, 5, 2))
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), enable_gqa=True)
    ref = sdpa_ref(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))
    np.testing.assert_allclose(out.data, ref, rtol=1e-12)


def test_sdpa_errors_name_the_function_and_shapes():
    q, k, v = qkv()
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*\(2, 3, 4, 6\)"):
        F.scaled_dot_product_attention(t(q), t(k[..., :5]), t(v))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 3\)"):
        F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=np.ones((4, 5), bool),
                                       is_causal=True)


# -- MultiheadAttention ---------------------------------------------------------------------
def mha_ref(m, q, k, v, key_padding_mask=None, attn_mask=None):
    """PyTorch's multi_head_attention_forward (batch first), from its formulas."""
    w, b = m.in_proj_weight.data.astype(np.float64), m.in_proj_bias.data.astype(np.float64)
    e, h = m.embed_dim, m.num_heads
    d = e // h
    n, L, S = q.shape[0], q.shape[1], k.shape[1]
    qp, kp, vp = (x @ w[i * e:(i + 1) * e].T + b[i * e:(i + 1) * e]
                  for i, x in enumerate((q, k, v)))

    def heads(x, n_):
        return x.reshape(n, n_, h, d).transpose(0, 2, 1, 3)
    qh, kh, vh = heads(qp, L) * math.sqrt(1 / d), heads(kp, S), heads(vp, S)
    s = qh @ kh.transpose(0, 1, 3, 2)
    if attn_mask is not None:
        s = s + (np.where(attn_mask, -np.inf, 0) if attn_mask.dtype == bool else attn_mask)
    if key_padding_mask is not None:
        s = s + np.where(key_padding_mask, -np.inf, 0)[:, None, None, :]
    p = softmax(s)
    out = (p @ vh).transpose(0, 2, 1, 3).reshape(n, L, e)
    out = out @ m.out_proj.weight.data.T + m.out_proj.bias.data
    return out, p


def test_mha_parameters_match_pytorch_names_shapes_and_init():
    m = nn.MultiheadAttention(8, 2)
    shapes = {k: v.shape for k, v in m.state_dict().items()}
    assert shapes == {"in_proj_weight": (24, 8), "in_proj_bias": (24,),
                      "out_proj.weight": (8, 8), "out_proj.bias": (8,)}
    assert np.all(m.in_proj_bias.data == 0) and np.all(m.out_proj.bias.data == 0)
    bound = math.sqrt(6 / (24 + 8))  # xavier_uniform on (3E, E)
    assert np.abs(m.in_proj_weight.data).max() <= bound
    assert m.batch_first is True and m.head_dim == 4
    m2 = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert {k: v.shape for k, v in m2.state_dict().items()} == {
        "q_proj_weight": (8, 8), "k_proj_weight": (8, 3), "v_proj_weight": (8, 5),
        "out_proj.weight": (8, 8)}
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)


def test_mha_forward_matches_reference_with_masks():
    ag.manual_seed(0)
    m = nn.MultiheadAttention(8, 2).double()
    q, k, v = (RNG.standard_normal((2, n, 8)) for n in (3, 4, 4))
    pad = np.array([[False, False, False, True], [False, True, False, False]])
    causalish = np.triu(np.ones((3, 4), bool), k=2)
    out, w = m(t(q), t(k), t(v), key_padding_mask=pad, attn_mask=causalish)
    ref, p = mha_ref(m, q, k, v, pad, causalish)
    np.testing.assert_allclose(out.data, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.data, p.mean(axis=1), rtol=1e-10, atol=1e-12)
    out, w = m(t(q), t(k), t(v), average_attn_weights=False)
    assert w.shape == (2, 2, 3, 4)
    np.testing.assert_allclose(w.data, mha_ref(m, q, k, v)[1], rtol=1e-10)
    out2, none = m(t(q), t(k), t(v), need_weights=False)
    assert none is None
    np.testing.assert_allclose(out2.data, out.data, rtol=1e-12)
    fmask = RNG.standard_normal((2 * 2, 3, 4))  # (N * H, L, S) float
    out, _ = m(t(q), t(k), t(v), attn_mask=fmask)
    ref = mha_ref(m, q, k, v, attn_mask=fmask.reshape(2, 2, 3, 4))[0]
    np.testing.assert_allclose(out.data, ref, rtol=1e-10)


def test_mha_seq_first_unbatched_and_backward():
    ag.manual_seed(1)
    m = nn.MultiheadAttention(4, 2, batch_first=False).double()
    x = RNG.standard_normal((3, 2, 4))  # (L, N, E)
    out, w = m(t(x), t(x), t(x))
    assert out.shape == (3, 2, 4) and w.shape == (2, 3, 3)
    ref = mha_ref(m, x.transpose(1, 0, 2), x.transpose(1, 0, 2), x.transpose(1, 0, 2))[0]
    np.testing.assert_allclose(out.data, ref.transpose(1, 0, 2), rtol=1e-10)
    single, ws = m(t(x[:, 0]), t(x[:, 0]), t(x[:, 0]))
    assert single.shape == (3, 4) and ws.shape == (3, 3)
    np.testing.assert_allclose(single.data, out.data[:, 0], rtol=1e-10)
    single.sum().backward()
    assert m.in_proj_weight.grad.shape == (12, 4) and m.out_proj.bias.grad.shape == (4,)


def test_mha_errors():
    m = nn.MultiheadAttention(4, 2)
    x = t(np.ones((2, 3, 4)))
    with pytest.raises(RuntimeError, match="is_causal"):
        m(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(3, 3\)"):
        m(x, x, x, attn_mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 3\)"):
        m(x, x, x, key_padding_mask=np.ones((3,), bool))
    with pytest.raises(NotImplementedError):
        nn.MultiheadAttention(4, 2, add_bias_kv=True)


# -- conv1d and the 1-d pools -------------------------------------------------------------
def conv1d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    n, c, length = x.shape
    o, cg, k = w.shape
    lo = (length - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n, o, lo))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(lo):
            start = i * stride
            taps = x[:, g * cg:(g + 1) * cg, start:start + dilation * (k - 1) + 1:dilation]
            out[:, oc, i] = np.einsum("nck,ck->n", taps, w[oc])
    return out if b is None else out + b[:, None]


@pytest.mark.parametrize("kw", [{}, {"stride": 2}, {"padding": 2, "dilation": 2},
                                {"groups": 2, "stride": 3, "padding": 1}])
def test_conv1d_matches_reference(kw):
    x, b = RNG.standard_normal((2, 4, 11)), RNG.standard_normal(6)
    w = RNG.standard_normal((6, 4 // kw.get("groups", 1), 3))
    out = F.conv1d(t(x), t(w), t(b), **kw)
    np.testing.assert_allclose(out.data, conv1d_ref(x, w, b, **kw), rtol=1e-10, atol=1e-12)


def test_conv1d_same_unbatched_and_errors():
    x, w = RNG.standard_normal((3, 7)), RNG.standard_normal((2, 3, 4))
    out = F.conv1d(t(x), t(w), padding="same")
    assert out.shape == (2, 7)
    # PyTorch's split of an odd span: 1 on the left, 2 on the right
    ref = conv1d_ref(np.pad(x[None], ((0, 0), (0, 0), (1, 2))), w)[0]
    np.testing.assert_allclose(out.data, ref, rtol=1e-10)
    with pytest.raises(ValueError, match=r"conv1d.*\(2, 3, 7\).*\(2, 4, 4\)"):
        F.conv1d(t(np.ones((2, 3, 7))), t(np.ones((2, 4, 4))))
    with pytest.raises(ValueError, match=r"conv1d: expects an \(N, C, L\)"):
        F.conv1d(t(np.ones((1, 2, 3, 7))), t(w))


def test_conv1d_module_layout_init_and_padding_modes():
    ag.manual_seed(0)
    m = nn.Conv1d(4, 6, 3, groups=2, padding=1, padding_mode="circular")
    assert {k: v.shape for k, v in m.state_dict().items()} == {"weight": (6, 2, 3),
                                                                "bias": (6,)}
    assert np.abs(m.weight.data).max() <= 1 / math.sqrt(2 * 3)  # kaiming_uniform(a=sqrt(5))
    x = RNG.standard_normal((1, 4, 5)).astype(np.float32)
    ref = conv1d_ref(np.pad(x, ((0, 0), (0, 0), (1, 1)), mode="wrap").astype(np.float64),
                     m.weight.data.astype(np.float64), m.bias.data, groups=2)
    np.testing.assert_allclose(m(x).data, ref, rtol=1e-5, atol=1e-6)
    assert "padding_mode=circular" in repr(m)


def test_pool1d_values_indices_and_modules():
    x = np.array([[[1.0, 5.0, 2.0, 4.0, 3.0]]])
    np.testing.assert_array_equal(F.max_pool1d(t(x), 2).data, [[[5.0, 4.0]]])
    y, idx = F.max_pool1d(t(x), 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(y.data, [[[5, 5, 4, 4]]])
    np.testing.assert_array_equal(idx.data, [[[1, 1, 3, 3]]])
    np.testing.assert_array_equal(F.max_pool1d(t(x), 2, ceil_mode=True).data, [[[5, 4, 3]]])
    np.testing.assert_allclose(F.avg_pool1d(t(x), 2).data, [[[3.0, 3.0]]])
    np.testing.assert_allclose(F.avg_pool1d(t(x), 3, 2, padding=1).data,
                               [[[6 / 3, 11 / 3, 7 / 3]]])
    np.testing.assert_allclose(F.avg_pool1d(t(x), 3, 2, padding=1, count_include_pad=False).data,
                               [[[3.0, 11 / 3, 3.5]]])
    assert nn.MaxPool1d(2)(t(x)).shape == (1, 1, 2)
    assert nn.AvgPool1d(2, stride=1)(t(x[0])).shape == (1, 4)  # unbatched (C, L)


# -- adaptive pooling ---------------------------------------------------------------------
def adaptive_ref(x, oh, ow):
    h, w = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        h0, h1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -(-((j + 1) * w) // ow)
            out[..., i, j] = x[..., h0:h1, w0:w1].mean(axis=(-1, -2))
    return out


@pytest.mark.parametrize(("size", "out"), [(3, (3, 3)), ((3, 4), (3, 4)), ((2, None), (2, 7)),
                                           (1, (1, 1)), ((10, 9), (10, 9)), ((5, 7), (5, 7))])
def test_adaptive_avg_pool2d_pytorch_windows(size, out):
    x = RNG.standard_normal((2, 3, 5, 7))
    y = F.adaptive_avg_pool2d(t(x, grad=True), size)
    np.testing.assert_allclose(y.data, adaptive_ref(x, *out), rtol=1e-12, atol=1e-14)
    assert nn.AdaptiveAvgPool2d(size)(t(x[0])).shape == (3,) + out  # unbatched
    with pytest.raises(ValueError, match="adaptive_avg_pool2d"):
        F.adaptive_avg_pool2d(t(x), (0, 2))


def test_adaptive_avg_pool2d_gradient_is_the_window_shares():
    x = t(np.zeros((1, 1, 3, 1)), grad=True)
    F.adaptive_avg_pool2d(x, (2, 1)).sum().backward()  # windows [0, 2) and [1, 3)
    np.testing.assert_allclose(x.grad.data.ravel(), [0.5, 1.0, 0.5])


# -- interpolate / Upsample ----------------------------------------------------------------
def test_interpolate_known_pytorch_outputs():
    x = t([[[[1.0, 2.0], [3.0, 4.0]]]])
    up = F.interpolate(x, scale_factor=2, mode="bilinear")
    np.testing.assert_allclose(up.data[0, 0], [[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5],
                                               [2.5, 2.75, 3.25, 3.5], [3.0, 3.25, 3.75, 4.0]])
    ac = F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=True)
    np.testing.assert_allclose(ac.data[0, 0], [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2).data[0, 0],
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    line = t([[[1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(F.interpolate(line, size=5).data, [[[1, 1, 2, 2, 3]]])
    np.testing.assert_array_equal(F.interpolate(line, size=5, mode="nearest-exact").data,
                                  [[[1, 1, 2, 3, 3]]])
    np.testing.assert_allclose(F.interpolate(line, size=2, mode="linear").data, [[[1.25, 2.75]]])


def bilinear_ref(x, oh, ow, align_corners):
    """PyTorch's upsample_bilinear2d, loop by loop (no scale_factor)."""
    h, w = x.shape[-2:]

    def src(n_in, n_out, i):
        if align_corners:
            return (n_in - 1) / (n_out - 1) * i if n_out > 1 else 0.0
        return max((n_in / n_out) * (i + 0.5) - 0.5, 0.0)
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        sh = src(h, oh, i)
        h0 = int(sh)
        h1, lh = h0 + (h0 < h - 1), sh - int(sh)
        for j in range(ow):
            sw = src(w, ow, j)
            w0 = int(sw)
            w1, lw = w0 + (w0 < w - 1), sw - int(sw)
            out[..., i, j] = ((1 - lh) * ((1 - lw) * x[..., h0, w0] + lw * x[..., h0, w1])
                              + lh * ((1 - lw) * x[..., h1, w0] + lw * x[..., h1, w1]))
    return out


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(7, 3), (2, 9), (1, 1), (4, 5)])
def test_bilinear_matches_pytorch_formula(size, align_corners):
    x = RNG.standard_normal((2, 3, 4, 5))
    y = F.interpolate(t(x), size=size, mode="bilinear", align_corners=align_corners)
    np.testing.assert_allclose(y.data, bilinear_ref(x, *size, align_corners), rtol=1e-12,
                               atol=1e-14)


def test_interpolate_float32_upsample_module_and_gradients():
    x = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
    m = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    y = m(ag.tensor(x))
    assert y.dtype == np.float32 and y.shape == (1, 2, 6, 8)
    np.testing.assert_allclose(y.data, bilinear_ref(x.astype(np.float64), 6, 8, False), rtol=1e-6)
    xt = t(x, grad=True)
    F.interpolate(xt, scale_factor=2).sum().backward()
    np.testing.assert_array_equal(xt.grad.data, np.full(x.shape, 4.0))  # each pixel 2 x 2 times
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"


def test_interpolate_errors():
    x = t(np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=2, align_corners=True)
    with pytest.raises(ValueError, match=r"'linear' expects a 3-d input, got shape \(1, 1, 3, 3\)"):
        F.interpolate(x, size=2, mode="linear")
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, size=2, mode="bicubic")


# -- group / instance / RMS norm, normalize, cosine_similarity ------------------------------
def test_group_norm_and_module():
    x = RNG.standard_normal((2, 6, 3, 2))
    w, b = RNG.standard_normal(6), RNG.standard_normal(6)
    g = x.reshape(2, 3, -1)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)
           ).reshape(x.shape) * w[:, None, None] + b[:, None, None]
    np.testing.assert_allclose(F.group_norm(t(x), 3, t(w), t(b)).data, ref, rtol=1e-10)
    m = nn.GroupNorm(3, 6)
    assert {k: v.shape for k, v in m.state_dict().items()} == {"weight": (6,), "bias": (6,)}
    assert not nn.GroupNorm(3, 6, affine=False).state_dict()
    with pytest.raises(ValueError, match=r"group_norm.*num_groups = 4.*\(2, 6, 3, 2\)"):
        F.group_norm(t(x), 4)
    with pytest.raises(ValueError, match="GroupNorm"):
        nn.GroupNorm(4, 6)


def test_instance_norm_values_and_running_stats():
    x = RNG.standard_normal((3, 2, 5))
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(F.instance_norm(t(x)).data, ref, rtol=1e-10)
    rm, rv = np.zeros(2), np.ones(2)
    F.instance_norm(t(x), rm, rv, momentum=0.5)
    np.testing.assert_allclose(rm, 0.5 * x.mean(-1).mean(0))
    np.testing.assert_allclose(rv, 0.5 + 0.5 * x.var(-1, ddof=1).mean(0))
    y = F.instance_norm(t(x), rm, rv, use_input_stats=False)
    np.testing.assert_allclose(y.data, (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5))
    m = nn.InstanceNorm1d(2, affine=True, track_running_stats=True)
    assert set(m.state_dict()) == {"weight", "bias", "running_mean", "running_var",
                                   "num_batches_tracked"}
    m(x.astype(np.float32))
    assert int(m.num_batches_tracked) == 1 and m.running_mean.any()
    assert nn.InstanceNorm2d(2)(t(np.ones((2, 3, 3)) + np.arange(3))).shape == (2, 3, 3)


def test_rms_norm_default_eps_is_the_dtypes():
    x = RNG.standard_normal((2, 3, 4))
    w = RNG.standard_normal(4)
    ref = x / np.sqrt((x * x).mean(-1, keepdims=True) + np.finfo(np.float64).eps) * w
    np.testing.assert_allclose(F.rms_norm(t(x), 4, t(w)).data, ref, rtol=1e-12)
    ref2 = x / np.sqrt((x * x).mean((-1, -2), keepdims=True) + 0.1)
    np.testing.assert_allclose(F.rms_norm(t(x), (3, 4), eps=0.1).data, ref2, rtol=1e-12)
    z = ag.zeros(2, 4)  # float32: eps = 2**-23 keeps 0 / sqrt(eps) finite
    assert np.all(F.rms_norm(z, 4).data == 0)
    m = nn.RMSNorm((3, 4))
    assert m.state_dict()["weight"].shape == (3, 4) and m.eps is None
    with pytest.raises(ValueError, match=r"rms_norm: input shape \(2, 3, 4\) does not end"):
        F.rms_norm(t(x), 3)


def test_normalize_and_cosine_similarity():
    x = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(F.normalize(t(x)).data,
                               x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(F.normalize(t(x), p=1.0, dim=0).data,
                               x / np.abs(x).sum(0, keepdims=True), rtol=1e-12)
    z = t(np.zeros((2, 3)), grad=True)
    F.normalize(z).sum().backward()
    assert np.all(np.isfinite(z.grad.data))
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((1, 3))
    ref = (a / np.linalg.norm(a, axis=1, keepdims=True) * (b / np.linalg.norm(b))).sum(1)
    np.testing.assert_allclose(F.cosine_similarity(t(a), t(b)).data, ref, rtol=1e-12)
    # tiny vectors: each norm clamped at eps (PyTorch 2.x), not the product
    small = np.array([[1e-9, 0.0]])
    np.testing.assert_allclose(F.cosine_similarity(t(small), t(small)).data, [1e-18 / 1e-16])
    zz = t(np.zeros((2, 3)), grad=True)
    sim = F.cosine_similarity(zz, t(np.ones((2, 3))))
    sim.sum().backward()
    assert np.all(sim.data == 0) and np.all(np.isfinite(zz.grad.data))
    with pytest.raises(TypeError, match="both"):
        F.normalize(t(x), axis=0, dim=1)
    with pytest.raises(ValueError, match=r"cosine_similarity: shapes \(5, 3\) and \(2, 3\)"):
        F.cosine_similarity(t(a), t(np.ones((2, 3))))


# -- F.pad ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "np_mode"), [("constant", "constant"), ("reflect", "reflect"),
                                               ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes_match_numpy(mode, np_mode):
    x = RNG.standard_normal((2, 3, 4, 5))
    y = F.pad(t(x), (1, 2, 3, 0), mode=mode)
    ref = np.pad(x, ((0, 0), (0, 0), (3, 0), (1, 2)), mode=np_mode)
    np.testing.assert_array_equal(y.data, ref)


def test_pad_constant_value_negative_and_gradient():
    x = t(np.arange(6.0).reshape(2, 3), grad=True)
    np.testing.assert_array_equal(F.pad(x, (1, 0), value=-1).data, [[-1, 0, 1, 2], [-1, 3, 4, 5]])
    np.testing.assert_array_equal(F.pad(x, (-1, 1, 0, 1)).data, [[1, 2, 0], [4, 5, 0], [0, 0, 0]])
    F.pad(x, (2, 2), mode="reflect").sum().backward()
    # reflect (2, 2) of [a b c]: c b | a b c | b a -> a twice, b three times, c twice
    np.testing.assert_array_equal(x.grad.data, [[2, 3, 2], [2, 3, 2]])


def test_pad_errors():
    x = t(np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 0\) must be less than "
                                         r"the size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(ValueError, match="only used with mode='constant'"):
        F.pad(x, (1, 1), mode="replicate", value=3)


# -- Embedding(scale_grad_by_freq=True) --------------------------------------------------------
def test_embedding_scale_grad_by_freq():
    ag.manual_seed(0)
    m = nn.Embedding(5, 2, scale_grad_by_freq=True)
    idx = np.array([[1, 2, 2], [4, 1, 1]])
    out = m(idx)
    np.testing.assert_array_equal(out.data, m.weight.data[idx])
    g = RNG.standard_normal((2, 3, 2))
    out.backward(g)
    ref = np.zeros((5, 2))
    for row in (1, 2, 4):
        ref[row] = g[idx == row].sum(0) / (idx == row).sum()
    np.testing.assert_allclose(m.weight.grad.data, ref, rtol=1e-6)
    assert "scale_grad_by_freq=True" in repr(m)
    w = t(np.ones((5, 2)), grad=True)  # with padding_idx: that row still gets nothing
    F.embedding(idx, w, padding_idx=1, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(w.grad.data[:, 0], [0, 0, 1, 0, 1])


# -- array-api-strict's device1: the same numbers as numpy ------------------------------------
try:
    import array_api_strict as _xps
except ImportError:  # pragma: no cover
    _xps = None


def _strict(a):
    """A float64 leaf on array-api-strict's device1."""
    return ag.tensor(np.asarray(a, np.float64), dtype=np.float64, requires_grad=True,
                     device="array_api_strict:device1")


def _on_host(a):
    return np.from_dlpack(a)


class _CoreNotReady(Exception):
    """A registered op of the core still calls numpy on a device array."""


def _run(fn, *args):
    try:
        return fn(*args)
    except RuntimeError as err:
        if "Can't convert array" in str(err):  # numpy's np.* on a device1 array
            raise _CoreNotReady(str(err)) from err
        raise


DEVICE_CASES = {
    "attention": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    "conv1d": lambda x, w: F.conv1d(x, w, stride=2, padding=1),
    "group_norm": lambda x: F.group_norm(x, 2),
    "interpolate": lambda x: F.interpolate(x, size=(5, 3), mode="bilinear"),
}
DEVICE_INPUTS = {
    "attention": lambda: qkv((2,)), "conv1d": lambda: (RNG.standard_normal((2, 4, 9)),
                                                        RNG.standard_normal((3, 4, 3))),
    "group_norm": lambda: (RNG.standard_normal((2, 4, 3)),),
    "interpolate": lambda: (RNG.standard_normal((1, 2, 3, 4)),),
}


@pytest.mark.parametrize("name", sorted(DEVICE_CASES))
def test_same_numbers_on_array_api_strict_device1(name):
    if _xps is None:
        pytest.skip("array_api_strict is not installed")
    arrays = DEVICE_INPUTS[name]()
    fn = DEVICE_CASES[name]
    ours = [_strict(a) for a in arrays]
    theirs = [t(a, grad=True) for a in arrays]
    ref = fn(*theirs)
    (ref * ref).sum().backward()
    try:
        out = _run(fn, *ours)
        assert out.device == "array_api_strict:device1"
        np.testing.assert_allclose(_on_host(out.data), ref.data, rtol=1e-12, atol=1e-14)
        _run(lambda: (out * out).sum().backward())
    except _CoreNotReady as err:
        pytest.skip(f"a core op does not run on array_api_strict device1 yet: {err}")
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(_on_host(a.grad.data), b.grad.data, rtol=1e-10,
                                   atol=1e-12)
