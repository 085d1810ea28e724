"""Random graphs: values reused many times, mixed ops, broadcasting, fan-in and fan-out.

Each drawn program applies smooth elementwise, binary and reduction ops to
earlier values (any of them, so diamonds and repeated uses are common); its
gradient and second derivative must match central differences.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core.gradcheck import check, grad_function

UNARY = [ag.tanh, ag.sin, ag.sigmoid, lambda t: t * t, lambda t: ag.exp(t * 0.5),
         lambda t: ag.log1p(t * t), lambda t: t.sum(axis=-1, keepdims=True),
         lambda t: ag.logsumexp(t, axis=0, keepdims=True), lambda t: t.T.T]
BINARY = [ag.add, ag.subtract, ag.multiply, lambda a, b: a / (1.5 + ag.tanh(b)),
          lambda a, b: ag.maximum(a, b) + ag.minimum(a, b)]

step = st.tuples(st.booleans(), st.integers(0, 63), st.integers(0, 63), st.integers(0, 63))


def run_program(program, x, y):
    values = [x, y]
    for binary, k, i, j in program:
        a, b = values[i % len(values)], values[j % len(values)]
        values.append(BINARY[k % len(BINARY)](a, b) if binary else UNARY[k % len(UNARY)](a))
    out = values[-1]
    for v in values[2:-1:3]:  # several outputs feed the result: fan-in
        out = out + v.sum() * 0.1
    return out


@given(program=st.lists(step, min_size=1, max_size=12), seed=st.integers(0, 2**16))
def test_random_programs_first_and_second_order(program, seed):
    rng = np.random.default_rng(seed)
    x = ag.tensor(rng.uniform(-1, 1, (3, 4)), requires_grad=True)
    y = ag.tensor(rng.uniform(-1, 1, (4,)), requires_grad=True)  # broadcasts against x
    fn = lambda a, b: run_program(program, a, b)  # noqa: E731
    report = check(fn, [x, y], atol=1e-4, rtol=1e-3)
    assert report.ok, "\n".join(report.failures)
    first, inputs = grad_function(fn, [x, y])
    report = check(first, inputs, atol=1e-4, rtol=1e-3)
    assert report.ok, "\n".join(report.failures)
