"""Linear, Flatten, Dropout, BatchNorm, LayerNorm, Embedding against numpy formulas."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F


def f64(rng, *shape):
    return ag.tensor(rng.standard_normal(shape), requires_grad=True)


# -- Linear ------------------------------------------------------------------------
def test_linear_matches_numpy_and_pytorch_init():
    ag.manual_seed(0)
    lin = nn.Linear(50, 40)
    assert lin.weight.shape == (40, 50) and lin.bias.shape == (40,)
    assert lin.weight.dtype == np.float32
    bound = 1 / np.sqrt(50)
    for p in (lin.weight.data, lin.bias.data):
        assert p.min() >= -bound and p.max() <= bound
    assert abs(lin.weight.data.std() - bound / np.sqrt(3)) < 0.1 * bound  # U(-b, b)
    x = np.random.default_rng(0).standard_normal((7, 50)).astype(np.float32)
    np.testing.assert_allclose(lin(x).data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-5,
                               atol=1e-6)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_gradients_batched_and_without_bias():
    rng = np.random.default_rng(1)
    x, w, b = f64(rng, 2, 3, 4), f64(rng, 5, 4), f64(rng, 5)
    out = F.linear(x, w, b)
    np.testing.assert_allclose(out.data, x.data @ w.data.T + b.data)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    np.testing.assert_allclose(x.grad.data, g @ w.data)
    np.testing.assert_allclose(w.grad.data, np.einsum("abo,abi->oi", g, x.data))
    np.testing.assert_allclose(b.grad.data, g.sum(axis=(0, 1)))
    assert ag.gradcheck(F.linear, (x, w, b)) and ag.gradgradcheck(F.linear, (x, w, b))
    assert ag.gradcheck(lambda x, w: F.linear(x, w), (f64(rng, 4), w))
    assert ag.gradgradcheck(lambda x, w: F.linear(x, w), (f64(rng, 2, 4), w))


# -- Flatten, Dropout ------------------------------------------------------------------
def test_flatten():
    x = ag.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert F.flatten(x, 2).shape == (2, 3, 20)


def test_dropout_is_inverted_seeded_and_off_in_eval():
    x = ag.ones(200, 500)
    drop = nn.Dropout(0.3)
    ag.manual_seed(3)
    a = drop(x).data
    ag.manual_seed(3)
    np.testing.assert_array_equal(a, drop(x).data)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.01 and abs(a.mean() - 1) < 0.02
    assert a.dtype == np.float32
    drop.eval()
    assert drop(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert not np.any(F.dropout(x, 1.0).data)
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_dropout_gradient_uses_the_same_mask():
    x = ag.ones(10, 10, requires_grad=True)
    y = F.dropout(x, 0.5, True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)


# -- BatchNorm -----------------------------------------------------------------------
def _bn_reference(x, axes, rm, rv, w, b, momentum=0.1, eps=1e-5):
    n = np.prod([x.shape[a] for a in axes])
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    shape = [1] * x.ndim
    shape[1] = -1
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    y = y * w.reshape(shape) + b.reshape(shape)
    rm = (1 - momentum) * rm + momentum * mean
    rv = (1 - momentum) * rv + momentum * var * n / (n - 1)
    return y, rm, rv


@pytest.mark.parametrize("shape,cls,axes", [((8, 3), nn.BatchNorm1d, (0,)),
                                            ((8, 3, 5), nn.BatchNorm1d, (0, 2)),
                                            ((4, 3, 5, 6), nn.BatchNorm2d, (0, 2, 3))])
def test_batch_norm_train_and_eval_follow_pytorch(shape, cls, axes):
    rng = np.random.default_rng(2)
    bn = cls(3).double()
    bn.weight.data[...] = rng.uniform(0.5, 2, 3)
    bn.bias.data[...] = rng.standard_normal(3)
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    for _ in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        y_ref, rm, rv = _bn_reference(x, axes, rm, rv, bn.weight.data, bn.bias.data)
        np.testing.assert_allclose(bn(x).data, y_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var, rv, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 3
    bn.eval()
    x = rng.standard_normal(shape)
    s = [1] * len(shape)
    s[1] = -1
    expect = (x - rm.reshape(s)) / np.sqrt(rv.reshape(s) + 1e-5) * bn.weight.data.reshape(s) \
        + bn.bias.data.reshape(s)
    np.testing.assert_allclose(bn(x).data, expect, rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean, rm)  # eval leaves the statistics alone


def test_batch_norm_defaults_buffers_and_errors():
    bn = nn.BatchNorm2d(4)
    assert bn.eps == 1e-5 and bn.momentum == 0.1
    assert bn.running_mean.dtype == np.float32 and bn.num_batches_tracked.dtype == np.int64
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    with pytest.raises(ValueError):
        bn(ag.randn(2, 4))
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.BatchNorm1d(4)(ag.randn(1, 4))
    cumulative = nn.BatchNorm1d(2, momentum=None).double()
    xs = [np.random.default_rng(i).standard_normal((5, 2)) for i in range(3)]
    for x in xs:
        cumulative(x)
    np.testing.assert_allclose(cumulative.running_mean, np.mean([x.mean(0) for x in xs], 0))
    plain = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert list(plain.state_dict()) == [] and plain.eval()(ag.randn(4, 2)).shape == (4, 2)


def test_batch_norm_gradients():
    rng = np.random.default_rng(4)
    for shape in ((5, 3), (3, 2, 2, 2)):
        x, w, b = f64(rng, *shape), f64(rng, shape[1]), f64(rng, shape[1])

        def fn(x, w, b):
            return F.batch_norm(x, None, None, w, b, training=True)

        assert ag.gradcheck(fn, (x, w, b)) and ag.gradgradcheck(fn, (x, w, b))
    rm, rv = np.zeros(3), np.ones(3) * 2

    def ev(x, w, b):
        return F.batch_norm(x, rm, rv, w, b, training=False)

    x, w, b = f64(rng, 4, 3), f64(rng, 3), f64(rng, 3)
    assert ag.gradcheck(ev, (x, w, b)) and ag.gradgradcheck(ev, (x, w, b))


# -- LayerNorm -----------------------------------------------------------------------
def test_layer_norm_matches_formula_and_gradchecks():
    rng = np.random.default_rng(5)
    ln = nn.LayerNorm((4, 5)).double()
    assert ln.weight.shape == (4, 5) and np.all(ln.weight.data == 1) and ln.eps == 1e-5
    ln.weight.data[...] = rng.standard_normal((4, 5))
    x = rng.standard_normal((3, 4, 5))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    expect = (x - mean) / np.sqrt(var + 1e-5) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln(x).data, expect, rtol=1e-10)
    assert nn.LayerNorm(5)(ag.randn(2, 5)).shape == (2, 5)
    x, w, b = f64(rng, 2, 6), f64(rng, 6), f64(rng, 6)

    def fn(x, w, b):
        return F.layer_norm(x, 6, w, b)

    assert ag.gradcheck(fn, (x, w, b)) and ag.gradgradcheck(fn, (x, w, b))
    with pytest.raises(ValueError):
        F.layer_norm(x, (3,))


# -- Embedding -----------------------------------------------------------------------
def test_embedding_lookup_and_repeated_indices_accumulate():
    ag.manual_seed(0)
    emb = nn.Embedding(1000, 20)
    assert emb.weight.shape == (1000, 20)
    assert abs(emb.weight.data.std() - 1) < 0.03 and abs(emb.weight.data.mean()) < 0.03
    small = nn.Embedding(5, 3)
    idx = np.array([[1, 1], [4, 1]])
    out = small(idx)
    np.testing.assert_array_equal(out.data, small.weight.data[idx])
    out.sum().backward()
    expect = np.zeros((5, 3), np.float32)
    expect[1], expect[4] = 3, 1
    np.testing.assert_array_equal(small.weight.grad.data, expect)
    with pytest.raises(TypeError):
        small(np.array([0.5]))
    w = f64(np.random.default_rng(6), 4, 2)
    assert ag.gradgradcheck(lambda w: F.embedding(np.array([0, 3, 0]), w) ** 2, (w,))


def test_linear_input_gradient_takes_the_input_layout():
    # a flattened conv output is column-major (batch innermost); its gradient follows
    rng = np.random.default_rng(5)
    data, w = rng.standard_normal((6, 4)), ag.tensor(rng.standard_normal((3, 4)))
    upstream = rng.standard_normal((6, 3))
    grads = []
    for layout in (np.ascontiguousarray(data), np.asfortranarray(data)):
        x = ag.tensor(layout, requires_grad=True)
        F.linear(x, w).backward(upstream)
        grads.append(x.grad.data)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-13)
    np.testing.assert_allclose(grads[0], upstream @ w.data, rtol=1e-13)
    assert grads[0].flags.c_contiguous and grads[1].flags.f_contiguous
    x = ag.tensor(np.asfortranarray(data), requires_grad=True)
    (g,) = ag.gradients((F.linear(x, w) ** 2).sum(), [x], create_graph=True)
    (gg,) = ag.gradients(g.sum(), [x])  # second order through the transposed product
    np.testing.assert_allclose(gg.data, 2 * (np.ones((6, 4)) @ w.data.T) @ w.data,
                               rtol=1e-12)


def test_linear_and_conv_shape_errors_name_the_op_and_shapes():
    import autograd_core as ag
    import nn

    with pytest.raises(ValueError, match=r"linear: the input has 5 features .*\(4, 3\)"):
        nn.Linear(3, 4)(ag.ones(2, 5))
    with pytest.raises(ValueError, match=r"conv2d: .*\(2, 1, 8, 8\) and \(4, 3, 3, 3\)"):
        nn.Conv2d(3, 4, 3)(ag.ones(2, 1, 8, 8))


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    ag.manual_seed(0)
    emb = nn.Embedding(5, 3, padding_idx=-1)  # counts from the end, like PyTorch
    assert emb.padding_idx == 4 and "padding_idx=4" in repr(emb)
    np.testing.assert_array_equal(emb.weight.data[4], 0)
    emb.weight.data[4] = 7.0  # a user's value is looked up, still without gradient
    out = emb(np.array([[4, 1, 1], [0, 4, 2]]))
    np.testing.assert_array_equal(out.data[0, 0], [7.0, 7.0, 7.0])
    (out * np.arange(1.0, 4.0)).sum().backward()
    g = emb.weight.grad.data
    np.testing.assert_array_equal(g[4], 0)
    np.testing.assert_array_equal(g[1], 2 * np.arange(1.0, 4.0))  # used twice: summed
    np.testing.assert_array_equal(g[3], 0)


def test_embedding_padding_gradient_to_second_order():
    # As if the padded lookups were constants: the same first and second derivatives
    # as the sum over the rows that are not padding (gradcheck would see row 2 move).
    rng = np.random.default_rng(1)
    w = ag.tensor(rng.standard_normal((4, 2)))
    idx = np.array([0, 2, 2, 3])
    padded = lambda w: (F.embedding(idx, w, padding_idx=2) ** 3).sum()
    unpadded = lambda w: (F.embedding(idx[[0, 3]], w) ** 3).sum()
    np.testing.assert_allclose(ag.grad(padded)(w).data, ag.grad(unpadded)(w).data)
    np.testing.assert_allclose(ag.hessian(padded)(w).data, ag.hessian(unpadded)(w).data)
    assert not ag.grad(padded)(w).data[2].any()


def test_embedding_max_norm_rescales_the_used_rows_in_place():
    w = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0], [1.0, 0.0]])
    emb = nn.Embedding(4, 2, max_norm=1.0).double()
    emb.weight.data[...] = w
    out = emb(np.array([0, 1, 0]))
    assert "max_norm=1.0" in repr(emb)
    scale = 1.0 / (5.0 + 1e-7)  # PyTorch's max_norm / (norm + 1e-7)
    np.testing.assert_allclose(emb.weight.data[0], w[0] * scale, rtol=1e-15)
    np.testing.assert_array_equal(emb.weight.data[1:], w[1:])  # small, or not used
    np.testing.assert_allclose(out.data, emb.weight.data[[0, 1, 0]], rtol=1e-15)
    F.embedding(np.array([2]), emb.weight, max_norm=7.0, norm_type=1.0)  # |6| + |8| = 14
    np.testing.assert_allclose(emb.weight.data[2], w[2] * 7.0 / (14.0 + 1e-7), rtol=1e-15)


def test_embedding_unsupported_options_say_so():
    with pytest.raises(NotImplementedError, match="Embedding: sparse=True is not supported"):
        nn.Embedding(5, 3, sparse=True)
    with pytest.raises(NotImplementedError, match="scale_grad_by_freq=True is not supported"):
        F.embedding(np.array([0]), np.zeros((5, 2)), scale_grad_by_freq=True)


def test_embedding_options_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    idx = np.array([[1, 2, 2], [4, 1, 1]])
    for kw in (dict(max_norm=1.0), dict(max_norm=2.0, norm_type=1.0),
               dict(max_norm=1.5, padding_idx=2)):
        w = rng.standard_normal((6, 3))
        ours, theirs = nn.Embedding(6, 3, **kw).double(), torch.nn.Embedding(6, 3, **kw).double()
        ours.weight.data[...] = w
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(w))
        out, tout = ours(idx), theirs(torch.from_numpy(idx))
        g = rng.standard_normal(out.shape)
        (out * g).sum().backward()
        (tout * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-14)
        np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-14)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(),
                                   rtol=1e-14)


def test_embedding_padding_idx_out_of_range():
    with pytest.raises(ValueError, match="padding_idx 5 is out of range for 5"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="padding_idx -6"):
        F.embedding(np.array([0]), np.zeros((5, 2)), padding_idx=-6)
