"""Stateless layers: linear, dropout, normalisation, embedding (conv and pools in .conv).

`linear` is one fused op (one graph node per layer call); the normalisations
are compositions of registered ops, so their gradients, to any order, come
from the parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import random as _random
from autograd_core import sampling as s
from autograd_core.ops.linalg import column_sums
from autograd_core.ops.shape import index_outside
from autograd_core.registry import OP, defcomposite, defop
from autograd_core.tensor import Tensor, apply

from ._inputs import array_of, float_dtype, like, namespace, tensor_or_array
from .conv import avg_pool2d, conv2d, conv_transpose2d, max_pool2d, max_unpool2d

__all__ = ["linear", "dropout", "batch_norm", "layer_norm", "embedding", "flatten",
           "conv2d", "conv_transpose2d", "max_pool2d", "max_unpool2d", "avg_pool2d"]


# -- linear: y = x W^T + b, for x of shape (..., in) ---------------------------------
def _linear(xp, x, weight, bias=None):
    if tuple(x.shape[-1:]) != tuple(weight.shape[1:]):
        got = x.shape[-1] if x.ndim else "no"
        raise ValueError(f"the input has {got} features (last axis) but the weight "
                         f"{tuple(weight.shape)} = (out_features, in_features) expects "
                         f"{weight.shape[1]}")
    if x.ndim > 2:  # one 2-D product: numpy runs a stacked matmul as many small ones
        o, i = weight.shape
        out = xp.reshape(xp.matmul(xp.reshape(x, (-1, i)), weight.T), x.shape[:-1] + (o,))
    else:
        out = xp.matmul(x, weight.T)
    if bias is not None:
        try:
            out += bias  # out is fresh: add in place, no second array
        except ValueError:  # only now look at the bias: the hot path stays as it was
            raise ValueError(f"bias has shape {tuple(bias.shape)} but the weight "
                             f"{tuple(weight.shape)} has {weight.shape[0]} "
                             f"out_features") from None
    return out


def _linear_dx(xp, g, ans, x, weight, bias=None):
    if type(x) is np.ndarray and x.ndim == 2 and x.strides[0] < x.strides[1]:
        # dx laid out like x (column-major: a flattened conv output, batch innermost),
        # so the backward pass upstream does not mix layouts. Same product, transposed.
        return xp.matmul(weight.T, g.T).T
    if g.ndim > 2:  # as the forward: one 2-D product
        return xp.reshape(xp.matmul(xp.reshape(g, (-1, weight.shape[0])), weight), x.shape)
    return xp.matmul(g, weight)  # dx = g W


def _linear_dw(xp, g, ans, x, weight, bias=None):
    # dW = g^T x, summed over every leading (batch) axis.
    o, i = weight.shape
    g2 = g if g.ndim == 2 else xp.reshape(g, (-1, o))
    x2 = x if x.ndim == 2 else xp.reshape(x, (-1, i))
    return xp.matmul(g2.T, x2)  # .T: an ndarray's, or the Tensor's differentiable one


def _linear_db(xp, g, ans, x, weight, bias=None):
    g2 = g if g.ndim == 2 else xp.reshape(g, (-1, weight.shape[0]))
    # numpy: a product with ones (BLAS) beats a sum over axis 0; elsewhere the sum
    return column_sums(xp, g2) if type(g2) is np.ndarray else xp.sum(g2, axis=0)


def _sample_linear(rng):
    i, o = (int(v) for v in rng.integers(1, 5, size=2))
    batch = s.shape(rng, 0, 2)
    bias = s.values(rng, (o,)) if rng.random() < 0.7 else None
    return (s.any_layout(rng, s.values(rng, batch + (i,))), s.values(rng, (o, i)), bias), {}


_LINEAR = defop("linear", _linear, _linear_dx, _linear_dw, _linear_db,
                sample=_sample_linear)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    return apply(_LINEAR, (x, weight, bias), {})


# -- relu(linear(x)) in one node: what nn.fuse runs for Linear -> ReLU (nn.LinearReLU).
# The same arrays as the two ops in turn, to the bit, forward and backward (relu's
# rule g * (ans > 0), then linear's three), with one node and one module call fewer,
# and relu applied in place to the product, which is fresh.
def _linear_relu(xp, x, weight, bias=None):
    out = _linear(xp, x, weight, bias)
    # Against a row of zeros, not the number 0: numpy's maximum with a scalar takes a
    # slow loop (linear_relu at 1024 x 256 -> 256, float32: 1444 -> 1397 us; the
    # product alone 1360). The same values, bit for bit (-0.0 -> 0.0, nan stays).
    return xp.maximum(out, xp.zeros(out.shape[-1:], dtype=out.dtype, device=out.device))


def _linear_relu_grads(xp, g, ans, inputs, needs):
    # relu's rule, then linear's; ans > 0 is a constant mask (a bool Tensor in T)
    return _linear_grads(xp, xp.where(ans > 0, g, 0), ans, inputs, needs)


def _linear_grads(xp, g, ans, inputs, needs) -> tuple:
    x, weight, bias = inputs
    return (_linear_dx(xp, g, ans, x, weight, bias) if needs[0] is not None else None,
            _linear_dw(xp, g, ans, x, weight, bias) if needs[1] is not None else None,
            _linear_db(xp, g, ans, x, weight, bias) if needs[2] is not None else None)


def _sample_linear_relu(rng):
    """linear's inputs, with every pre-activation away from relu's kink at 0."""
    while True:
        args, params = _sample_linear(rng)
        z = _linear(np, *(np.asarray(a) if a is not None else None for a in args))
        if z.size == 0 or np.abs(z).min() > 0.1:
            return args, params


_LINEAR_RELU = defop("linear_relu", _linear_relu, vjp=_linear_relu_grads, nin=3,
                     sample=_sample_linear_relu)


# -- linear(flatten(x)) in one node: what nn.fuse runs for Flatten -> Linear (a CNN's
# head, nn.FlattenLinear). The rules are linear's on the (N, -1) view of x, dx
# reshaped back: the same arrays as the two ops in turn, with one node fewer.
def _rows(xp, x):
    return xp.reshape(x, (x.shape[0], -1))  # arrays' reshape, or the reshape op in a rule


def _flatten_linear(xp, x, weight, bias=None):
    if x.ndim < 2:
        raise ValueError(f"expects an input with a batch axis, got shape {tuple(x.shape)}")
    return _linear(xp, _rows(xp, x), weight, bias)


def _flatten_linear_dx(xp, g, ans, x, weight, bias=None):
    return xp.reshape(_linear_dx(xp, g, ans, _rows(xp, x), weight), x.shape)


def _sample_flatten_linear(rng):
    shape = (int(rng.integers(1, 3)),) + s.shape(rng, 1, 2)
    o, i = int(rng.integers(1, 4)), int(np.prod(shape[1:]))
    bias = s.values(rng, (o,)) if rng.random() < 0.7 else None
    return (s.any_layout(rng, s.values(rng, shape)), s.values(rng, (o, i)), bias), {}


_FLATTEN_LINEAR = defop(
    "flatten_linear", _flatten_linear, _flatten_linear_dx,
    lambda xp, g, ans, x, weight, bias=None: _linear_dw(xp, g, ans, _rows(xp, x), weight),
    lambda xp, g, ans, x, weight, bias=None: _linear_db(xp, g, ans, x, weight),
    sample=_sample_flatten_linear)


def flatten_linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """linear(flatten(x, 1), weight, bias) in one node, the same values and gradients."""
    return apply(_FLATTEN_LINEAR, (x, weight, bias), {})


def linear_relu(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """relu(linear(x, weight, bias)) in one node, the same values and gradients."""
    return apply(_LINEAR_RELU, (x, weight, bias), {})


# -- dropout ---------------------------------------------------------------------
def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p),
    so evaluation needs no rescaling. The mask comes from ag.manual_seed's generator."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return x if isinstance(x, Tensor) else ag.as_tensor(x)  # a Tensor, whatever x was
    data = array_of(x)
    shape = tuple(data.shape)
    if p == 1.0:
        return OP.multiply(x, like(data, np.zeros(shape)))
    keep = _random.RNG.random(shape) >= p
    return OP.multiply(x, like(data, keep * (1.0 / (1.0 - p))))


# -- normalisation ------------------------------------------------------------------
def _normalize(x, axes: tuple, eps: float):
    """(x - mean) / sqrt(var + eps) over `axes`, with the biased variance; also the
    batch mean and variance (ndarrays, for running statistics)."""
    mean = OP.mean(x, axis=axes, keepdims=True)
    xc = x - mean
    var = OP.mean(xc * xc, axis=axes, keepdims=True)
    return xc / OP.sqrt(var + eps), mean, var


def batch_norm(x: Any, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: Any = None, bias: Any = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """PyTorch's batch_norm over axis 1 of (N, C), (N, C, L) or (N, C, H, W).

    Training: normalise with the batch statistics (biased variance) and update
    the running arrays in place, running = (1 - momentum) running + momentum batch,
    with the unbiased variance. Evaluation: normalise with the running statistics.
    """
    ndim = np.ndim(x)
    if ndim < 2:
        raise ValueError(f"batch_norm expects (N, C, ...) input, got shape {np.shape(x)}")
    c = np.shape(x)[1]
    for name, a in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if a is not None and np.shape(a) != (c,):
            raise ValueError(f"batch_norm: the input has {c} channels (axis 1 of shape "
                             f"{np.shape(x)}) but {name} has shape {np.shape(a)}")
    axes = (0,) + tuple(range(2, ndim))
    bshape = (c,) + (1,) * (ndim - 2)  # parameters broadcast over axis 1
    if training:
        n = int(np.prod([np.shape(x)[a] for a in axes]))
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {np.shape(x)}")
        y, mean, var = _normalize(x, axes, eps)
        xp = namespace(array_of(x))
        if running_mean is not None:
            m = xp.reshape(mean.data, (c,))
            running_mean *= 1 - momentum
            running_mean += momentum * m
        if running_var is not None:
            v = xp.reshape(var.data, (c,)) * (n / (n - 1))
            running_var *= 1 - momentum
            running_var += momentum * v
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in evaluation needs running_mean and running_var")
        # y = (x - mean) / sqrt(var + eps) * w + b, folded into one scale and one shift.
        data = array_of(x)
        xp, dtype = namespace(data), float_dtype(data)
        inv = xp.astype(1.0 / xp.sqrt(running_var + eps), dtype, copy=False)
        scale = inv if weight is None else OP.multiply(weight, inv)
        shift = OP.multiply(scale, -xp.astype(running_mean, dtype, copy=False))
        if bias is not None:
            shift = shift + bias
        return x * OP.reshape(scale, shape=bshape) + OP.reshape(shift, shape=bshape)
    if weight is not None:
        y = y * OP.reshape(weight, shape=bshape)
    if bias is not None:
        y = y + OP.reshape(bias, shape=bshape)
    return y


def layer_norm(x: Any, normalized_shape: int | tuple, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` axes (biased variance), then
    scale and shift elementwise."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(np.shape(x)[-len(shape):]) != shape:
        raise ValueError(f"layer_norm: input shape {np.shape(x)} does not end with the "
                         f"normalized shape {shape}")
    axes = tuple(range(-len(shape), 0))
    y = _normalize(x, axes, eps)[0]
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def embedding(indices: Any, weight: Any, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) at integer `indices`; the gradient of a
    row used several times is the sum of its uses. PyTorch's options: lookups of row
    `padding_idx` (negative counts from the end) pass no gradient to it; max_norm
    first rescales, in place, each looked-up row whose norm_type-norm exceeds it to
    that norm. As in PyTorch, max_norm writes into the weight: a graph that used
    the weight earlier must have used a copy of it, or its gradients would read the
    rescaled rows. Not supported: sparse gradients, and scale_grad_by_freq (a
    gradient that is not the lookup's derivative, which the registry's gradient
    checks would reject, and whose own derivative PyTorch defines apart)."""
    if sparse:
        raise NotImplementedError("embedding: sparse=True is not supported")
    idx = array_of(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    n = np.shape(weight)[0]
    if index_outside(idx, n):
        bad = idx[(idx < 0) | (idx >= n)].flat[0]
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings "
                         f"(indices shape {idx.shape}); negative indices do not wrap")
    if max_norm is not None:
        # an ndarray is rescaled in place, as a Tensor's data; a list becomes the
        # array that is rescaled and looked up
        weight = tensor_or_array(weight)
        _renorm_rows(array_of(weight), idx, max_norm, norm_type)
    rows = OP.getitem(weight, index=idx)
    if scale_grad_by_freq:
        rows = _scaled_by_frequency(rows, idx)
    if padding_idx is None:
        return rows
    padded = idx == _padding_index(padding_idx, n)
    if not padded.any():
        return rows
    return OP.where(padded[..., None], rows.data, rows)  # the padded rows as constants


def _scaled_by_frequency(rows: Tensor, idx: np.ndarray) -> Tensor:
    """rows in value; its gradient divided, lookup by lookup, by how often the
    lookup's index occurs: c + (s rows - c'), c and c' constants equal to rows and
    s rows, so the value is rows exactly and the gradient s g."""
    _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
    dtype = float_dtype(rows.data)
    scale = (1.0 / counts[inverse.reshape(idx.shape)]).astype(dtype)[..., None]
    scaled = rows * scale
    return rows.detach() + (scaled - scaled.detach())


def _renorm_rows(table: np.ndarray, idx: np.ndarray, max_norm: float,
                 norm_type: float) -> None:
    """PyTorch's embedding_renorm_: rows of `table` used in idx, with a norm above
    max_norm, scaled (in place, outside the graph) to max_norm / (norm + 1e-7)."""
    used = np.unique(idx)
    norms = np.linalg.norm(table[used], ord=norm_type, axis=1)
    over = norms > max_norm
    table[used[over]] *= (max_norm / (norms[over] + 1e-7))[:, None].astype(table.dtype)


def _padding_index(padding_idx: int, num_embeddings: int) -> int:
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for "
                         f"{num_embeddings} embeddings")
    return padding_idx % num_embeddings


def flatten(x: Any, start_axis: int = 1, end_axis: int = -1) -> Tensor:
    """ag.flatten (its axis checks, and a 0-d input to shape (1,), included) with
    PyTorch's nn default start_axis=1: the batch axis is kept."""
    return ag.flatten(x, start_axis, end_axis)


# -- registered for the gradient tests ------------------------------------------------
def _sample_batch_norm(rng):
    ndim = int(rng.integers(2, 5))
    shape = (int(rng.integers(2, 4)), int(rng.integers(1, 3))) + s.shape(rng, ndim - 2,
                                                                        ndim - 2, 3)
    c = shape[1]
    return ((s.values(rng, shape), s.values(rng, (c,)), s.values(rng, (c,))),
            {"training": True})


def _batch_norm_case(x, weight, bias, training=True):
    return batch_norm(x, None, None, weight, bias, training=training)


def _sample_layer_norm(rng):
    shape = s.shape(rng, 1, 3)
    k = int(rng.integers(1, len(shape) + 1))
    norm = shape[-k:]
    if int(np.prod(norm)) < 2:  # one value: x - mean is 0 and the output constant
        shape, norm = shape[:-1] + (3,), norm[:-1] + (3,)
    return (s.values(rng, shape), s.values(rng, norm), s.values(rng, norm)), \
        {"normalized_shape": norm}


def _layer_norm_case(x, weight, bias, normalized_shape):
    return layer_norm(x, normalized_shape, weight, bias)


defcomposite("batch_norm", _batch_norm_case, sample=_sample_batch_norm)
defcomposite("layer_norm", _layer_norm_case, sample=_sample_layer_norm)
