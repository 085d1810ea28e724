"""The backward engine: graph shapes, accumulation, retention, hooks, grad mode."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import autograd_core as ag


def test_diamond_sums_every_path():
    x = ag.tensor(3.0, requires_grad=True)
    y = x * 2
    z = y * y + y + ag.sin(y)  # y used three times
    z.backward()
    expected = 2 * (2 * 6.0) + 2 + 2 * np.cos(6.0)
    assert x.grad.item() == pytest.approx(expected, rel=1e-6)


def test_leaf_gradients_accumulate_across_calls():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])


def test_second_backward_through_freed_graph_raises():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])  # nothing added by the failed call


def test_retain_graph_allows_a_second_backward():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])


def test_graph_buffers_are_freed_after_backward():
    x = ag.tensor(np.ones(3), requires_grad=True)
    y = ag.exp(x * 2)
    loss = y.sum()
    loss.backward()
    assert y.grad_fn.args is None and y.grad_fn.ans is None


def test_non_scalar_backward_needs_gradient():
    x = ag.tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))


def test_gradient_of_wrong_shape_is_refused():
    x = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        (x * 2).backward(np.ones(2))


def test_hooks_see_and_replace_gradients():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    y = x * 2
    y.register_hook(lambda g: seen.append(g.data.copy()))
    x.register_hook(lambda g: g * 10)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.data, [60.0, 60.0])


def test_hook_can_be_removed():
    x = ag.tensor([1.0], requires_grad=True)
    remove = x.register_hook(lambda g: g * 0)
    remove()
    (x * 2).sum().backward()
    assert x.grad.item() == 2.0
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    (x * 2).sum().backward()
    assert x.grad.item() == 4.0


def test_retain_grad_on_intermediate():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    (y * 3).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [3.0, 3.0])
    assert not np.shares_memory(y.grad.data, x.grad.data)


def test_chain_of_100000_ops_needs_no_recursion():
    x = ag.tensor(np.ones(4), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones(4))


def test_no_grad_records_nothing_and_is_thread_local():
    x = ag.tensor([1.0], requires_grad=True)
    with ag.no_grad():
        y = x * 2
        inner = {}
        t = threading.Thread(target=lambda: inner.update(
            enabled=ag.is_grad_enabled(), rg=(x * 2).requires_grad))
        t.start()
        t.join()
        with ag.enable_grad():
            z = x * 2
    assert y.grad_fn is None and not y.requires_grad
    assert z.requires_grad
    assert inner == {"enabled": True, "rg": True}
    assert ag.is_grad_enabled()


def test_no_grad_as_decorator():
    x = ag.tensor([1.0], requires_grad=True)

    @ag.no_grad()
    def f(t):
        return t * 2

    @ag.no_grad
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert ag.is_grad_enabled()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        ag.tensor([1, 2, 3], requires_grad=True)
    t = ag.tensor([True, False])
    with pytest.raises(TypeError):
        t.requires_grad_()


def test_shape_mismatch_names_op_and_shapes():
    a = ag.ones(2, 3, requires_grad=True)
    b = ag.ones(4)
    with pytest.raises(ValueError) as err:
        a + b
    assert "add" in str(err.value) and "(2, 3)" in str(err.value) and "(4,)" in str(err.value)
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(2, 3\)"):
        a @ a


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="axes"):
        ag.sum(ag.ones(3), axes=0)


def test_dtypes_default_float32_and_float64_stays():
    assert ag.tensor([1.0, 2.0]).dtype == np.float32
    assert ag.tensor(1.5).dtype == np.float32
    assert ag.tensor(np.ones(2)).dtype == np.float64
    assert ag.tensor([1, 2]).dtype.kind == "i"
    x = ag.tensor(np.ones(3, np.float32), requires_grad=True)
    (x * np.float64(2.0)).sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_operands_broadcast_like_numpy():
    x = ag.tensor(np.ones((2, 3)), requires_grad=True)
    y = np.arange(3.0) * x + 1.0 - x / 2.0
    assert isinstance(y, ag.Tensor)
    (2.0 ** y).sum().backward()
    assert x.grad.shape == (2, 3)
    np.testing.assert_allclose(np.asarray(y), np.broadcast_to(np.arange(3.0) + 0.5, (2, 3)))


def test_numpy_interop_and_conversions():
    a = np.arange(4.0)
    t = ag.as_tensor(a)
    assert np.shares_memory(np.asarray(t), a)
    c = ag.tensor(a)
    assert not np.shares_memory(c.data, a)
    assert ag.tensor([[2.0]]).item() == 2.0 and isinstance(ag.tensor(2.0).item(), float)
    assert ag.tensor([1.0, 2.0]).tolist() == [1.0, 2.0]
    assert len(ag.zeros(5, 2)) == 5 and ag.zeros(5, 2).T.shape == (2, 5)
    t.data = np.zeros(2, np.float64)
    assert t.shape == (2,) and t.dtype == np.float64


def test_indexing_accumulates_repeated_indices_and_masks():
    x = ag.tensor(np.arange(5.0), requires_grad=True)
    idx = np.array([0, 0, 3, 0])
    (x[idx].sum() + x[x > 2.5].sum() + x[None, 1:3].sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 1.0, 1.0, 2.0, 1.0])


def test_max_and_maximum_split_ties():
    x = ag.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 0.5])
    a = ag.tensor([2.0], requires_grad=True)
    b = ag.tensor([2.0], requires_grad=True)
    ag.maximum(a, b).sum().backward()
    assert a.grad.item() == 0.5 and b.grad.item() == 0.5


def test_kink_subgradients():
    x = ag.tensor([0.0, -1.0, 2.0], requires_grad=True)
    ag.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, -1.0, 1.0])
    y = ag.tensor([-0.5, 0.0, 1.0, 2.0], requires_grad=True)
    ag.clip(y, -0.5, 1.0).sum().backward()  # closed interval: the ends pass gradient
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0, 1.0, 0.0])
    z = ag.tensor([0.0, 3.0], requires_grad=True)
    ag.norm(z * 0).backward()  # norm'(0) = 0, not NaN
    np.testing.assert_array_equal(z.grad.data, [0.0, 0.0])


def test_sigmoid_and_logsumexp_stay_finite_at_extremes():
    x = ag.tensor([-1e4, 0.0, 1e4], dtype=np.float64, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = ag.sigmoid(x)
        s.sum().backward()
        lse = ag.logsumexp(x)
    np.testing.assert_array_equal(s.data, [0.0, 0.5, 1.0])
    assert lse.item() == 1e4


def test_underflow_is_no_error_under_strict_numpy():
    # exp(-1e4) = 0 is the exact answer: under np.seterr(under="raise") the ops that
    # underflow by design run again with underflow ignored, forward and backward
    x = ag.tensor([-1e4, 0.0, 1e4], dtype=np.float64, requires_grad=True)
    with np.errstate(all="raise"):
        (g,) = ag.gradients(ag.sigmoid(x).sum(), x, create_graph=True)
        g.sum().backward()
        lse = ag.logsumexp(x * -1.0)
    np.testing.assert_array_equal(g.data, [0.0, 0.25, 0.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])  # sigmoid'' = 0 at 0
    assert lse.item() == 1e4
    with np.errstate(all="raise"), pytest.raises(RuntimeError, match="exp: overflow"):
        ag.exp(ag.tensor([1e4]))  # the other errors still raise, naming the op


def test_python_numbers_lists_and_integers_compute_in_float32():
    ints = ag.tensor([1, 2])
    for out in (ag.exp(2.0), ag.exp([1.0, 2.0]), ag.exp(np.arange(3)), ints / 2, ints * 2.5,
                ag.where(ints > 1, 1.0, 0.0), ag.tensor([1.0, 2.0]) + [1.0, 2.0],
                ag.sigmoid([1.0, -2.0])):
        assert out.dtype == np.float32, out
    assert (ints + 1).dtype == ints.dtype  # integers stay integers
    f64 = np.array([1.0, 2.0])  # float64 only where it is asked for
    big_endian = f64.astype(">f8")
    for out in (ag.exp(f64), ag.tensor([1.0, 2.0]) * f64, ag.tensor([1.0]).astype(np.float64),
                ag.tensor(np.float64(1.5)), ag.exp(big_endian), ag.as_tensor(big_endian).exp()):
        assert out.dtype == np.float64, out


def test_numpy_scalars_beside_a_tensor_promote_like_python_numbers():
    # PyTorch's wrapped numbers: np.float64(2) is a Python float, not a float64 array
    f32, ints, f16 = ag.ones(2), ag.tensor([1, 2]), ag.ones(2, dtype=np.float16)
    two = np.float64(2.0)
    for out in (f32 * two, two * f32, f32 + two, f32 ** two, ag.where(f32 > 0, f32, two),
                ag.maximum(f32, two), ints * two, ints / np.float32(2.0)):
        assert out.dtype == np.float32, out
    assert (f16 * two).dtype == np.float16
    assert (f32.double() * two).dtype == np.float64
    assert ag.exp(two).dtype == np.float64  # alone, it is a float64 input
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    (x * two).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("compare", [lambda a, b: a < b, lambda a, b: a == b,
                                     lambda a, b: b >= a, lambda a, b: a != b.data])
def test_comparisons_of_mismatched_shapes_name_the_op_and_shapes(compare):
    a, b = ag.zeros(2, 3), ag.zeros(4, 5)
    with pytest.raises(ValueError, match=r"(less|equal|greater).*\(2, 3\).*\(4, 5\)|"
                                         r"(less|equal|greater).*\(4, 5\).*\(2, 3\)"):
        compare(a, b)


def test_full_takes_its_value_as_api_md_names_it_and_as_numpy_does():
    for t in (ag.full((2,), 3.0), ag.full((2,), v=3.0), ag.full((2,), fill_value=3.0)):
        assert t.tolist() == [3.0, 3.0] and t.dtype == np.float32
    with pytest.raises(TypeError, match="give the fill value once"):
        ag.full((2,), 1.0, fill_value=2.0)


def test_casting_to_integers_or_bools_leaves_the_graph():
    x = ag.tensor([1.5, -2.0], requires_grad=True)
    for dtype in (np.int64, np.int32, bool):
        assert not x.astype(dtype).requires_grad  # integer and bool tensors never do
    (x.astype(np.int64) * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, -2.0])  # nothing through the cast


def test_the_numpy_named_methods_agree_with_numpy():
    a = np.arange(1.0, 7.0).reshape(2, 3)
    t = ag.tensor(a)
    calls = {"sum": (), "mean": (), "prod": (), "max": (), "min": (), "var": (), "std": (),
             "argmax": (), "argmin": (), "reshape": (3, 2), "transpose": (1, 0),
             "swapaxes": (0, 1), "flatten": (), "ravel": (), "squeeze": (),
             "clip": (2.0, 5.0), "dot": (np.ones(3),), "repeat": (2,), "exp": (),
             "log": (), "sqrt": (), "tanh": ()}
    for name, args in calls.items():
        got = getattr(t, name)(*args)
        want = getattr(a, name)(*args) if hasattr(a, name) else getattr(np, name)(a, *args)
        np.testing.assert_allclose(got.data, want, rtol=1e-6, err_msg=name)


def test_split_pad_flip_tile_and_friends():
    x = ag.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    parts = ag.split(x, [1], axis=0)
    assert [p.shape for p in parts] == [(1, 2), (2, 2)]
    y = ag.concatenate([ag.flip(parts[1], 0), ag.pad(parts[0], ((0, 1), (1, 0)))[:, :2]])
    y = ag.stack([y, ag.tile(parts[0], (4, 1))]).sum()
    y.backward()
    assert x.grad.shape == (3, 2)
    assert ag.tensor(np.ones((2, 3, 4))).transpose(2, 0, 1).shape == (4, 2, 3)
    assert ag.tensor(np.ones((2, 3))).reshape(3, -1).shape == (3, 2)


def test_setitem_refuses_tensors_that_require_grad():
    x = ag.zeros(3)
    x[1] = 5.0
    assert x.tolist() == [0.0, 5.0, 0.0]
    with pytest.raises(RuntimeError, match="in-place"):
        ag.zeros(3, requires_grad=True)[0] = 1.0


def test_repr_is_readable():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert "grad_fn=<multiply>" in repr(x * 2)
    assert (x * 2).grad_fn.name == "multiply"


def test_prod_gradient_at_zeros():
    x = ag.tensor([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]], dtype=np.float64,
                  requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.prod(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 6, 0], [0, 0, 0], [8, 4, 2]])


# -- gradients the engine owns: relu overwrites its g only when no one else sees it --
def _two_layers(seed=0):
    from nn import functional as F

    rng = np.random.default_rng(seed)
    x = ag.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    w1, w2 = (ag.tensor(rng.standard_normal(s), requires_grad=True) for s in [(3, 4), (2, 3)])
    r = F.relu(F.linear(x, w1))
    return x, w1, w2, r, F.linear(r, w2).sum()


def _by_hand(x, w1, w2):
    """d sum(relu(x w1^T) w2^T) by hand: g_r = 1 w2, then the relu mask, then w1."""
    h = x.data @ w1.data.T
    g_r = np.ones((len(h), 2)) @ w2.data
    g_h = g_r * (h > 0)
    return g_r, g_h @ w1.data, g_h.T @ x.data


def test_owned_gradients_give_the_hand_derived_values():
    x, w1, w2, r, loss = _two_layers()
    loss.backward()
    g_r, g_x, g_w1 = _by_hand(x, w1, w2)
    np.testing.assert_allclose(x.grad.data, g_x, rtol=1e-12)
    np.testing.assert_allclose(w1.grad.data, g_w1, rtol=1e-12)


def test_a_hook_keeps_the_gradient_it_was_shown():
    x, w1, w2, r, loss = _two_layers()
    seen = []
    r.register_hook(seen.append)
    loss.backward()
    g_r, g_x, _ = _by_hand(x, w1, w2)
    np.testing.assert_allclose(seen[0].data, g_r, rtol=1e-12)  # not masked by relu's rule
    np.testing.assert_allclose(x.grad.data, g_x, rtol=1e-12)


def test_gradients_asked_for_are_not_overwritten():
    x, w1, w2, r, loss = _two_layers()
    g_r_got, g_x_got = ag.gradients(loss, [r, x])
    g_r, g_x, _ = _by_hand(x, w1, w2)
    np.testing.assert_allclose(g_r_got.data, g_r, rtol=1e-12)
    np.testing.assert_allclose(g_x_got.data, g_x, rtol=1e-12)


def test_retained_gradient_is_not_overwritten():
    x, w1, w2, r, loss = _two_layers()
    r.retain_grad()
    loss.backward()
    np.testing.assert_allclose(r.grad.data, _by_hand(x, w1, w2)[0], rtol=1e-12)


def test_a_caller_gradient_is_never_overwritten():
    from nn import functional as F

    x = ag.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    seed = np.array([5.0, 6.0, 7.0])
    F.relu(x).backward(seed)
    np.testing.assert_array_equal(seed, [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 6.0, 7.0])


def test_relu_after_relu_of_a_scalar():
    from nn import functional as F

    # the outer rule returns a 0-d numpy scalar, immutable: the in-place rule copes
    x = ag.tensor(2.0, requires_grad=True)
    F.relu(F.relu(x) * 1.0).backward()
    assert x.grad.item() == 1.0
    y = ag.tensor(2.0, requires_grad=True)
    F.relu(F.relu(y)).backward()
    assert y.grad.item() == 1.0


def test_a_gradient_shared_by_two_inputs_is_not_overwritten():
    from nn import functional as F

    # add hands the same g to both inputs; relu must not mask the other's copy
    x = ag.tensor([-1.0, 2.0, -3.0], requires_grad=True)
    y = ag.tensor([1.0, 1.0, 1.0], requires_grad=True)
    ((F.relu(x) + y * 1.0) * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(y.grad.data, [2.0, 2.0, 2.0])


def test_a_leaf_takes_a_fresh_gradient_as_its_own_and_accumulates_into_it():
    x, w1, w2, r, loss = _two_layers()
    loss.backward(retain_graph=True)
    g = w1.grad.data
    assert g.base is None and g.flags.writeable and g.flags.owndata
    loss.backward()
    np.testing.assert_allclose(w1.grad.data, 2 * _by_hand(x, w1, w2)[2], rtol=1e-12)


def test_a_leaf_hook_keeps_the_gradient_it_was_shown():
    x, w1, w2, r, loss = _two_layers()
    seen = []
    w1.register_hook(lambda g: seen.append(g.data.copy() if seen else g.data))
    loss.backward(retain_graph=True)
    loss.backward()  # accumulates into w1.grad, which must not be the array the hook kept
    g_w1 = _by_hand(x, w1, w2)[2]
    np.testing.assert_allclose(seen[0], g_w1, rtol=1e-12)
    np.testing.assert_allclose(w1.grad.data, 2 * g_w1, rtol=1e-12)


def test_saved_forward_results_serve_a_retained_graph_twice_and_are_freed_after():
    import nn.functional as F

    rng = np.random.default_rng(3)
    logits = ag.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([0, 2, 1, 2]))
    assert loss.grad_fn.saved is not None  # the exponentials and their row sums
    loss.backward(retain_graph=True)
    first = logits.grad.data.copy()
    assert loss.grad_fn.saved is not None
    loss.backward()
    np.testing.assert_array_equal(logits.grad.data, 2 * first)
    assert loss.grad_fn.saved is None  # freed with the rest of the graph
    p = np.exp(logits.data) / np.exp(logits.data).sum(axis=1, keepdims=True)
    p[np.arange(4), [0, 2, 1, 2]] -= 1
    np.testing.assert_allclose(first, p / 4, rtol=1e-12)


def test_saved_results_are_not_used_to_record_a_differentiable_gradient():
    import nn.functional as F

    rng = np.random.default_rng(4)
    logits = ag.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    target = np.array([1, 0, 3])
    (g,) = ag.gradients(F.cross_entropy(logits, target), [logits], create_graph=True)
    (gg,) = ag.gradients((g * g).sum(), [logits])
    (g_ref,) = ag.gradients(-F.log_softmax(logits, axis=1)[np.arange(3), target].mean(),
                            [logits], create_graph=True)
    (gg_ref,) = ag.gradients((g_ref * g_ref).sum(), [logits])
    np.testing.assert_allclose(gg.data, gg_ref.data, rtol=1e-10)


def test_a_backward_that_fails_midway_leaves_no_gradient_behind():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y, w = x * 3.0, x * 2.0
    z = (y * w).sum()  # backward reaches w (newer) before y

    def fail(g):
        raise ValueError("hook failed")

    remove = w.register_hook(fail)
    with pytest.raises(ValueError, match="hook failed"):
        z.backward(retain_graph=True)  # y has its gradient by then; w's hook fails
    remove()
    z.backward()  # the failed pass's gradient for y must not be summed in again
    np.testing.assert_allclose(x.grad.data, 12 * x.data)


# -- PyTorch's values at the edges of an op's domain, and numpy's signatures ------
def test_power_gradients_at_base_zero_are_pytorchs():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")  # log(0) and 0 ** -1 stay out of the rules
        x = ag.tensor([0.0, 1.0], requires_grad=True)
        (x**0).sum().backward()
        np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
        x = ag.tensor([0.0, 2.0], dtype=np.float64, requires_grad=True)
        p = ag.tensor(2.0, dtype=np.float64, requires_grad=True)
        (x**p).sum().backward()
        np.testing.assert_allclose(x.grad.data, [0.0, 4.0])
        np.testing.assert_allclose(p.grad.data, 4 * np.log(2.0))
        x = ag.tensor([0.0, 1.0], requires_grad=True)
        (0.0**x).sum().backward()
        np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
        # Second order: d/dx (2x + x^2 log x) = 2 + 2x log x + x, its limit 2 at x = 0
        # (where PyTorch's double backward gives nan).
        x = ag.tensor([0.0, 1.0, 2.0], dtype=np.float64, requires_grad=True)
        p = ag.tensor(2.0, dtype=np.float64, requires_grad=True)
        dx, dp = ag.gradients((x**p).sum(), [x, p], create_graph=True)
        (dx.sum() + dp).backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 3.0, 4.0 + 4.0 * np.log(2.0)])
    x = ag.tensor([0.0, 2.0], requires_grad=True)
    p = ag.tensor([-1.0, 3.0], requires_grad=True)
    with np.errstate(divide="ignore"):  # 0 ** -1 = inf, forward and back, as PyTorch
        (x**p).sum().backward()
    np.testing.assert_allclose(x.grad.data, [-np.inf, 12.0])
    np.testing.assert_allclose(p.grad.data, [-np.inf, 8 * np.log(2.0)], rtol=1e-6)


def test_std_of_constant_data_has_gradient_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = ag.tensor([2.0, 2.0, 2.0], requires_grad=True)
        ag.std(x).backward()
        np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])
        x = ag.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], requires_grad=True)
        ag.std(x, axis=1, ddof=1, keepdims=True).sum().backward()
        np.testing.assert_allclose(x.grad.data, [[0.0, 0.0, 0.0],
                                                 [-0.4364358, -0.1091089, 0.5455447]], rtol=1e-6)
        x = ag.tensor(np.full((2, 3), 5.0), requires_grad=True)
        (g,) = ag.gradients(ag.std(x, axis=0).sum(), x, create_graph=True)
        (g * x).sum().backward()  # and the second order too
        np.testing.assert_array_equal(g.data, np.zeros((2, 3)))
        assert np.all(np.isfinite(x.grad.data))


def test_concatenate_without_axis_flattens_and_its_gradient_unflattens():
    x = ag.tensor(np.ones((2, 2)), requires_grad=True)
    y = ag.tensor(np.ones(3), requires_grad=True)
    z = ag.concatenate([x, y], axis=None)
    assert z.shape == (7,)
    (z * np.arange(7.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(y.grad.data, [4.0, 5.0, 6.0])


def test_numpy_integers_count_as_numbers():
    x = ag.tensor(np.arange(6.0), requires_grad=True)
    parts = ag.split(x, np.int64(3))
    assert [p.shape for p in parts] == [(2,), (2,), (2,)]
    (parts[1] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 2.0, 2.0, 0.0, 0.0])
    assert ag.full(np.int64(3), 1.5).tolist() == [1.5, 1.5, 1.5]
    assert ag.full((np.int64(2), 3), 0.0).shape == (2, 3)
    assert ag.zeros(np.int64(2), 3).shape == (2, 3)
    assert ag.ones(np.array([2, 3])).shape == (2, 3)
    assert ag.randn(np.int32(4)).shape == (4,)


def test_take_along_axis_defaults_to_the_last_axis_and_broadcasts():
    a = np.arange(12.0).reshape(3, 4)
    x = ag.tensor(a, requires_grad=True)
    idx = np.array([[0, 2, 0]])  # one row, broadcast over the three of x
    y = ag.take_along_axis(x, idx)
    np.testing.assert_array_equal(y.data, np.take_along_axis(a, idx, axis=-1))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[2.0, 0.0, 1.0, 0.0]] * 3)
    x = ag.tensor(a, requires_grad=True)
    ag.take_along_axis(x, np.array([5, 5, 0]), axis=None).sum().backward()
    np.testing.assert_array_equal(x.grad.data.ravel(), [1.0] + [0.0] * 4 + [2.0] + [0.0] * 6)


def test_clip_with_tensor_bounds_gives_them_torch_clamps_gradient():
    x = ag.tensor([-2.0, -0.5, 0.3, 1.0, 1.5, 0.0], requires_grad=True)
    lo = ag.tensor(-0.5, requires_grad=True)
    hi = ag.tensor([1.0, 1.0, 1.0, 1.0, 1.0, -1.0], requires_grad=True)  # the last crossed
    y = ag.clip(x, lo, hi)
    np.testing.assert_allclose(y.data, [-0.5, -0.5, 0.3, 1.0, 1.0, -1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    assert lo.grad.item() == 1.0
    np.testing.assert_array_equal(hi.grad.data, [0.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    # Bounds that are constant Tensors keep the one-input op.
    x = ag.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = ag.clip(x, ag.tensor(0.0), ag.tensor(1.0))
    assert y.grad_fn.name == "clip" and x.clip(ag.tensor(0.0), 1.0).grad_fn.name == "clip"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])
    # The one-input op cannot give a bound its gradient: it says so rather than drop it.
    with pytest.raises(TypeError, match="clip: a bound that requires grad"):
        ag.OP.clip(x, a_min=lo)


def test_a_python_number_beside_a_float64_tensor_keeps_float64_in_every_rule():
    """2.0 ** x under create_graph: ln(2) in float64, so second derivatives are exact
    to float64 (they were off by ~3e-9 with ln(2) in float32)."""
    x = np.array([0.3, -1.2, 2.5])
    hess = ag.hessian(lambda t: (2.0 ** t).sum())(x).data
    np.testing.assert_allclose(np.diag(hess), 2.0 ** x * np.log(2.0) ** 2, rtol=1e-15)
    t = ag.tensor(x, requires_grad=True)
    (g,) = ag.gradients((3.0 ** t).sum(), [t], create_graph=True)
    (gg,) = ag.gradients(g.sum(), [t])
    np.testing.assert_allclose(gg.data, 3.0 ** x * np.log(3.0) ** 2, rtol=1e-15)


def test_apply_sets_every_field_node_init_sets():
    """apply writes its Node out by hand (for speed): it must leave no field unset
    that Node(...) sets."""
    from autograd_core.tensor import Node

    x = ag.tensor([1.0, 2.0], requires_grad=True)
    made = (x * 2.0).grad_fn
    built = Node(made.op, made.parents, made.args, made.kw, made.ans)
    fields = [f for f in Node.__slots__ if f != "__weakref__"]
    for field in fields:
        assert getattr(made, field) is getattr(built, field) or field == "seq", field


@pytest.mark.parametrize("case", ["unary", "number", "int", "bool", "no grad", "parameter",
                                  "two tensors", "array", "list", "number first"])
def test_apply_shortcut_gathers_what_the_loop_gathers(case):
    """apply gathers a Tensor alone or with a Python number without its loop over
    inputs (_inputs): the node's arrays and parents, the result and whether it is
    recorded are the loop's, whichever route the inputs take."""
    from autograd_core.registry import OP
    from autograd_core.tensor import _inputs
    from nn import Parameter

    x = ag.tensor(np.array([1.0, -2.0], np.float32), requires_grad=case != "no grad")
    op, args = {
        "unary": (OP.tanh, (x,)), "number": (OP.multiply, (x, 2.5)),
        "int": (OP.add, (x, 3)), "bool": (OP.multiply, (x, True)),
        "no grad": (OP.multiply, (x, 2.5)), "parameter": (OP.multiply, (Parameter(x), 2.5)),
        "two tensors": (OP.add, (x, x)), "array": (OP.add, (x, np.float32(2))),
        "list": (OP.add, (x, [1.0, 2.0])), "number first": (OP.multiply, (2.5, x)),
    }[case]
    out = op(*args)
    arrays, parents, needs_grad, _ = _inputs(args)
    assert out.requires_grad == needs_grad
    if needs_grad:
        node = out.grad_fn
        assert type(node.args) is tuple and type(node.parents) is tuple
        assert node.parents == parents
        assert len(node.args) == len(arrays)
        for got, want in zip(node.args, arrays, strict=True):
            assert type(got) is type(want)
            np.testing.assert_array_equal(got, want)
    want = np.asarray(op.forward(np, *arrays))
    assert out.data.dtype == np.float32
    np.testing.assert_allclose(out.data, want.astype(np.float32))
