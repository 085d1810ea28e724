"""Every registered op, first and second order, against central differences.

Driven by the registry: an op added there is tested here with no new code.
Inputs come from each op's own sampler (its domain, away from its kinks);
hypothesis draws the seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_cases import all_names, case

import autograd_core as ag
from autograd_core.engine import unbroadcast
from autograd_core.gradcheck import check, grad_function
from autograd_core.registry import NP, REGISTRY, defop

NAMES = all_names()
seeds = st.integers(0, 2**32 - 1)


def _outputs(out):
    return [out] if isinstance(out, ag.Tensor) else list(out)


@pytest.mark.parametrize("name", NAMES)
@given(seed=seeds)
def test_first_order(name, seed):
    fn, inputs, _ = case(name, seed)
    before = [np.array(x.data if isinstance(x, ag.Tensor) else x, copy=True) for x in inputs]
    report = check(fn, inputs)
    assert report.ok, "\n".join(report.failures)
    for x, b in zip(inputs, before):  # the op mutated none of its inputs
        np.testing.assert_array_equal(x.data if isinstance(x, ag.Tensor) else x, b)


@pytest.mark.parametrize("name", NAMES)
@given(seed=seeds)
def test_second_order(name, seed):
    fn, inputs, op = case(name, seed)
    first, inputs = grad_function(fn, inputs, seed=seed % 1000)
    if op is not None and op.linear:
        # Piecewise linear: away from kinks every second derivative is exactly 0.
        grads = first(*inputs)
        live = [g for g in grads if g.requires_grad]
        if live:
            wrt = [x for x in inputs if isinstance(x, ag.Tensor) and x.requires_grad]
            rng = np.random.default_rng(seed)
            second = ag.gradients(live, wrt, [rng.standard_normal(g.shape) for g in live],
                                  allow_unused=True)
            for s in second:
                assert s is None or not np.any(s.data), f"{name} claims to be piecewise linear"
        return
    report = check(first, inputs)
    assert report.ok, "\n".join(report.failures)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_do_not_alias(name):
    fn, inputs, _ = case(name, 7)
    out = _outputs(fn(*inputs))
    live = [o for o in out if o.requires_grad]
    if not live:
        pytest.skip("no differentiable output for this sample")
    total = ag.add(*[o.sum() for o in live[:2]]) if len(live) > 1 else live[0].sum()
    total.backward()
    arrays = [x.grad.data for x in inputs if isinstance(x, ag.Tensor) and x.grad is not None]
    for i, a in enumerate(arrays):
        assert a.flags.writeable
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)
        for x in inputs:
            if isinstance(x, ag.Tensor):
                assert not np.shares_memory(a, x.data)


def _plain_rules(op, args, params, g, ans) -> list:
    """Each input's gradient from the op's rule on ndarrays, shaped like the input
    as the engine shapes it (None where there is no gradient)."""
    needs = tuple(a if isinstance(a, np.ndarray) and a.dtype.kind == "f" else None  # wanted
                  for a in args)
    grads = op.vjp(NP, g, ans, args, needs, **params)
    return [None if gi is None else unbroadcast(NP, gi, np.shape(a))
            for gi, a in zip(grads, args)]


SAVING = sorted(name for name, op in REGISTRY.items() if op.saves)


@pytest.mark.parametrize("name", SAVING)
@given(seed=seeds)
def test_saved_results_give_the_recomputed_gradient_and_stay_intact(name, seed):
    """`saves`: the rules given the forward's saved results (the plain pass) compute
    what they compute from the inputs alone (create_graph), and leave them intact
    for a second backward through a retained graph."""
    op, rng = REGISTRY[name], np.random.default_rng(seed)
    args, params = op.sample(rng)
    args = tuple(np.array(a, np.float64) if np.asarray(a).dtype.kind == "f" else a
                 for a in args)
    ans, saved = op.forward(np, *args, **params)
    ans = np.asarray(ans)
    g = rng.standard_normal(ans.shape)
    recomputed = _plain_rules(op, args, params, g, ans)
    if saved is None:
        return
    kept = list(saved) if isinstance(saved, tuple) else [saved]
    before = [np.array(a) for a in kept]
    with_saved = _plain_rules(op, args, {**params, "saved": saved}, g, ans)
    for got, want in zip(with_saved, recomputed, strict=True):
        assert (got is None) == (want is None), name
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    for a, b in zip(kept, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_every_op_declares_a_domain():
    for name, op in REGISTRY.items():
        assert callable(op.sample), name
        args, params = op.sample(np.random.default_rng(0))
        assert isinstance(args, tuple) and isinstance(params, dict), name
    with pytest.raises(ValueError, match="sample domain"):
        defop("untested_op", lambda xp, x: xp.exp(x), lambda xp, g, ans, x: g * ans,
              sample=None)
    assert "untested_op" not in REGISTRY


def test_the_list_in_the_api_is_registered():
    for name in ("exp log log1p expm1 sqrt square abs sign sin cos tanh sigmoid maximum "
                 "minimum clip where sum mean prod max min var std logsumexp norm matmul "
                 "dot einsum transpose swapaxes reshape flatten squeeze expand_dims "
                 "broadcast_to concatenate stack split pad flip tile take_along_axis").split():
        assert callable(getattr(ag, name)), name
