"""ag.gradcheck and ag.gradgradcheck: they pass correct gradients and catch wrong ones."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.gradcheck import FULL_JACOBIAN_LIMIT, check
from autograd_core.opcheck import all_names, check_function, check_ops


class Cube(ag.Function):
    """x**3 with a backward written in Tensor ops, so it is differentiable again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2


class WrongCube(ag.Function):
    """x**3 whose backward forgets a factor: 2x^2 instead of 3x^2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x ** 2


class WrongSecondInput(ag.Function):
    """a * b whose gradient for b is off by one."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * a + 1.0


def _x(*shape, seed=0):
    return ag.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_correct_functions_pass():
    a, b = _x(3, 4), _x(4, 2, seed=1)
    assert ag.gradcheck(lambda a, b: ag.tanh(a @ b), (a, b))
    assert ag.gradcheck(lambda a: (a.exp() * a).sum(axis=1), a)
    assert ag.gradcheck(Cube.apply, (a,))
    assert ag.gradgradcheck(lambda a, b: ag.sigmoid(a @ b), (a, b))


def test_several_outputs_and_numpy_inputs():
    assert ag.gradcheck(lambda a: (a * 2, ag.sin(a)), np.linspace(-1, 1, 5))


def test_wrong_backward_raises_naming_input_element_and_values():
    x = _x(2, 3)
    with pytest.raises(ag.GradcheckError) as info:
        ag.gradcheck(WrongCube.apply, (x,))
    msg = str(info.value)
    assert "input 0" in msg and "element (0, 0)" in msg
    # The analytical value is 2x^2, the numerical one 3x^2, at element (0, 0).
    x00 = float(x.data[0, 0])
    match = re.search(r"element \(0, 0\), output element \(0, 0\): analytical (\S+) "
                      r"vs numerical (\S+)", msg)
    assert match, msg
    assert float(match.group(1)) == pytest.approx(2 * x00 ** 2, rel=1e-6)
    assert float(match.group(2)) == pytest.approx(3 * x00 ** 2, rel=1e-4)


def test_the_failing_input_is_named():
    a, b = _x(3), _x(3, seed=1)
    with pytest.raises(ag.GradcheckError, match="input 1 element"):
        ag.gradcheck(WrongSecondInput.apply, (a, b))
    report = check(WrongSecondInput.apply, [a, b])
    assert not any(f.startswith("input 0") for f in report.failures)


def test_raise_exception_false_returns_false():
    assert ag.gradcheck(WrongCube.apply, (_x(4),), raise_exception=False) is False
    assert ag.gradcheck(Cube.apply, (_x(4),), raise_exception=False) is True


def test_full_jacobian_for_small_inputs_projections_for_large():
    small = check(Cube.apply, [_x(4, 5)])
    assert small.ok and small.mode == "full Jacobian"
    n = int(np.sqrt(FULL_JACOBIAN_LIMIT)) + 1  # n*n inputs and n*n outputs: over the limit
    large = check(Cube.apply, [_x(n, n)])
    assert large.ok and "projection" in large.mode
    wrong = check(WrongCube.apply, [_x(n, n)])
    assert not wrong.ok and "projection" in wrong.failures[0]


def test_tolerances_are_parameters():
    class Slightly(ag.Function):  # gradient 2.01 instead of 2: off by 0.5%
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return g * 2.01

    x = _x(3)
    assert not ag.gradcheck(Slightly.apply, (x,), raise_exception=False)
    assert ag.gradcheck(Slightly.apply, (x,), atol=1e-2)
    assert ag.gradcheck(Slightly.apply, (x,), atol=0, rtol=1e-2)
    assert not ag.gradcheck(Slightly.apply, (x,), atol=0, rtol=1e-3, raise_exception=False)
    assert ag.gradcheck(ag.exp, (x,), eps=1e-4, atol=1e-4)


def test_report_errors_are_plain_floats():
    report = check(Cube.apply, [_x(70, 70)])
    assert type(report.max_abs_error) is float and type(report.max_rel_error) is float


def test_custom_function_with_tensor_backward_passes_gradgradcheck():
    x = _x(3, 2)
    assert ag.gradgradcheck(Cube.apply, (x,))
    assert ag.gradgradcheck(lambda x: Cube.apply(ag.sin(x)) * x, (x,))


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    class Detached(ag.Function):  # correct first derivative, but as a bare array
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g.data * 3 * x.data ** 2

    x = _x(3)
    assert ag.gradcheck(Detached.apply, (x,))
    with pytest.raises(ag.GradcheckError, match="gradgradcheck failed"):
        ag.gradgradcheck(Detached.apply, (x,))


def test_inputs_are_checked_in_float64_and_left_alone():
    x = ag.tensor([0.5, -1.0, 2.0], requires_grad=True)  # float32
    before = x.data.copy()
    assert ag.gradcheck(lambda t: ag.exp(t) * t, (x,))
    assert x.dtype == np.float32 and x.grad is None
    np.testing.assert_array_equal(x.data, before)


def test_a_zero_upstream_gradient_must_give_zero():
    class Leaky(ag.Function):  # adds a constant to every gradient
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            return g + 1e-3

    report = check(Leaky.apply, [_x(2)])
    assert not report.ok
    assert any("zero upstream gradient" in f for f in report.failures)


def test_a_crashing_check_is_a_failed_row_with_plain_json_values():
    def broken(x):
        raise ValueError("boom")

    row = check_function(broken, [_x(2)], order=1, name="broken")
    assert not row.ok and row.mode == "error" and "boom" in row.failures[0]
    doc = json.loads(json.dumps(row.as_dict(), allow_nan=False))
    assert doc["max_abs_error"] is None and doc["shapes"] == [[2]]


def test_every_registered_op_passes_through_the_shared_machinery():
    results = check_ops(all_names()[:5], orders=(1, 2), seed=1)
    assert len(results) == 10 and all(r.ok for r in results), [r.failures for r in results]
    assert {r.order for r in results} == {1, 2}
