"""ag.detect_anomaly(): stop at the first op that makes NaN or inf, say where it was made."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import autograd_core as ag

HERE = os.path.abspath(__file__)


def _line_of(marker: str) -> int:
    """Line number in this file of the line that ends with `# marker`."""
    with open(HERE, encoding="utf-8") as f:
        return next(i for i, line in enumerate(f, 1) if line.rstrip().endswith(f"# {marker}"))


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def test_forward_nan_names_the_op_and_the_user_line():
    x = ag.tensor([1.0, -1.0], requires_grad=True)
    with ag.detect_anomaly():
        y = x * 2  # fine
        with pytest.raises(RuntimeError) as info:
            ag.log(y)  # forward-nan
    msg = str(info.value)
    assert "'log'" in msg and "NaN" in msg
    assert f"{HERE}:{_line_of('forward-nan')}" in msg


def test_forward_inf_is_caught_at_the_first_op():
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    with ag.detect_anomaly():
        with pytest.raises(RuntimeError, match="'divide' produced inf") as info:
            z = 1.0 / x  # forward-inf
            z.sum()
    assert f"{HERE}:{_line_of('forward-inf')}" in str(info.value)


def test_ops_that_record_no_graph_are_checked_in_grad_mode():
    with ag.detect_anomaly():
        with pytest.raises(RuntimeError, match="'log' produced NaN") as info:
            ag.log(ag.tensor([-1.0, 1.0]))  # unrecorded-nan
        assert f"{HERE}:{_line_of('unrecorded-nan')}" in str(info.value)
        with ag.no_grad():  # as documented: under no_grad only recorded ops are checked
            assert np.isnan(ag.log(ag.tensor([-1.0])).item())


def test_a_graph_recorded_outside_anomaly_mode_says_so():
    x = ag.tensor([0.0, 4.0], requires_grad=True)
    loss = ag.sqrt(x).sum()
    with ag.detect_anomaly(), pytest.raises(RuntimeError, match="recorded outside"):
        loss.backward()


def test_backward_inf_names_the_op_and_where_it_was_created():
    x = ag.tensor([0.0, 4.0], requires_grad=True)
    with ag.detect_anomaly():
        y = ag.sqrt(x)  # sqrt-site
        loss = y.sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    msg = str(info.value)
    assert "backward of op 'sqrt'" in msg and "inf" in msg
    assert f"{HERE}:{_line_of('sqrt-site')}" in msg


def test_backward_nan_from_a_custom_function():
    class NaNGrad(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return g * np.nan

    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with ag.detect_anomaly():
        y = NaNGrad.apply(x)  # custom-site
        with pytest.raises(RuntimeError) as info:
            (y * 3).sum().backward()
    msg = str(info.value)
    assert "'NaNGrad'" in msg and "NaN" in msg
    assert f"{HERE}:{_line_of('custom-site')}" in msg
    assert x.grad is None  # nothing was accumulated


def test_create_graph_backward_is_checked_too():
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    with ag.detect_anomaly():
        y = ag.sqrt(x).sum()
        with pytest.raises(RuntimeError, match="anomaly"):
            ag.gradients(y, x, create_graph=True)


def test_outside_anomaly_mode_nothing_is_recorded_or_raised():
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    y = ag.sqrt(x)
    assert y.grad_fn.site is None
    y.sum().backward()  # inf in the gradient, silently, as in numpy
    assert np.isinf(x.grad.data[0])
    assert not ag.is_anomaly_enabled()


def test_sites_are_recorded_in_anomaly_mode_and_the_mode_is_restored():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with ag.detect_anomaly():
        assert ag.is_anomaly_enabled()
        y = ag.exp(x)  # exp-site
    assert not ag.is_anomaly_enabled()
    assert y.grad_fn.site == f"{HERE}:{_line_of('exp-site')}"
    with pytest.raises(ValueError), ag.detect_anomaly():
        raise ValueError("leaving by an exception restores the mode too")
    assert not ag.is_anomaly_enabled()


def test_finite_values_pass_untouched():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with ag.detect_anomaly():
        (ag.tanh(x) * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.tanh([1, 2]) + [1, 2] / np.cosh([1, 2]) ** 2,
                               rtol=1e-6)
