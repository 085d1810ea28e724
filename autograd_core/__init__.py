"""autograd_core: reverse-mode automatic differentiation on numpy.

    import autograd_core as ag
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x ** 2).sum().backward()
    x.grad  # tensor([2., 4., 6.])
"""

from operator import index as _index

import numpy as _np

from . import allocator, cuda, linalg, ops, viz  # noqa: F401  (importing ops registers every op)
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .backend import Device
from .creation import (
    arange,
    as_tensor,
    eye,
    from_numpy,
    full,
    linspace,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .function import Function, FunctionCtx
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .nograd import all, any, argmax, argmin, ceil, floor, isfinite, isinf, isnan, round
from .ops.composite import dot, split
from .ops.elementwise import clip
from .ops.linalg import einsum
from .ops.shape import concatenate, stack
from .ops.softmax import log_softmax, relu, softmax
from .random import manual_seed
from .registry import COMPOSITES, OP, REGISTRY, Op, defop
from .tensor import Node, Tensor
from .transforms import grad, gradients, hessian, hvp, jacobian, jvp, value_and_grad, vjp

# The differentiable functions of API.md: each is its registered op.
abs = OP.abs
add, subtract, multiply, divide, power, negative = (
    OP.add, OP.subtract, OP.multiply, OP.divide, OP.power, OP.negative)
exp, log, log1p, expm1, sqrt, square = OP.exp, OP.log, OP.log1p, OP.expm1, OP.sqrt, OP.square
sign, sin, cos, tanh, sigmoid = OP.sign, OP.sin, OP.cos, OP.tanh, OP.sigmoid
maximum, minimum, where = OP.maximum, OP.minimum, OP.where
sum, mean, prod, max, min = OP.sum, OP.mean, OP.prod, OP.max, OP.min
var, std, logsumexp, norm = OP.var, OP.std, OP.logsumexp, OP.norm
matmul = OP.matmul
transpose, swapaxes, reshape, squeeze = OP.transpose, OP.swapaxes, OP.reshape, OP.squeeze
expand_dims, broadcast_to, pad, flip, tile = (
    OP.expand_dims, OP.broadcast_to, OP.pad, OP.flip, OP.tile)
take_along_axis, getitem = OP.take_along_axis, OP.getitem

# More ops (API.md "More ops"): elementwise, special functions, scans, order, indexing.
log2, log10, rsqrt, reciprocal, tan, sinh, cosh = (
    OP.log2, OP.log10, OP.rsqrt, OP.reciprocal, OP.tan, OP.sinh, OP.cosh)
arcsin, arccos, arctan, arctan2 = OP.arcsin, OP.arccos, OP.arctan, OP.arctan2
erf, erfc, erfinv = OP.erf, OP.erfc, OP.erfinv
cumsum, cumprod = OP.cumsum, OP.cumprod
from .ops.index import (  # noqa: E402
    gather,
    index_add,
    index_select,
    masked_fill,
    one_hot,
    scatter,
    scatter_add,
    tril,
    triu,
)
from .ops.scan import argsort, sort, topk  # noqa: E402

cat = concatenate
float16, float32, float64 = _np.dtype("float16"), _np.dtype("float32"), _np.dtype("float64")
int32, int64, bool_ = _np.dtype("int32"), _np.dtype("int64"), _np.dtype("bool")


def _flatten_axis(axis: int, shape: tuple) -> int:
    """`axis` made non-negative, as PyTorch's flatten wraps it: in [-ndim, ndim - 1],
    and for a 0-d input in [-1, 0] (a scalar flattens to shape (1,))."""
    axis = _index(axis)
    n = len(shape) or 1
    if not -n <= axis < n:
        raise IndexError(f"flatten: axis {axis} is out of range for an input of shape "
                         f"{tuple(shape)} (expected an axis in [{-n}, {n - 1}])")
    return axis % n


def flatten(x, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes start_axis..end_axis into one (all of them by default), as
    torch.flatten: an axis outside [-ndim, ndim - 1] raises IndexError, start_axis
    after end_axis raises ValueError, and a 0-d input becomes shape (1,)."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)  # a list by ag.tensor's rule; an ndarray shared, not copied
    shape = x.shape
    start, end = _flatten_axis(start_axis, shape), _flatten_axis(end_axis, shape)
    if start > end:
        def named(a: int, wrapped: int) -> str:
            return f"{a}" if a == wrapped else f"{a} (axis {wrapped})"
        raise ValueError(f"flatten: start_axis {named(start_axis, start)} comes after "
                         f"end_axis {named(end_axis, end)} for an input of shape {shape}")
    merged = 1
    for n in shape[start:end + 1]:
        merged *= n
    return OP.reshape(x, shape=shape[:start] + (merged,) + shape[end + 1:])


__all__ = [name for name in dir() if not name.startswith("_")]
