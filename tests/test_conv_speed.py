"""The fast relus of linear_relu and relu_max_pool2d (a maximum against an array of
zeros, not the number 0) give the plain relu's values bit for bit: -0.0 -> 0.0 and
nan kept, as np.maximum(x, 0) does. (tests/test_backends.py runs both ops on
array_api_strict against numpy.)"""

import numpy as np

from nn.functional import conv_ops, layers


def _awkward(shape, seed=0):
    """Values with -0.0, 0.0, nan and both signs."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[::5], flat[1::5], flat[2::11] = -0.0, 0.0, np.nan
    return x


def _bits(a):
    return np.asarray(a).view(np.int32)


def test_linear_relu_forward_is_relu_of_linear_to_the_bit():
    x, w = _awkward((7, 5)), np.eye(5, dtype=np.float32)  # the product passes x through
    b = np.zeros(5, np.float32)
    want = np.maximum(layers._linear(np, x, w, b), 0)
    np.testing.assert_array_equal(_bits(layers._linear_relu(np, x, w, b)), _bits(want))


def test_relu_max_pool2d_forward_is_relu_of_max_pool_to_the_bit():
    x = _awkward((2, 4, 6, 3)).transpose(3, 0, 1, 2)  # batch innermost, as conv2d's
    pooled, _ = conv_ops._max_pool2d(np, x, 2)
    got, _ = conv_ops._relu_max_pool2d(np, x, 2)
    np.testing.assert_array_equal(_bits(got), _bits(np.maximum(pooled, 0)))
