"""conv2d, pools, unfold/fold against naive loop implementations; gradients to 2nd order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.registry import OP


def naive_conv2d(x, w, b, stride, padding, dilation=(1, 1), groups=1):
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    per = o // groups
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                      j * sw:j * sw + dw * (kw - 1) + 1:dw]
            for gi in range(groups):
                out[:, gi * per:(gi + 1) * per, i, j] = np.einsum(
                    "ncpq,ocpq->no", patch[:, gi * cg:(gi + 1) * cg], w[gi * per:(gi + 1) * per])
    return out if b is None else out + b[None, :, None, None]


def naive_pool(x, k, s, reduce):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


def t64(rng, *shape):
    return ag.tensor(rng.standard_normal(shape), requires_grad=True)


CASES = [  # (x shape, weight shape, stride, padding)
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (0, 0)),
    ((1, 2, 8, 8), (3, 2, 3, 3), (1, 1), (1, 1)),
    ((2, 1, 9, 7), (2, 1, 3, 2), (2, 3), (1, 0)),
    ((3, 2, 5, 5), (1, 2, 1, 1), (2, 2), (0, 2)),
]


@pytest.mark.parametrize("xs,ws,stride,padding", CASES)
def test_conv2d_matches_naive_loops(xs, ws, stride, padding):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    for bias in (b, None):
        out = F.conv2d(x, w, bias, stride=stride, padding=padding)
        np.testing.assert_allclose(out.data, naive_conv2d(x, w, bias, stride, padding),
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", [
    ((2, 4, 9, 8), (6, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2),
    ((1, 3, 9, 9), (3, 1, 3, 2), (2, 1), (0, 1), (2, 3), 3),  # depthwise, dilated
    ((2, 2, 8, 7), (4, 2, 2, 3), (1, 2), (2, 0), (3, 1), 1),
])
def test_dilated_and_grouped_conv2d_match_naive_loops(xs, ws, stride, padding, dilation,
                                                      groups):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    for bias in (b, None):
        out = F.conv2d(x, w, bias, stride, padding, dilation, groups)
        np.testing.assert_allclose(out.data,
                                   naive_conv2d(x, w, bias, stride, padding, dilation, groups),
                                   rtol=1e-10, atol=1e-12)
    xt, wt, bt = ag.tensor(x, requires_grad=True), t64(rng, *ws), t64(rng, ws[0])

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride, padding, dilation, groups)

    assert ag.gradcheck(fn, (xt, wt, bt))
    assert ag.gradgradcheck(fn, (xt, wt, bt))


def test_grouped_conv2d_module_shapes_init_and_errors():
    conv = nn.Conv2d(4, 6, 3, padding=1, dilation=2, groups=2)
    assert conv.weight.shape == (6, 2, 3, 3)
    assert repr(conv) == ("Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), "
                          "dilation=(2, 2), groups=2)")
    assert np.abs(conv.bias.data).max() <= 1 / np.sqrt(2 * 9)  # fan_in = 4 / 2 * 3 * 3
    assert conv(ag.randn(1, 4, 8, 8)).shape == (1, 6, 6, 6)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match=r"conv2d: .*groups = 2.*\(1, 3, 5, 5\)"):
        F.conv2d(ag.randn(1, 3, 5, 5), ag.randn(4, 2, 3, 3), groups=2)


def test_dilated_and_grouped_conv2d_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 6, 10, 9)), rng.standard_normal((9, 2, 3, 2)), \
        rng.standard_normal(9)
    xt, wt, bt = (ag.tensor(v, requires_grad=True) for v in (x, w, b))
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    out = F.conv2d(xt, wt, bt, (2, 1), (1, 2), (2, 3), 3)
    tout = torch.nn.functional.conv2d(tx, tw, tb, (2, 1), (1, 2), (2, 3), 3)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    for ours, theirs in ((xt, tx), (wt, tw), (bt, tb)):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("xs,ws,stride,padding", CASES[1:3])
def test_conv2d_gradients_first_and_second_order(xs, ws, stride, padding):
    rng = np.random.default_rng(1)
    x, w, b = t64(rng, *xs), t64(rng, *ws), t64(rng, ws[0])

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride, padding)

    assert ag.gradcheck(fn, (x, w, b))
    assert ag.gradgradcheck(fn, (x, w, b))


def test_conv2d_gradients_against_naive_formulas():
    rng = np.random.default_rng(2)
    x, w, b = t64(rng, 2, 2, 5, 5), t64(rng, 3, 2, 3, 3), t64(rng, 3)
    out = F.conv2d(x, w, b, padding=1)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    xp = np.pad(x.data, ((0, 0), (0, 0), (1, 1), (1, 1)))
    gw = np.zeros_like(w.data)
    gxp = np.zeros_like(xp)
    for i in range(5):
        for j in range(5):
            gw += np.einsum("no,ncpq->ocpq", g[:, :, i, j], xp[:, :, i:i + 3, j:j + 3])
            gxp[:, :, i:i + 3, j:j + 3] += np.einsum("no,ocpq->ncpq", g[:, :, i, j], w.data)
    np.testing.assert_allclose(w.grad.data, gw, rtol=1e-10)
    np.testing.assert_allclose(x.grad.data, gxp[:, :, 1:-1, 1:-1], rtol=1e-10)
    np.testing.assert_allclose(b.grad.data, g.sum(axis=(0, 2, 3)), rtol=1e-10)


def test_unfold_and_fold_are_adjoint():
    rng = np.random.default_rng(3)
    params = {"kernel_size": (2, 3), "stride": (2, 1), "padding": (1, 1)}
    x = rng.standard_normal((2, 3, 5, 6))
    cols = OP.unfold(x, **params).data
    y = rng.standard_normal(cols.shape)
    folded = OP.fold(y, shape=x.shape, **params).data
    assert np.isclose(np.sum(cols * y), np.sum(x * folded))  # <Ux, y> = <x, U^T y>


@pytest.mark.parametrize("k,s", [(2, None), (3, None), (2, 1), (3, 2)])
def test_pools_match_naive_loops(k, s):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 8))  # 7 and 8: ragged edges for k = 2 and 3
    stride = k if s is None else s
    np.testing.assert_allclose(F.max_pool2d(x, k, s).data, naive_pool(x, k, stride, np.max))
    np.testing.assert_allclose(F.avg_pool2d(x, k, s).data,
                               naive_pool(x, k, stride, np.mean), rtol=1e-12)
    xt = ag.tensor(x, requires_grad=True)
    assert ag.gradcheck(lambda x: F.max_pool2d(x, k, s), (xt,))
    assert ag.gradcheck(lambda x: F.avg_pool2d(x, k, s), (xt,))
    assert ag.gradgradcheck(lambda x: F.avg_pool2d(x, k, s) ** 2, (xt,))
    assert ag.gradgradcheck(lambda x: F.max_pool2d(x, k, s) ** 2, (xt,))


@pytest.mark.parametrize("k,s,p", [(2, None, 1), (3, 2, 1), (3, 1, (1, 0)), (5, 2, 2)])
def test_padded_pools_match_naive_loops(k, s, p):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 7, 8))
    ph, pw = (p, p) if isinstance(p, int) else p
    widths = ((0, 0), (0, 0), (ph, ph), (pw, pw))
    stride = k if s is None else s
    np.testing.assert_allclose(F.max_pool2d(x, k, s, p).data,
                               naive_pool(np.pad(x, widths, constant_values=-np.inf), k,
                                          stride, np.max))
    np.testing.assert_allclose(F.avg_pool2d(x, k, s, p).data,  # zeros count in the mean
                               naive_pool(np.pad(x, widths), k, stride, np.mean), rtol=1e-12)
    xt = ag.tensor(x, requires_grad=True)
    assert ag.gradcheck(lambda x: F.max_pool2d(x, k, s, p), (xt,))
    assert ag.gradcheck(lambda x: F.avg_pool2d(x, k, s, p), (xt,))


def test_pool_padding_is_at_most_half_the_kernel_as_in_pytorch():
    with pytest.raises(ValueError, match=r"max_pool2d: padding 2 .* half of the kernel size 3"):
        F.max_pool2d(ag.randn(1, 1, 6, 6), 3, padding=2)
    with pytest.raises(ValueError, match="avg_pool2d: padding"):
        F.avg_pool2d(ag.randn(1, 1, 6, 6), 2, padding=-1)
    pooled = nn.MaxPool2d(3, 2, padding=1)
    assert repr(pooled) == "MaxPool2d(kernel_size=3, stride=2, padding=1)"
    assert pooled(ag.randn(2, 3, 8, 8)).shape == (2, 3, 4, 4)  # PyTorch's ResNet stem pool


def test_padded_pools_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(9).standard_normal((2, 3, 9, 8))
    for ours, theirs in ((F.max_pool2d, torch.nn.functional.max_pool2d),
                         (F.avg_pool2d, torch.nn.functional.avg_pool2d)):
        xt, tx = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, tout = ours(xt, 3, 2, 1), theirs(tx, 3, 2, 1)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
        (out * out).sum().backward()
        (tout * tout).sum().backward()
        np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-12)


def pytorch_pool_reference(x, k, s, p, ceil_mode, count_include_pad, divisor, reduce,
                           d=1):
    """PyTorch's documented pooling, window by window: the output size (ceil mode's
    last window must start inside the input or its left padding), the max over the
    taps d apart that fall inside the input, and the average's divisor (the window
    clipped to the padded input, or to the input itself)."""
    n, c, h, w = x.shape
    span = d * (k - 1) + 1

    def size(length):
        out = (length + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        return out - 1 if ceil_mode and (out - 1) * s >= length + p else out

    out = np.zeros((n, c, size(h), size(w)))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            r0, c0 = i * s - p, j * s - p
            if reduce == "max":
                rows = [r for r in range(r0, r0 + span, d) if 0 <= r < h]
                cols = [q for q in range(c0, c0 + span, d) if 0 <= q < w]
                out[:, :, i, j] = x[:, :, rows][:, :, :, cols].max(axis=(2, 3))
                continue
            r1, c1 = min(r0 + k, h + p), min(c0 + k, w + p)
            padded_count = (r1 - r0) * (c1 - c0)
            r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, h), min(c1, w)
            window = x[:, :, r0:r1, c0:c1]
            count = divisor or (padded_count if count_include_pad else window[0, 0].size)
            out[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return out


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 3, 1), (2, 1, 1)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_options_match_pytorchs_formulas(k, s, p, ceil_mode):
    x = np.random.default_rng(10).standard_normal((2, 2, 7, 6))
    for d in (1, 2):
        np.testing.assert_allclose(
            F.max_pool2d(x, k, s, p, d, ceil_mode).data,
            pytorch_pool_reference(x, k, s, p, ceil_mode, True, None, "max", d))
    for include, divisor in ((True, None), (False, None), (True, 3)):
        np.testing.assert_allclose(
            F.avg_pool2d(x, k, s, p, ceil_mode, include, divisor).data,
            pytorch_pool_reference(x, k, s, p, ceil_mode, include, divisor, "avg"), rtol=1e-12)
    xt = ag.tensor(x, requires_grad=True)
    assert ag.gradcheck(lambda x: F.avg_pool2d(x, k, s, p, ceil_mode, False), (xt,))
    assert ag.gradcheck(lambda x: F.max_pool2d(x, k, s, p, 2, ceil_mode), (xt,))


def test_pool_options_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    tF = torch.nn.functional
    for k, s, p, ceil_mode, include, divisor, h in itertools.product(
            [2, 3], [1, 2, 3], [0, 1], [False, True], [True, False], [None, 3], [5, 7]):
        x = rng.standard_normal((2, 2, h, 6))
        avg = (k, s, p, ceil_mode, include, divisor)
        for ours, theirs, kw in ((F.avg_pool2d, tF.avg_pool2d, {}),
                                 (F.max_pool2d, tF.max_pool2d, {"ceil_mode": ceil_mode}),
                                 (F.max_pool2d, tF.max_pool2d, {"ceil_mode": ceil_mode,
                                                                "dilation": 2})):
            args = avg if ours is F.avg_pool2d else (k, s, p)
            xt, tx = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            out, tout = ours(xt, *args, **kw), theirs(tx, *args, **kw)
            np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
            g = rng.standard_normal(out.shape)
            (out * g).sum().backward()
            (tout * torch.tensor(g)).sum().backward()
            np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-12)


def test_pool_options_modules_reprs_and_errors():
    pool = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=4)
    assert repr(pool) == ("AvgPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True, "
                          "count_include_pad=False, divisor_override=4)")
    assert pool(ag.randn(1, 2, 6, 6)).shape == (1, 2, 4, 4)  # 3 without ceil_mode
    assert nn.MaxPool2d(2, ceil_mode=True)(ag.randn(1, 1, 5, 5)).shape == (1, 1, 3, 3)
    assert repr(nn.MaxPool2d(2, dilation=2)) == "MaxPool2d(kernel_size=2, stride=2, dilation=2)"
    assert nn.MaxPool2d(3, 1, dilation=2)(ag.randn(1, 1, 7, 7)).shape == (1, 1, 3, 3)
    with pytest.raises(ValueError, match="divisor_override must not be 0"):
        F.avg_pool2d(ag.randn(1, 1, 6, 6), 2, divisor_override=0)


@pytest.mark.parametrize("k,s,p,d", [(2, None, 0, 1), (3, 2, 1, 1), (2, 1, 0, 1),
                                     (2, 2, 1, 2), (3, 1, 1, 2)])
def test_max_pool_indices_point_at_the_maxima_and_unpool_puts_them_back(k, s, p, d):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 7, 8))
    pooled, indices = nn.MaxPool2d(k, s, p, d, return_indices=True)(x)
    assert indices.dtype == np.int64 and indices.shape == pooled.shape
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, indices.data.reshape(2, 3, -1), 2),
                                  pooled.data.reshape(2, 3, -1))
    if d != 1:
        return  # unpooling has no dilation, in PyTorch either
    back = nn.MaxUnpool2d(k, s, p)(pooled, indices, output_size=x.shape)
    expect = np.zeros(flat.shape)
    np.put_along_axis(expect, indices.data.reshape(2, 3, -1), pooled.data.reshape(2, 3, -1), 2)
    np.testing.assert_array_equal(back.data, expect.reshape(x.shape))
    # pool then unpool, overlapping windows (stride 1) included: the true derivative
    xt = ag.tensor(x[:1, :1], requires_grad=True)
    assert ag.gradcheck(lambda x: F.max_unpool2d(*F.max_pool2d(x, k, s, p, return_indices=True),
                                                 k, s, p, output_size=(7, 8)), (xt,))


def test_max_pool_indices_and_unpool_match_pytorch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(15)
    for k, s, p, d, ceil_mode in itertools.product([2, 3], [None, 2, 3], [0, 1], [1, 2],
                                                   [False, True]):
        x = rng.standard_normal((2, 2, 7, 9))
        xt, tx = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, idx = F.max_pool2d(xt, k, s, p, d, ceil_mode, return_indices=True)
        tout, tidx = tF.max_pool2d(tx, k, s, p, d, ceil_mode, return_indices=True)
        np.testing.assert_array_equal(idx.data, tidx.numpy())
        if d != 1 or ceil_mode or (s or k) < k:
            continue  # overlapping windows: PyTorch counts a shared maximum's gradient
            # once per window (twice the derivative); ours is the derivative (gradcheck)
        # windows that do not overlap: unpooled values and gradients equal PyTorch's
        back = F.max_unpool2d(out, idx, k, s, p, output_size=(7, 9))
        tback = tF.max_unpool2d(tout, tidx, k, s, p, output_size=(7, 9))
        np.testing.assert_array_equal(back.data, tback.detach().numpy())
        g = rng.standard_normal(back.shape)
        (back * g).sum().backward()
        (tback * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-12)


def naive_conv_transpose(x, w, b, s, p, op, groups, d):
    """Each input pixel adds its kernel-sized patch x[n, c, i, j] w[c, o] to the output."""
    n, c_in, h, wd = x.shape
    _, cog, kh, kw = w.shape
    full = np.zeros((n, cog * groups, (h - 1) * s + d * (kh - 1) + 1 + op,
                     (wd - 1) * s + d * (kw - 1) + 1 + op))
    cig = c_in // groups
    for gi in range(groups):
        xs, ws = x[:, gi * cig:(gi + 1) * cig], w[gi * cig:(gi + 1) * cig]
        for i in range(h):
            for j in range(wd):
                for a in range(kh):
                    for q in range(kw):
                        full[:, gi * cog:(gi + 1) * cog, i * s + a * d, j * s + q * d] += \
                            xs[:, :, i, j] @ ws[:, :, a, q]
    out = full[:, :, p:full.shape[2] - p, p:full.shape[3] - p]
    return out if b is None else out + b[None, :, None, None]


@pytest.mark.parametrize("k,s,p,op,groups,d", [(3, 2, 1, 1, 1, 1), (2, 2, 0, 0, 2, 1),
                                               (3, 1, 1, 0, 1, 2), (1, 1, 0, 1, 2, 2),
                                               (4, 3, 2, 2, 1, 1)])
def test_conv_transpose2d_matches_naive_loops_and_is_conv2ds_adjoint(k, s, p, op, groups, d):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 2 * groups, 4, 5))
    w = rng.standard_normal((2 * groups, 3, k, k))
    b = rng.standard_normal(3 * groups)
    out = F.conv_transpose2d(x, w, b, s, p, op, groups, d)
    np.testing.assert_allclose(out.data, naive_conv_transpose(x, w, b, s, p, op, groups, d),
                               rtol=1e-12, atol=1e-12)
    # <conv2d(y), x> = <y, conv_transpose2d(x)>: the same weight read both ways (an
    # output padding of a stride or more gives conv2d outputs beyond x's: cropped)
    y = rng.standard_normal(out.shape)
    lhs = np.sum(F.conv2d(y, w, None, s, p, d, groups).data[:, :, :4, :5] * x)
    rhs = np.sum(y * F.conv_transpose2d(x, w, None, s, p, op, groups, d).data)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
    args = [ag.tensor(a, requires_grad=True) for a in (x[:1, :, :3, :3], w, b)]
    assert ag.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, groups, d),
                        args)


def test_conv_transpose2d_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    for k, s, p, op, groups, d in itertools.product([1, 3], [1, 2, 3], [0, 1], [0, 1],
                                                    [1, 2], [1, 2]):
        if op >= max(s, d):
            continue  # PyTorch rejects it, and so do we
        arrays = (rng.standard_normal((2, 2 * groups, 4, 5)),
                  rng.standard_normal((2 * groups, 3, k, k)), rng.standard_normal(3 * groups))
        ours = [ag.tensor(a, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        out = F.conv_transpose2d(*ours, s, p, op, groups, d)
        tout = torch.nn.functional.conv_transpose2d(*theirs, s, p, op, groups, d)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(out.shape)
        (out * g).sum().backward()
        (tout * torch.tensor(g)).sum().backward()
        for a, ta in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_module_init_repr_and_errors():
    ag.manual_seed(0)
    up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)  # a DCGAN generator's layer
    assert up.weight.shape == (8, 4, 4, 4) and up.bias.shape == (4,)
    bound = 1 / np.sqrt(4 * 16)  # fan_in = out_channels / groups * kh * kw, as PyTorch
    assert np.abs(up.weight.data).max() <= bound and np.abs(up.bias.data).max() <= bound
    assert up(ag.randn(2, 8, 7, 7)).shape == (2, 4, 14, 14)  # stride 2 doubles the size
    assert repr(up) == "ConvTranspose2d(8, 4, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))"
    with pytest.raises(ValueError, match=r"output_padding 2 must be smaller than the stride"):
        F.conv_transpose2d(ag.randn(1, 2, 3, 3), ag.randn(2, 1, 3, 3), output_padding=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: expects .* got \(1, 3, 3, 3\)"):
        F.conv_transpose2d(ag.randn(1, 3, 3, 3), ag.randn(2, 1, 3, 3))


def test_max_pool_sends_the_gradient_to_the_first_maximum_like_pytorch():
    x = ag.tensor(np.array([[[[1.0, 3.0], [3.0, 0.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0, 1], [0, 0]]]])
    x = ag.tensor(np.zeros((1, 1, 3, 3)), requires_grad=True)  # overlapping windows
    F.max_pool2d(x, 2, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_pool_modules_and_defaults():
    assert nn.MaxPool2d(2).stride == 2 and nn.AvgPool2d(3, 1).stride == 1
    x = ag.randn(2, 3, 8, 8)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(3, 2)(x).shape == (2, 3, 3, 3)
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2)"
    with pytest.raises(ValueError):
        F.max_pool2d(ag.randn(3, 8, 8), 2)


def test_conv2d_module_init_and_repr():
    ag.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, padding=1)
    assert conv.weight.shape == (8, 4, 3, 3) and conv.bias.shape == (8,)
    assert conv.weight.dtype == np.float32
    bound = 1 / np.sqrt(4 * 9)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert conv.weight.data.std() > 0.8 * bound / np.sqrt(3)
    assert repr(conv) == "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert nn.Conv2d(1, 2, (3, 2), stride=2, bias=False).bias is None
    assert conv(ag.randn(2, 4, 6, 6)).shape == (2, 8, 6, 6)
    with pytest.raises(ValueError, match="conv2d"):
        conv(ag.randn(2, 3, 6, 6))


def test_cnn_stack_and_double_backward_through_every_layer():
    """A CNN whose activations come out of conv2d in its batch-innermost layout, as
    a gradient penalty (WGAN-GP) would differentiate it twice."""
    ag.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(3, 2, 2), nn.Tanh(), nn.AvgPool2d(1), nn.Flatten(),
                          nn.Linear(2 * 3 * 3, 1)).double()
    x = ag.tensor(np.random.default_rng(5).standard_normal((3, 2, 8, 8)), requires_grad=True)
    out = model(x)
    assert out.shape == (3, 1)
    (gx,) = ag.gradients(out.sum(), [x], create_graph=True)
    penalty = ((gx.reshape(3, -1).norm(axis=1) - 1) ** 2).mean()
    penalty.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    for name in ("0.weight", "3.weight", "3.bias", "7.weight"):  # the last bias cannot
        assert grads[name] is not None and np.all(np.isfinite(grads[name].data)), name
    params = list(model.parameters())

    def penalty_of(w):
        saved = params[0].data
        params[0].data = w.data
        try:
            (g,) = ag.gradients(model(x).sum(), [x], create_graph=True)
        finally:
            params[0].data = saved
        return (g ** 2).sum()

    # d(penalty)/d(first conv weight), numerically, along one direction
    w0 = params[0].data.copy()
    direction = np.random.default_rng(6).standard_normal(w0.shape)
    eps = 1e-6
    numeric = (penalty_of(ag.tensor(w0 + eps * direction)).item()
               - penalty_of(ag.tensor(w0 - eps * direction)).item()) / (2 * eps)
    for p in params:
        p.grad = None
    (g,) = ag.gradients(model(x).sum(), [x], create_graph=True)
    (g ** 2).sum().backward()
    analytic = float(np.sum(params[0].grad.data * direction))
    assert np.isclose(analytic, numeric, rtol=1e-4, atol=1e-6)


def test_float32_stays_float32():
    conv = nn.Conv2d(1, 2, 3)
    out = nn.MaxPool2d(2)(conv(ag.randn(2, 1, 6, 6)))
    assert out.dtype == np.float32
    out.sum().backward()
    assert conv.weight.grad.dtype == np.float32


def test_against_pytorch_when_available():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 7))
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1).double()
    bn = nn.BatchNorm2d(4).double()
    lin = nn.Linear(4 * 4 * 4, 5).double()
    tconv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1).double()
    tbn = torch.nn.BatchNorm2d(4).double()
    tlin = torch.nn.Linear(64, 5).double()
    for ours, theirs in ((conv, tconv), (bn, tbn), (lin, tlin)):
        theirs.load_state_dict({k: torch.from_numpy(np.array(v))
                                for k, v in ours.state_dict().items()})
    xt = ag.tensor(x, requires_grad=True)
    out = lin(F.max_pool2d(bn(conv(xt)), 1).reshape(2, -1))
    tx = torch.tensor(x, requires_grad=True)
    tout = tlin(torch.nn.functional.max_pool2d(tbn(tconv(tx)), 1).reshape(2, -1))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(conv.weight.grad.data, tconv.weight.grad.numpy(), rtol=1e-8)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-10)


def test_conv2d_takes_pytorchs_bias_keyword():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 1, 4, 4)), rng.standard_normal((3, 1, 3, 3)), \
        rng.standard_normal(3)
    np.testing.assert_array_equal(F.conv2d(x, w, bias=b, padding=1).data,
                                  F.conv2d(x, w, b, padding=1).data)
    assert not np.array_equal(F.conv2d(x, w, bias=b).data, F.conv2d(x, w).data)
    with pytest.raises(TypeError, match="bias twice"):
        F.conv2d(x, w, b, bias=b)


def test_large_columns_are_recomputed_with_the_same_gradients(monkeypatch):
    from nn.functional import conv_ops as conv

    rng = np.random.default_rng(7)
    x, w, b = t64(rng, 2, 3, 5, 5), t64(rng, 4, 3, 3, 3), t64(rng, 4)
    kept = F.conv2d(x, w, b, padding=1)
    assert kept.grad_fn.saved is not None
    kept.sum().backward()
    grads = [t.grad.data.copy() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    monkeypatch.setattr(conv, "KEEP_SAVED_BYTES", 0)
    recomputed = F.conv2d(x, w, b, padding=1)
    assert recomputed.grad_fn.saved is None
    recomputed.sum().backward()
    for t, want in zip((x, w, b), grads, strict=True):
        np.testing.assert_allclose(t.grad.data, want, rtol=1e-12)


@pytest.mark.parametrize("batch_innermost", [False, True])  # conv2d's output layout
def test_max_pool_gradients_are_the_same_from_kept_or_recomputed_windows(monkeypatch,
                                                                          batch_innermost):
    from nn.functional import conv_ops as conv

    rng = np.random.default_rng(8)
    data = np.maximum(rng.standard_normal((3, 2, 6, 7)), 0)  # ties at 0 in many windows
    if batch_innermost:
        data = np.ascontiguousarray(data.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    upstream = ag.tensor(rng.standard_normal((3, 2, 3, 3)))
    grads = []
    for limit in (conv.KEEP_SAVED_BYTES, 0):
        monkeypatch.setattr(conv, "KEEP_SAVED_BYTES", limit)
        x = ag.tensor(data, requires_grad=True)
        out = F.max_pool2d(x, 2)
        assert (out.grad_fn.saved is None) == (limit == 0)
        (out * upstream).sum().backward()
        grads.append(x.grad.data)
    np.testing.assert_array_equal(grads[0], grads[1])
    windows = grads[0][..., :6].reshape(3, 2, 3, 2, 3, 2)  # the 7th column is not pooled
    assert np.count_nonzero(windows, axis=(3, 5)).max() == 1  # one winner a window
    assert not grads[0][..., 6].any()


def test_a_negative_divisor_override_divides_as_pytorchs():
    x = ag.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    out = F.avg_pool2d(x, 2, divisor_override=-2)
    np.testing.assert_array_equal(out.data, F.avg_pool2d(x, 2, divisor_override=2).data * -1)
