"""Losses: values against plain-Python references written from PyTorch's
definitions, every reduction, gradients to second order, extreme inputs,
error messages and the modules' defaults."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as F

REDUCTIONS = ("mean", "sum", "none")
rng = np.random.default_rng(0)


def _reduce(per_element, reduction, denominator=None):
    per_element = np.asarray(per_element, dtype=np.float64)
    if reduction == "none":
        return per_element
    total = math.fsum(per_element.ravel())
    if reduction == "sum":
        return total
    return total / (per_element.size if denominator is None else denominator)


def _log_softmax_row(row):
    m = max(row)
    lse = m + math.log(math.fsum(math.exp(v - m) for v in row))
    return [v - lse for v in row]


def _log_sigmoid(z):
    return -math.log1p(math.exp(-z)) if z >= 0 else z - math.log1p(math.exp(z))


# -- references, one element (or one row) at a time --------------------------------
def ref_elementwise(kind, x, y, delta=1.0):
    out = []
    for a, b in zip(x.ravel(), y.ravel(), strict=True):
        d = a - b
        if kind == "mse":
            out.append(d * d)
        elif kind == "l1":
            out.append(abs(d))
        elif kind == "huber":
            out.append(0.5 * d * d if abs(d) < delta else delta * (abs(d) - 0.5 * delta))
        elif kind == "smooth_l1":
            out.append(0.5 * d * d / delta if abs(d) < delta else abs(d) - 0.5 * delta)
    return np.array(out).reshape(x.shape)


def ref_bce(p, y, w=None):
    def clog(v):
        return max(math.log(v), -100.0) if v > 0 else -100.0
    w = np.ones_like(p) if w is None else np.broadcast_to(w, p.shape)
    return np.array([-wi * (yi * clog(pi) + (1 - yi) * clog(1 - pi))
                     for pi, yi, wi in zip(p.ravel(), y.ravel(), w.ravel(), strict=True)]
                    ).reshape(p.shape)


def ref_bce_logits(z, y, w=None, pw=None):
    # PyTorch's definition: -w (pw y log sigmoid(z) + (1 - y) log(1 - sigmoid(z)))
    w = np.ones_like(z) if w is None else np.broadcast_to(w, z.shape)
    pw = np.ones_like(z) if pw is None else np.broadcast_to(pw, z.shape)
    return np.array([-wi * (pi * yi * _log_sigmoid(zi) + (1 - yi) * _log_sigmoid(-zi))
                     for zi, yi, wi, pi in zip(z.ravel(), y.ravel(), w.ravel(), pw.ravel(),
                                               strict=True)]).reshape(z.shape)


def ref_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """Integer targets; logits (N, C, *d) moved to rows of C; PyTorch's label smoothing:
    (1 - eps) nll + eps / C * sum_c w_c (-log p_c), 'mean' divides by sum of w[t]."""
    c = x.shape[1]
    rows = np.moveaxis(x, 1, -1).reshape(-1, c)
    w = np.ones(c) if weight is None else weight
    losses, total_weight = [], 0.0
    for row, ti in zip(rows, t.ravel(), strict=True):
        if ti == ignore_index:
            losses.append(0.0)
            continue
        logp = _log_softmax_row(list(row))
        smooth = -math.fsum(w[k] * logp[k] for k in range(c))
        losses.append((1 - eps) * -w[ti] * logp[ti] + eps / c * smooth)
        total_weight += w[ti]
    return _reduce(np.array(losses).reshape(t.shape), reduction, total_weight)


def ref_soft_cross_entropy(x, p, weight=None, reduction="mean", eps=0.0):
    c = x.shape[1]
    rows = np.moveaxis(x, 1, -1).reshape(-1, c)
    probs = np.moveaxis(p, 1, -1).reshape(-1, c) * (1 - eps) + eps / c
    w = np.ones(c) if weight is None else weight
    losses = [-math.fsum(w[k] * q[k] * lp for k, lp in enumerate(_log_softmax_row(list(r))))
              for r, q in zip(rows, probs, strict=True)]
    shape = (x.shape[0],) + x.shape[2:]
    return _reduce(np.array(losses).reshape(shape), reduction, len(losses))


# -- values --------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    x, y = rng.normal(size=(4, 3)) * 2, rng.normal(size=(4, 3))
    cases = [(F.mse_loss(x, y, reduction), "mse", 1.0),
             (F.l1_loss(x, y, reduction), "l1", 1.0),
             (F.huber_loss(x, y, reduction), "huber", 1.0),
             (F.huber_loss(x, y, reduction, delta=0.5), "huber", 0.5),
             (F.smooth_l1_loss(x, y, reduction, beta=0.5), "smooth_l1", 0.5)]
    for got, kind, delta in cases:
        want = _reduce(ref_elementwise(kind, x, y, delta), reduction)
        np.testing.assert_allclose(got.data, want, rtol=1e-13, err_msg=kind)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    p = np.array([[0.0, 1e-50, 0.3], [0.9, 1.0, 0.5]])
    y = np.array([[1.0, 1.0, 0.2], [0.0, 0.0, 1.0]])
    w = np.array([0.5, 2.0, 1.0])
    np.testing.assert_allclose(F.binary_cross_entropy(p, y, reduction=reduction).data,
                               _reduce(ref_bce(p, y), reduction), rtol=1e-13)
    np.testing.assert_allclose(F.binary_cross_entropy(p, y, w, reduction).data,
                               _reduce(ref_bce(p, y, w), reduction), rtol=1e-13)
    # each log is clamped at -100
    assert F.binary_cross_entropy(np.array([0.0]), np.array([1.0])).item() == 100.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    z, y = rng.normal(size=(3, 4)) * 3, rng.uniform(size=(3, 4))
    w, pw = rng.uniform(0.5, 2, size=(3, 4)), rng.uniform(0.5, 3, size=4)
    for kw in ({}, {"weight": w}, {"pos_weight": pw}, {"weight": w, "pos_weight": pw}):
        got = F.binary_cross_entropy_with_logits(z, y, reduction=reduction, **kw)
        want = _reduce(ref_bce_logits(z, y, kw.get("weight"), kw.get("pos_weight")), reduction)
        np.testing.assert_allclose(got.data, want, rtol=1e-12, err_msg=str(list(kw)))


CE_CASES = {  # name -> (logits shape, kwargs)
    "plain": ((5, 4), {}),
    "weights": ((5, 4), {"weight": np.array([0.5, 1.0, 2.0, 3.0])}),
    "ignore": ((5, 4), {"ignore_index": 2}),
    "smoothing": ((5, 4), {"label_smoothing": 0.1}),
    "everything": ((5, 4), {"weight": np.array([0.5, 1.0, 2.0, 3.0]), "ignore_index": 1,
                            "label_smoothing": 0.3}),
    "spatial": ((2, 3, 4, 2), {"weight": np.array([1.0, 2.0, 0.5]), "label_smoothing": 0.2}),
}


def _ce_inputs(shape):
    r = np.random.default_rng(len(shape) * 10 + shape[-1])
    x = r.normal(size=shape) * 2
    t = r.integers(0, shape[1], size=shape[:1] + shape[2:])
    t.flat[0], t.flat[-1] = 2, 1  # make sure some targets hit the ignored classes
    return x, t


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CE_CASES)
def test_cross_entropy_with_class_indices(case, reduction):
    shape, kw = CE_CASES[case]
    x, t = _ce_inputs(shape)
    got = F.cross_entropy(x, t, reduction=reduction, **kw)
    want = ref_cross_entropy(x, t, kw.get("weight"), kw.get("ignore_index", -100), reduction,
                             kw.get("label_smoothing", 0.0))
    np.testing.assert_allclose(got.data, want, rtol=1e-12)
    if "label_smoothing" not in kw:  # nll_loss of log_softmax is the same thing
        nll = F.nll_loss(F.log_softmax(x, axis=1), t, reduction=reduction, **kw)
        np.testing.assert_allclose(nll.data, want, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_with_class_probabilities(reduction, smoothing):
    for shape in ((4, 3), (2, 3, 5)):
        x = rng.normal(size=shape)
        e = rng.uniform(size=shape)
        p = e / e.sum(axis=1, keepdims=True)
        w = np.array([0.5, 1.5, 2.0])
        for weight in (None, w):
            got = F.cross_entropy(x, p, weight=weight, reduction=reduction,
                                  label_smoothing=smoothing)
            want = ref_soft_cross_entropy(x, p, weight, reduction, smoothing)
            np.testing.assert_allclose(got.data, want, rtol=1e-12)


def test_cross_entropy_of_one_unbatched_sample():
    x = np.array([1.0, 2.0, 0.5])
    for reduction in REDUCTIONS:
        got = F.cross_entropy(x, np.array(1), reduction=reduction)
        assert got.shape == ()
        assert got.item() == pytest.approx(-_log_softmax_row(list(x))[1], rel=1e-13)
    assert F.nll_loss(np.log([0.2, 0.8]), np.array(0)).item() == pytest.approx(-math.log(0.2))


def test_one_hot_probabilities_equal_class_indices():
    x = rng.normal(size=(6, 4))
    t = rng.integers(0, 4, size=6)
    onehot = np.eye(4)[t]
    for eps in (0.0, 0.2):
        np.testing.assert_allclose(F.cross_entropy(x, onehot, label_smoothing=eps).data,
                                   F.cross_entropy(x, t, label_smoothing=eps).data, rtol=1e-13)


# -- gradients ---------------------------------------------------------------------
def test_fused_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    x = ag.tensor(rng.normal(size=(8, 5)), requires_grad=True)
    t = rng.integers(0, 5, size=8)
    F.cross_entropy(x, t).backward()
    p = np.exp(x.data) / np.exp(x.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad.data, (p - np.eye(5)[t]) / 8, rtol=1e-13)
    assert x.grad_fn is None and F.cross_entropy(x, t).grad_fn.name == "cross_entropy_classes"


def test_ignored_targets_get_no_gradient_and_all_ignored_is_nan():
    x = ag.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    t = np.array([0, -100, 2, -100])
    F.cross_entropy(x, t).backward()
    assert not x.grad.data[[1, 3]].any() and x.grad.data[[0, 2]].any()
    x.grad = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, np.full(4, -100))
        loss.backward()
    assert math.isnan(loss.item())  # 0 / 0, as PyTorch
    assert not x.grad.data.any()


def _tensors(*arrays):
    return [ag.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_of_every_loss(reduction):
    r = np.random.default_rng(7)
    x, y = r.normal(size=(3, 4)), r.normal(size=(3, 4))
    d = x - y
    x = np.where(np.abs(np.abs(d) - 1) < 0.1, x + 0.3, x)  # away from huber's kink
    p, q = r.uniform(0.1, 0.9, size=(3, 4)), r.uniform(size=(3, 4))
    w, pw = r.uniform(0.5, 2, size=(3, 4)), r.uniform(0.5, 2, size=4)
    checks = [
        (lambda a, b: F.mse_loss(a, b, reduction), _tensors(x, y)),
        (lambda a, b: F.l1_loss(a, b, reduction), _tensors(x, y)),
        (lambda a, b: F.huber_loss(a, b, reduction), _tensors(x, y)),
        (lambda a, b: F.smooth_l1_loss(a, b, reduction, beta=0.7), _tensors(x, y)),
        (lambda a, b: F.binary_cross_entropy(a, b, w, reduction), _tensors(p, q)),
        (lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction, pos_weight=pw),
         _tensors(x, q)),
        (lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
         _tensors(x, q)),
    ]
    for fn, inputs in checks:
        assert ag.gradcheck(fn, inputs)
        assert ag.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CE_CASES)
def test_gradcheck_cross_entropy_and_nll(case, reduction):
    shape, kw = CE_CASES[case]
    x, t = _ce_inputs(shape)
    fn = lambda a: F.cross_entropy(a, t, reduction=reduction, **kw)  # noqa: E731
    assert ag.gradcheck(fn, _tensors(x))
    assert ag.gradgradcheck(fn, _tensors(x))
    kw.pop("label_smoothing", None)
    nll = lambda a: F.nll_loss(a, t, reduction=reduction, **kw)  # noqa: E731
    assert ag.gradcheck(nll, _tensors(x))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_probability_targets_both_ways(reduction):
    x = rng.normal(size=(3, 4))
    e = rng.uniform(size=(3, 4))
    fn = lambda a, b: F.cross_entropy(a, b, weight=np.array([1.0, 2, 0.5, 1]),  # noqa: E731
                                      reduction=reduction, label_smoothing=0.1)
    inputs = _tensors(x, e / e.sum(axis=1, keepdims=True))
    assert ag.gradcheck(fn, inputs)
    assert ag.gradgradcheck(fn, inputs)


def test_kinks_of_regression_losses():
    x = ag.tensor(np.array([1.0, 2.0, 0.0, -3.0]), requires_grad=True)
    y = np.array([1.0, 1.0, 1.0, -1.0])  # d = 0, 1, -1, -2
    F.l1_loss(x, y, "sum").backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, -1.0, -1.0])  # l1'(0) = 0
    x.grad = None
    F.huber_loss(x, y, "sum", delta=1.0).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, -1.0, -1.0])  # |d| = delta: delta


def test_bce_gradient_is_pytorchs_at_the_edges():
    p = ag.tensor(np.array([0.0, 1.0, 0.25]), requires_grad=True)
    y = np.array([1.0, 0.0, 1.0])
    F.binary_cross_entropy(p, y, reduction="sum").backward()
    # (p - y) / max(p (1 - p), 1e-12): finite where the log was clamped
    np.testing.assert_allclose(p.grad.data, [-1e12, 1e12, -4.0])


# -- extreme inputs --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_losses_on_extreme_logits_are_exact_and_silent(dtype):
    z = ag.tensor(np.array([[-1e4, 1e4], [1e4, -1e4]], dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        bce = F.binary_cross_entropy_with_logits(z, np.array([[0.0, 1.0], [0.0, 1.0]]),
                                                 reduction="none")
        ce = F.cross_entropy(z, np.array([1, 1]), reduction="none")
        soft = F.cross_entropy(z, np.array([[0.0, 1.0], [0.0, 1.0]], dtype), reduction="none")
        (bce.sum() + ce.sum() + soft.sum()).backward()
        pos = F.binary_cross_entropy_with_logits(z, np.ones((2, 2)), pos_weight=np.ones(2) * 2)
    np.testing.assert_array_equal(bce.data, [[0.0, 0.0], [1e4, 1e4]])
    np.testing.assert_array_equal(ce.data, [0.0, 2e4])
    np.testing.assert_array_equal(soft.data, [0.0, 2e4])
    assert pos.item() == 2 * 1e4 / 2  # 2 * softplus(-z), averaged
    assert np.all(np.isfinite(z.grad.data))
    np.testing.assert_array_equal(z.grad.data, [[0.0, 0.0], [3.0, -3.0]])


def test_float32_losses_stay_float32():
    x = ag.tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    y = rng.normal(size=(4, 3))  # a float64 constant target follows the input
    t = rng.integers(0, 3, size=4)
    for loss in (F.mse_loss(x, y), F.l1_loss(x, y), F.huber_loss(x, y),
                 F.binary_cross_entropy_with_logits(x, y > 0),
                 F.binary_cross_entropy(F.sigmoid(x), (y > 0).astype(float), np.ones(3)),
                 F.cross_entropy(x, t), F.cross_entropy(x, t, weight=np.ones(3),
                                                        label_smoothing=0.1),
                 F.nll_loss(x, t)):
        assert loss.dtype == np.float32
        loss.backward()
        assert x.grad.dtype == np.float32
        x.grad = None


def test_probability_target_weights_take_the_inputs_dtype():
    rng = np.random.default_rng(20)
    x = ag.tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    probs = rng.dirichlet(np.ones(3), size=4).astype(np.float32)
    w32 = np.float32([1.0, 2.0, 3.0])
    want = F.cross_entropy(x, probs, weight=w32)
    for w in ([1.0, 2.0, 3.0], w32.astype(np.float64), ag.tensor(w32, dtype=np.float64)):
        loss = F.cross_entropy(x, probs, weight=w)
        assert loss.dtype == np.float32
        np.testing.assert_array_equal(loss.data, want.data)
        loss.backward()
        assert x.grad.dtype == np.float32
        x.grad = None
    x64, w = rng.normal(size=(4, 3)), [0.1, 0.2, 0.3]  # float64: a list weight read at float64
    np.testing.assert_array_equal(F.cross_entropy(x64, probs, weight=w).data,
                                  F.cross_entropy(x64, probs, weight=np.array(w)).data)


def test_list_constants_of_float64_inputs_are_read_at_float64():
    rng = np.random.default_rng(21)
    # not rounded through float32 first: the same loss as from float64 arrays
    x, y, w = rng.normal(size=(2, 3)), [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [0.1, 0.2, 0.3]
    t = np.array([0, 2])
    for loss, want in ((F.mse_loss(x, y), F.mse_loss(x, np.array(y))),
                       (F.binary_cross_entropy_with_logits(x, y, w, pos_weight=w),
                        F.binary_cross_entropy_with_logits(x, np.array(y), np.array(w),
                                                           pos_weight=np.array(w))),
                       (F.nll_loss(x, t, w), F.nll_loss(x, t, np.array(w))),
                       (F.cross_entropy(x, t, w), F.cross_entropy(x, t, np.array(w)))):
        assert loss.dtype == np.float64
        np.testing.assert_array_equal(loss.data, want.data)


def test_loss_module_weights_are_kept_as_ag_tensor_reads_them():
    rng = np.random.default_rng(22)
    w64 = np.array([1.0, 2.0, 3.0])
    x = rng.normal(size=(4, 3)).astype(np.float32)
    p, t = rng.uniform(0.1, 0.9, size=(4, 3)).astype(np.float32), np.array([0, 2, 1, 2])
    modules = {"BCELoss": (nn.BCELoss, p, p), "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss, x, p),
               "CrossEntropyLoss": (nn.CrossEntropyLoss, x, t),
               "CrossEntropyLoss(probabilities)": (nn.CrossEntropyLoss, x, p / p.sum(1)[:, None]),
               "NLLLoss": (nn.NLLLoss, x, t)}
    for name, (cls, input, target) in modules.items():
        assert cls([1.0, 2.0, 3.0]).weight.dtype == np.float32, name  # a list: float32
        assert cls(w64).weight.dtype == np.float64, name  # a float64 array stays float64
        assert cls(ag.tensor([1.0, 2.0, 3.0])).weight.dtype == np.float32, name
        loss = cls(w64)(input, target)  # the loss follows the input, as PyTorch's
        assert loss.dtype == np.float32, name
        np.testing.assert_allclose(loss.data, cls([1.0, 2.0, 3.0])(input, target).data,
                                   rtol=1e-6, err_msg=name)
        assert cls(w64)(input.astype(np.float64), target).dtype == np.float64, name
    logits = nn.BCEWithLogitsLoss(pos_weight=w64)
    assert logits.pos_weight.dtype == np.float64 and logits(x, p).dtype == np.float32
    assert nn.BCEWithLogitsLoss(pos_weight=[2.0, 1.0, 1.0]).pos_weight.dtype == np.float32


# -- errors ------------------------------------------------------------------------
def test_errors_name_the_loss_and_the_shapes():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"mse_loss.*\(4,\).*\(4, 3\)"):
        F.mse_loss(x, np.zeros(4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits.*\(3, 4\)"):
        F.binary_cross_entropy_with_logits(x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*\[0, 1\].*\[-1\.0, 0\.0\]"):
        F.binary_cross_entropy(x - np.eye(4, 3), np.zeros((4, 3)))
    with pytest.raises(IndexError, match=r"cross_entropy: target class 3 .*3 classes.*\(4, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 3]))
    with pytest.raises(IndexError, match=r"nll_loss: target class -1"):
        F.nll_loss(x, np.array([0, 1, 2, -1]))
    with pytest.raises(ValueError, match=r"cross_entropy: target shape \(5,\).*\(4, 3\)"):
        F.cross_entropy(x, np.zeros(5, int))
    with pytest.raises(ValueError, match=r"cross_entropy: probability targets.*\(4, 3\)"):
        F.cross_entropy(x, np.zeros(4))
    with pytest.raises(ValueError, match="reduction must be"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.zeros(4, int), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: class weights have shape \(2,\)"):
        F.cross_entropy(x, np.zeros(4, int), weight=np.ones(2))
    with pytest.raises(ValueError, match="huber_loss: delta"):
        F.huber_loss(x, x, delta=0.0)
    # ignored targets may lie outside the classes
    F.cross_entropy(x, np.array([0, 1, 2, -100]))


# -- modules -------------------------------------------------------------------------
def test_loss_modules_defaults_as_pytorch():
    ce = nn.CrossEntropyLoss()
    assert (ce.weight, ce.ignore_index, ce.reduction, ce.label_smoothing) == (
        None, -100, "mean", 0.0)
    nll = nn.NLLLoss()
    assert (nll.weight, nll.ignore_index, nll.reduction) == (None, -100, "mean")
    assert nn.HuberLoss().delta == 1.0 and nn.HuberLoss().reduction == "mean"
    bce = nn.BCEWithLogitsLoss()
    assert (bce.weight, bce.pos_weight, bce.reduction) == (None, None, "mean")
    assert nn.BCELoss().weight is None and nn.MSELoss().reduction == "mean"
    for cls in (nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.BCELoss, nn.BCEWithLogitsLoss,
                nn.CrossEntropyLoss, nn.NLLLoss):
        assert repr(cls()) == f"{cls.__name__}()"
    assert repr(nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1)) == (
        "CrossEntropyLoss(reduction='sum', label_smoothing=0.1)")
    with pytest.raises(ValueError, match="MSELoss: reduction"):
        nn.MSELoss(reduction="avg")


def test_loss_modules_compute_their_functions():
    x, y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))
    t, w = np.array([0, 2, 1, 2]), np.array([1.0, 2.0, 3.0])
    pairs = [
        (nn.MSELoss("sum")(x, y), F.mse_loss(x, y, "sum")),
        (nn.L1Loss("none")(x, y), F.l1_loss(x, y, "none")),
        (nn.HuberLoss(delta=0.3)(x, y), F.huber_loss(x, y, delta=0.3)),
        (nn.BCELoss(w)(y, y > 0.5), F.binary_cross_entropy(y, y > 0.5, w)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, y),
         F.binary_cross_entropy_with_logits(x, y, pos_weight=w)),
        (nn.CrossEntropyLoss(w, label_smoothing=0.2)(x, t),
         F.cross_entropy(x, t, w, label_smoothing=0.2)),
        (nn.NLLLoss(w, ignore_index=1)(x, t), F.nll_loss(x, t, w, ignore_index=1)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got.data, want.data, rtol=1e-14)
    assert "weight" in nn.CrossEntropyLoss(w).state_dict()


def test_cross_entropy_trains_a_classifier():
    ag.manual_seed(0)
    r = np.random.default_rng(1)
    x = r.normal(size=(60, 2)).astype(np.float32)
    t = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = nn.Linear(2, 2)
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(100):
        loss = loss_fn(model(ag.as_tensor(x)), t)
        first = first or loss.item()
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
    assert loss.item() < first / 3


# -- optional: PyTorch agrees ------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_against_pytorch(reduction):
    torch = pytest.importorskip("torch")
    tf, T = torch.nn.functional, torch.tensor  # noqa: N806
    x, y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))
    t, p = np.array([0, 2, 1, 2]), y / y.sum(1, keepdims=True)
    w, pw = np.array([0.5, 2.0, 1.0]), np.array([2.0, 0.5, 1.5])
    r = {"reduction": reduction}
    pairs = [
        (lambda a: F.mse_loss(a, y, **r), lambda a: tf.mse_loss(a, T(y), **r)),
        (lambda a: F.l1_loss(a, y, **r), lambda a: tf.l1_loss(a, T(y), **r)),
        (lambda a: F.huber_loss(a, y, delta=0.5, **r),
         lambda a: tf.huber_loss(a, T(y), delta=0.5, **r)),
        (lambda a: F.binary_cross_entropy(F.sigmoid(a), y, w, **r),
         lambda a: tf.binary_cross_entropy(torch.sigmoid(a), T(y), T(w), **r)),
        (lambda a: F.binary_cross_entropy_with_logits(a, y, w, pos_weight=pw, **r),
         lambda a: tf.binary_cross_entropy_with_logits(a, T(y), T(w), pos_weight=T(pw), **r)),
        (lambda a: F.cross_entropy(a, t, w, 1, label_smoothing=0.2, **r),
         lambda a: tf.cross_entropy(a, T(t), T(w), ignore_index=1, label_smoothing=0.2, **r)),
        (lambda a: F.cross_entropy(a, p, w, label_smoothing=0.2, **r),
         lambda a: tf.cross_entropy(a, T(p), T(w), label_smoothing=0.2, **r)),
        (lambda a: F.nll_loss(a, t, w, 1, **r),
         lambda a: tf.nll_loss(a, T(t), T(w), ignore_index=1, **r)),
    ]
    for ours, theirs in pairs:
        a, b = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        la, lb = ours(a), theirs(b)
        np.testing.assert_allclose(la.data, lb.detach().numpy(), rtol=1e-12)
        la.sum().backward()
        lb.sum().backward()
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_ignore_index_out_of_the_class_range_ignores_nothing():
    # With ignore_index outside [0, C) and every target a class, the op is told that
    # nothing is ignored (no per-call search); the values must not change.
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    t = np.array([0, 3, 1, 1, 2, 0])
    F.cross_entropy(x, t, ignore_index=-100).backward()
    g_default = x.grad.data.copy()
    x.grad = None
    F.cross_entropy(x, t, ignore_index=4).backward()  # == C: out of range, allowed
    np.testing.assert_array_equal(x.grad.data, g_default)
    x.grad = None
    kept = F.cross_entropy(x, t, ignore_index=1)  # in range: rows 2 and 3 drop out
    expected = F.cross_entropy(x[np.array([0, 1, 4, 5])], t[[0, 1, 4, 5]])
    assert kept.item() == pytest.approx(expected.item(), rel=1e-12)


# -- clear errors at the user's call -------------------------------------------------
def test_bce_targets_must_be_probabilities_but_logits_targets_need_not():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every target must be in "
                                         r"\[0, 1\], got values in \[2\.0, 2\.0\]"):
        F.binary_cross_entropy(ag.tensor([0.5]), ag.tensor([2.0]))
    # PyTorch takes any target with logits
    F.binary_cross_entropy_with_logits(ag.tensor([0.5]), ag.tensor([2.0]))


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_classification_losses_reject_integer_input(loss):
    logits = ag.tensor(np.array([[1, 2, 3]] * 2))
    with pytest.raises(TypeError, match=f"{loss}: input must be floating point, got "
                                        f"dtype int64"):
        getattr(F, loss)(logits, np.array([0, 1]))


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_binary_losses_reject_integer_input(loss):
    with pytest.raises(TypeError, match=f"{loss}: input must be floating point, got dtype"):
        getattr(F, loss)(ag.tensor(np.array([0, 1])), ag.tensor([0.0, 1.0]))


def test_loss_weights_must_broadcast_to_the_input():
    p, y = ag.tensor([0.2, 0.4, 0.6, 0.8]), ag.tensor([0.0, 1.0, 1.0, 0.0])
    msg = r"weight of shape \(3,\) does not broadcast to the input's shape \(4,\)"
    with pytest.raises(ValueError, match="binary_cross_entropy: " + msg):
        F.binary_cross_entropy(p, y, weight=ag.ones(3))
    with pytest.raises(ValueError, match="binary_cross_entropy: " + msg):
        nn.BCELoss(weight=ag.ones(3))(p, y)
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: " + msg):
        F.binary_cross_entropy_with_logits(p, y, weight=ag.ones(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of "
                                         r"shape \(5,\) does not broadcast to the input's "
                                         r"shape \(4,\)"):
        F.binary_cross_entropy_with_logits(p, y, pos_weight=ag.ones(5))
    # a weight that broadcasts is fine
    F.binary_cross_entropy(ag.tensor([[0.2, 0.4]] * 3), ag.tensor([[0.0, 1.0]] * 3),
                           weight=ag.ones(2))


def test_integer_one_hot_targets_are_explained():
    with pytest.raises(ValueError, match=r"cross_entropy: target shape \(4, 3\) does not fit "
                                         r"input shape \(4, 3\): integer targets are class "
                                         r"indices of shape \(4,\); pass one-hot or "
                                         r"probability targets as floats"):
        F.cross_entropy(ag.randn(4, 3), np.array([[1, 0, 0]] * 4))


# F.linear and F.conv2d: their bias checks, tested here with the other nn.functional errors
def test_linear_bias_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"linear: bias has shape \(5,\) but the weight "
                                         r"\(3, 4\) has 3 out_features"):
        F.linear(ag.randn(2, 4), ag.randn(3, 4), ag.randn(5))


@pytest.mark.parametrize("bias_shape", [(3,), (2, 1)])
def test_conv2d_bias_of_the_wrong_shape(bias_shape):
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(2,\) for a weight "
                                         r"of shape \(2, 1, 3, 3\), got "
                                         + re.escape(str(bias_shape))):
        F.conv2d(ag.randn(1, 1, 4, 4), ag.randn(2, 1, 3, 3), ag.randn(*bias_shape))


def test_conv_transpose2d_bias_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"conv_transpose2d: bias must have shape \(2,\) "
                                         r".*\(1, 2, 3, 3\).*got \(3,\)"):
        F.conv_transpose2d(ag.randn(1, 1, 4, 4), ag.randn(1, 2, 3, 3), ag.randn(3))


# -- wrongly typed arguments ----------------------------------------------------------


def test_huber_loss_with_a_string_delta_is_a_type_error():
    a = ag.tensor(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"huber_loss: delta must be a positive number, got 'a'"):
        F.huber_loss(a, a, delta="a")


def test_smooth_l1_loss_with_a_string_beta_is_a_type_error():
    a = ag.tensor(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"smooth_l1_loss: beta must be a non-negative number, "
                                        r"got 'a'"):
        F.smooth_l1_loss(a, a, beta="a")
    with pytest.raises(ValueError, match=r"smooth_l1_loss: beta must be non-negative, got -1"):
        F.smooth_l1_loss(a, a, beta=-1)
