"""Linear, Flatten, Dropout, BatchNorm, LayerNorm, Embedding against numpy formulas;
and every kind of nn.functional call taking lists as float32 arrays."""

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


def test_flatten_negative_axes_and_gradient():
    x = ag.tensor(np.arange(120.0).reshape(2, 3, 4, 5), requires_grad=True)
    out = nn.Flatten(-3, -2)(x)
    assert out.shape == (2, 12, 5)
    np.testing.assert_array_equal(out.data, x.data.reshape(2, 12, 5))
    assert nn.Flatten(-4, 0)(x).shape == (2, 3, 4, 5)  # one axis: nothing merged
    assert F.flatten(x, -1, -1).shape == (2, 3, 4, 5)
    g = np.random.default_rng(0).standard_normal((2, 12, 5))
    out.backward(g)
    np.testing.assert_array_equal(x.grad.data, g.reshape(2, 3, 4, 5))


def test_flatten_axis_out_of_range_raises_index_error():
    x = ag.ones(2, 3, 4, 5)
    with pytest.raises(IndexError, match=r"flatten: axis 4 is out of range for an input of "
                                         r"shape \(2, 3, 4, 5\)"):
        nn.Flatten(4)(x)
    with pytest.raises(IndexError, match=r"flatten: axis 7 .*\(2, 3, 4, 5\)"):
        nn.Flatten(1, 7)(x)
    with pytest.raises(IndexError, match=r"flatten: axis -5 .*\(2, 3, 4, 5\)"):
        F.flatten(x, -5)
    with pytest.raises(IndexError, match=r"flatten: axis 1 .*shape \(3,\)"):
        nn.Flatten()(ag.ones(3))  # the default start_axis=1 needs two axes


def test_flatten_start_after_end_raises_value_error():
    x = ag.ones(2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"flatten: start_axis 2 comes after end_axis 1 .*"
                                         r"\(2, 3, 4, 5\)"):
        nn.Flatten(2, 1)(x)
    with pytest.raises(ValueError, match=r"start_axis -1 \(axis 3\) comes after end_axis 0"):
        nn.Flatten(-1, 0)(x)  # compared after making the axes non-negative


def test_flatten_zero_d_input_as_pytorch():
    # torch.flatten of a 0-d tensor gives shape (1,); its valid axes are [-1, 0]
    s = ag.tensor(2.5, requires_grad=True)
    for axes in ((0,), (-1,), (0, -1), (-1, 0)):
        out = F.flatten(s, *axes)
        assert out.shape == (1,) and out.data[0] == 2.5
    out.sum().backward()
    assert s.grad.shape == () and s.grad.item() == 1.0
    with pytest.raises(IndexError, match=r"flatten: axis 1 .*shape \(\)"):
        nn.Flatten()(s)
    with pytest.raises(IndexError, match=r"flatten: axis -2 .*shape \(\)"):
        F.flatten(s, -2)


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


def test_dropout_and_batch_norm_of_integers_scale_in_float32():
    ones = np.ones((50, 40), np.int64)
    ag.manual_seed(1)
    a = F.dropout(ones, 0.3)
    assert a.dtype == np.float32 and set(np.unique(a.data)) == {0.0, np.float32(1 / 0.7)}
    assert F.dropout(ones, 1.0).dtype == np.float32 and not F.dropout(ones, 1.0).data.any()
    y = F.batch_norm(np.array([[1, 2], [3, 4]]), np.zeros(2), np.full(2, 4.0))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [[1, 2], [3, 4]] / np.sqrt(4 + 1e-5), rtol=1e-6)


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


def test_embedding_max_norm_of_a_list_weight_rescales_a_float32_copy():
    w = [[3.0, 4.0], [0.3, 0.4]]
    out = F.embedding(np.array([1, 0]), w, max_norm=1.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, [[0.3, 0.4], [0.6, 0.8]], rtol=1e-6)
    assert w == [[3.0, 4.0], [0.3, 0.4]]  # the caller's list is left as it was


def test_embedding_unsupported_options_say_so():
    with pytest.raises(NotImplementedError, match="Embedding: sparse=True is not supported"):
        nn.Embedding(5, 3, sparse=True)


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


def test_ag_flatten_checks_its_axes_as_f_flatten():
    x = ag.ones(2, 3, 4, 5)
    with pytest.raises(IndexError, match=r"flatten: axis 4 is out of range .*\(2, 3, 4, 5\)"):
        ag.flatten(x, 4)
    with pytest.raises(IndexError, match=r"flatten: axis 7 "):
        ag.flatten(x, 0, 7)
    with pytest.raises(IndexError, match=r"flatten: axis -5 "):
        ag.flatten(x, -5)
    with pytest.raises(ValueError, match=r"flatten: start_axis 2 comes after end_axis 1"):
        ag.flatten(x, 2, 1)
    assert ag.flatten(x).shape == (120,) and ag.flatten(x, -2).shape == (2, 3, 20)
    assert ag.flatten(x, 1).shape == F.flatten(x).shape == (2, 60)
    assert ag.flatten(ag.tensor(2.5)).shape == (1,)
    listed = ag.flatten([[1.0, 2.0], [3.0, 4.0]])
    assert listed.dtype == np.float32 and listed.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert ag.flatten(np.zeros((2, 2))).dtype == np.float64


# -- lists in: float32, as ag.tensor reads them ---------------------------------------
def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _list_cases():
    rng = np.random.default_rng(11)
    x, img, w3 = _f32(rng, 2, 3), _f32(rng, 1, 2, 4, 4), np.array([1, 2, 3], np.float32)
    p = rng.uniform(0.1, 0.9, (2, 3)).astype(np.float32)  # probabilities
    y = rng.uniform(0, 1, (2, 3)).astype(np.float32)
    dist = y / y.sum(axis=1, keepdims=True)  # class probability targets
    t = np.array([0, 2])
    zeros, ones = np.zeros(3, np.float32), np.ones(3, np.float32)
    return {  # name -> (function of the arrays, the arrays, in float32 or integers)
        "prelu": (F.prelu, x, np.full(3, 0.25, np.float32)),
        "rrelu(training)": (lambda x: F.rrelu(x, training=True), x),
        "softmax": (F.softmax, x),
        "log_softmax": (F.log_softmax, x),
        "linear": (F.linear, x, _f32(rng, 4, 3), _f32(rng, 4)),
        "dropout": (F.dropout, x),
        "dropout(p=1)": (lambda x: F.dropout(x, 1.0), x),
        "dropout(p=0)": (lambda x: F.dropout(x, 0.0), x),
        "dropout(eval)": (lambda x: F.dropout(x, training=False), x),
        "batch_norm(train)": (lambda x: F.batch_norm(x, zeros.copy(), ones.copy(),
                                                     training=True), x),
        "batch_norm(eval)": (lambda x, w, b: F.batch_norm(x, zeros, ones + 1, w, b), x, w3, y[0]),
        "layer_norm": (lambda x, w: F.layer_norm(x, 3, w), x, w3),
        "embedding(max_norm)": (lambda w: F.embedding(np.array([0, 4]), w, max_norm=0.5),
                                _f32(rng, 5, 3)),
        "flatten": (F.flatten, img),
        "conv2d": (F.conv2d, img, _f32(rng, 3, 2, 3, 3), _f32(rng, 3)),
        "conv_transpose2d": (F.conv_transpose2d, img, _f32(rng, 2, 3, 3, 3)),
        "max_pool2d(return_indices)": (lambda x: F.max_pool2d(x, 2, padding=1,
                                                              return_indices=True), img),
        "max_unpool2d(repeated indices)": (
            lambda x, i: F.max_unpool2d(x, i, 2, stride=1, output_size=(3, 3)),
            np.ones((1, 1, 2, 2), np.float32), np.zeros((1, 1, 2, 2), np.int64)),
        "avg_pool2d(padding)": (lambda x: F.avg_pool2d(x, 2, padding=1), img),
        "mse_loss": (F.mse_loss, x, y),
        "l1_loss": (F.l1_loss, x, y),
        "huber_loss": (F.huber_loss, x, y),
        "smooth_l1_loss": (lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), x, y),
        "binary_cross_entropy(weight)": (F.binary_cross_entropy, p, y, w3),
        "bce_with_logits(pos_weight)": (
            lambda x, y, w: F.binary_cross_entropy_with_logits(x, y, w, pos_weight=w), x, y, w3),
        "cross_entropy": (lambda x, w: F.cross_entropy(x, t, w, label_smoothing=0.1), x, w3),
        "cross_entropy(probabilities)": (F.cross_entropy, x, dist, w3),
        "nll_loss(ignore_index)": (lambda x, w: F.nll_loss(x, t, w, ignore_index=2), x, w3),
        "BCELoss": (lambda p, y, w: nn.BCELoss(w)(p, y), p, y, w3),
        "BCEWithLogitsLoss": (lambda x, y, w: nn.BCEWithLogitsLoss(pos_weight=w)(x, y), x, y, w3),
        "CrossEntropyLoss(probabilities)": (lambda x, d, w: nn.CrossEntropyLoss(w)(x, d),
                                            x, dist, w3),
        "NLLLoss": (lambda x, w: nn.NLLLoss(w)(x, t), x, w3),
    }


LIST_CASES = _list_cases()


@pytest.mark.parametrize("name", LIST_CASES)
def test_lists_are_read_as_float32_arrays(name):
    # the contract's default float: a list of floats is float32, as in ag.tensor, in
    # every function (each output, and any random draw, equal to the arrays' own)
    fn, *arrays = LIST_CASES[name]
    lists = [a.tolist() for a in arrays]
    ag.manual_seed(0)
    want = fn(*(a.copy() for a in arrays))  # copies: max_norm rescales its weight in place
    ag.manual_seed(0)
    got = fn(*lists)
    pairs = zip(got, want, strict=True) if isinstance(want, tuple) else [(got, want)]
    for g, w in pairs:
        assert isinstance(g, ag.Tensor) and g.dtype == w.dtype, (type(g), w.dtype)
        assert w.dtype in (np.float32, np.int64)
        np.testing.assert_array_equal(g.data, w.data)


def test_max_pool2d_indices_of_a_list_point_at_its_maximum():
    # the list is read once as float32: its maxima compare equal to the float32 pool's
    out, indices = F.max_pool2d([[[[0.1, 0.7], [0.3, 0.2]]]], 2, return_indices=True)
    assert out.dtype == np.float32 and out.item() == np.float32(0.7)
    assert indices.tolist() == [[[[1]]]]
    x = [[[[0.1, 0.3, 0.7], [0.2, 0.6, 0.1]]]]  # padded, overlapping windows too
    out, indices = F.max_pool2d(x, 2, stride=1, padding=1, return_indices=True)
    picked = np.take_along_axis(np.float32(x).reshape(1, 1, -1),
                                indices.data.reshape(1, 1, -1), axis=2)
    np.testing.assert_array_equal(picked, out.data.reshape(1, 1, -1))


# -- sizes checked at construction ------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: nn.Linear(-1, 3), "Linear: in_features must be a non-negative integer, got -1"),
    (lambda: nn.Linear(2, 2.5), "Linear: out_features must be a non-negative integer"),
    (lambda: nn.BatchNorm1d(-2), "BatchNorm1d: num_features must be a non-negative"),
    (lambda: nn.LayerNorm(-3), "LayerNorm: normalized_shape must be a non-negative"),
    (lambda: nn.LayerNorm((4, -1)), "LayerNorm: normalized_shape must be a non-negative"),
    (lambda: nn.Embedding(5, -1), "Embedding: embedding_dim must be a non-negative"),
    (lambda: nn.Conv2d(1, 1, -1), "Conv2d: kernel_size must be an int or a pair of ints"),
    (lambda: nn.Conv2d(1, 1, 0), "Conv2d: kernel_size must be an int or a pair of ints"),
    (lambda: nn.Conv2d(1, 1, (3, 3, 3)), r"Conv2d: kernel_size must be an int or a pair of "
                                         r"ints, got \(3, 3, 3\)"),
    (lambda: nn.Conv2d(1, 1, 3, stride=0), "Conv2d: stride must be"),
    (lambda: nn.Conv2d(1, 1, 3, groups=0), "Conv2d: groups must be a positive integer"),
    (lambda: nn.Conv2d(1, 1, 3, padding="full"), "Conv2d: padding must be 'same', 'valid'"),
    (lambda: nn.Conv2d(1, 1, 3, stride=2, padding="same"), "padding='same' needs stride 1"),
    (lambda: nn.ConvTranspose2d(1, 1, 3, padding="same"), "ConvTranspose2d: padding must be"),
    (lambda: nn.MaxPool2d((2, 2, 2)), r"MaxPool2d: kernel_size must be an int or a pair of "
                                      r"ints, got \(2, 2, 2\)"),
    (lambda: nn.AvgPool2d(2, stride=-1), "AvgPool2d: stride must be"),
])
def test_bad_sizes_are_named_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_zero_size_layers_are_allowed_like_pytorch():
    with pytest.warns(UserWarning, match="zero-element"):
        lin = nn.Linear(0, 3)
    np.testing.assert_array_equal(lin(np.ones((2, 0), np.float32)).data.shape, (2, 3))
    with pytest.warns(UserWarning, match="zero-element"):
        conv = nn.Conv2d(0, 1, 3)
    assert conv.weight.shape == (1, 0, 3, 3)


def test_conv_padding_same_and_valid():
    same = nn.Conv2d(1, 2, 3, padding="same", dilation=2)
    assert same.padding == (2, 2)
    assert same(np.ones((1, 1, 7, 6), np.float32)).shape == (1, 2, 7, 6)
    assert nn.Conv2d(1, 2, 3, padding="valid").padding == (0, 0)


def test_conv_padding_same_with_an_even_span_puts_the_odd_pixel_bottom_right():
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(1, 2, (2, 4), padding="same")
    x = ag.tensor(rng.normal(size=(1, 1, 5, 6)), requires_grad=True)
    y = conv(x)
    assert y.shape == (1, 2, 5, 6)
    # spans 1 and 3: PyTorch pads 0 rows above and 1 below, 1 column left and 2 right
    padded = np.pad(x.data, ((0, 0), (0, 0), (0, 1), (1, 2)))
    np.testing.assert_allclose(y.data, F.conv2d(padded, conv.weight, conv.bias).data,
                               rtol=1e-6)
    np.testing.assert_array_equal(
        y.data, F.conv2d(x, conv.weight, conv.bias, padding="same").data)
    (y * ag.tensor(rng.normal(size=y.shape))).sum().backward()
    assert x.grad.shape == x.shape and conv.weight.grad.shape == conv.weight.shape
    with pytest.raises(ValueError, match=r"^conv2d: padding='same' needs stride 1"):
        F.conv2d(x, conv.weight, stride=2, padding="same")


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # torch's own
def test_conv_padding_same_matches_pytorch_for_even_kernels():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(2, 3, 6, 7)), rng.normal(size=(4, 3, 2, 4)), rng.normal(size=4)
    for dilation in (1, 2):
        want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                          padding="same", dilation=dilation).numpy()
        got = F.conv2d(x, w, b, padding="same", dilation=dilation).data
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# -- wrongly typed arguments ----------------------------------------------------------


def test_dropout_with_a_string_p_is_a_type_error():
    with pytest.raises(TypeError, match=r"Dropout: p must be a number in \[0, 1\], got '0.5'"):
        nn.Dropout("0.5")


@pytest.mark.parametrize("make, message", [
    (lambda: nn.LeakyReLU("a"), r"LeakyReLU: negative_slope must be a number, got 'a'"),
    (lambda: nn.ELU("a"), r"ELU: alpha must be a number, got 'a'"),
    (lambda: nn.CELU(None), r"CELU: alpha must be a number, got None"),
    (lambda: nn.Softplus(beta="a"), r"Softplus: beta must be a number, got 'a'"),
    (lambda: nn.Softplus(threshold="a"), r"Softplus: threshold must be a number, got 'a'"),
    (lambda: nn.Hardtanh("a"), r"Hardtanh: min_val must be a number, got 'a'"),
    (lambda: nn.Hardtanh(max_val="a"), r"Hardtanh: max_val must be a number, got 'a'"),
    (lambda: nn.RReLU("a"), r"RReLU: lower must be a number, got 'a'"),
    (lambda: nn.RReLU(upper="a"), r"RReLU: upper must be a number, got 'a'"),
    (lambda: nn.PReLU(init="a"), r"PReLU: init must be a number, got 'a'"),
])
def test_activation_with_a_non_numeric_parameter_is_a_type_error_at_construction(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_activation_parameters_pytorch_accepts_still_work():
    x = ag.tensor(np.array([-1.0, 2.0], np.float32))
    nn.ELU(-0.5)(x)
    nn.LeakyReLU(np.float32(0.2))(x)
    nn.Softplus(beta=2, threshold=10)(x)
    nn.Hardtanh(-2, 2)(x)
