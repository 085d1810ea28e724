"""Layers with parameters or state: Linear, Flatten, Dropout, BatchNorm, LayerNorm,
Embedding. Parameter names, shapes and default initialisation are PyTorch's."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core.tensor import Tensor

from . import init
from .functional import layers as F
from .module import Module, Parameter, _check_int, _check_number

__all__ = ["Linear", "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
           "Embedding", "Identity"]



def affine_parameters(module: Module, shape, enabled: bool) -> None:
    """A normalisation's learnable scale (ones) and shift (zeros) of `shape`, or both
    registered as None (so state_dict and repr show them as PyTorch does)."""
    if enabled:
        module.weight = Parameter(np.ones(shape, np.float32))
        module.bias = Parameter(np.zeros(shape, np.float32))
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def weight_and_bias(module: Module, weight_shape: tuple, bias_size: int, bias: bool) -> None:
    """A Linear or convolution layer's float32 weight of `weight_shape` and bias of
    `bias_size` (or the bias registered as None), uninitialised: its
    reset_parameters() fills them."""
    module.weight = Parameter(np.empty(weight_shape, np.float32))
    if bias:
        module.bias = Parameter(np.empty(bias_size, np.float32))
    else:
        module.register_parameter("bias", None)


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features).

    Init as PyTorch: kaiming_uniform(a=sqrt(5)), i.e. W and b ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = _check_int("Linear", "in_features", in_features)
        self.out_features = _check_int("Linear", "out_features", out_features)
        weight_and_bias(self, (out_features, in_features), out_features, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge axes start_axis..end_axis (by default all but the batch axis)."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1) -> None:
        super().__init__()
        self.start_axis = start_axis
        self.end_axis = end_axis

    def forward(self, x: Any) -> Tensor:
        return F.flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"


class Dropout(Module):
    """Inverted dropout in training mode, the identity in evaluation mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        _check_number("Dropout", "p", p, "a number in [0, 1]")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")
        self.p = p

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; subclasses fix the input rank."""

    _ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        self.num_features = _check_int(type(self).__name__, "num_features", num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        affine_parameters(self, num_features, affine)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, np.float32))
            self.register_buffer("running_var", np.ones(num_features, np.float32))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, x: Any) -> Tensor:
        if np.ndim(x) not in self._ranks:
            raise ValueError(f"{type(self).__name__} expects a {' or '.join(map(str, self._ranks))}"
                             f"-D input, got shape {np.shape(x)}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1  # in place: the buffer array stays the same
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        # Batch statistics in training, or when there are no running ones to use;
        # the running arrays (None when not tracked) are updated only in training.
        use_batch = self.training or self.running_mean is None
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_batch, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs over all but axis 1."""

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel."""

    _ranks = (4,)


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` axes; weight ones, bias zeros."""

    def __init__(self, normalized_shape: int | tuple, eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        super().__init__()
        shape = (tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list))
                 else (normalized_shape,))
        shape = tuple(_check_int("LayerNorm", "normalized_shape", n) for n in shape)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        affine_parameters(self, shape, elementwise_affine)

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class Embedding(Module):
    """A lookup table: row i of `weight` (num_embeddings, embedding_dim), init N(0, 1),
    with PyTorch's options (see F.embedding). Row `padding_idx`, if given, starts at
    zero and gets no gradient; max_norm renormalises the rows a lookup uses;
    scale_grad_by_freq divides each row's gradient by its index's count in the
    batch; sparse is not supported."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False) -> None:
        super().__init__()
        if sparse:
            raise NotImplementedError("Embedding: sparse=True is not supported")
        self.num_embeddings = _check_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _check_int("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = (None if padding_idx is None
                            else F._padding_index(padding_idx, num_embeddings))
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), np.float32))
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx, self.max_norm,
                           self.norm_type, self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2.0:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text
