"""Normalisation modules: GroupNorm, RMSNorm, InstanceNorm1d / 2d (PyTorch's)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core.tensor import Tensor

from .functional import norm as F
from .layers import affine_parameters
from .module import Module, Parameter, _check_int

__all__ = ["GroupNorm", "RMSNorm", "InstanceNorm1d", "InstanceNorm2d"]


class GroupNorm(Module):
    """F.group_norm over num_groups groups of num_channels; weight ones and bias
    zeros (num_channels,) when affine."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True) -> None:
        super().__init__()
        self.num_groups = _check_int("GroupNorm", "num_groups", num_groups, 1)
        self.num_channels = _check_int("GroupNorm", "num_channels", num_channels, 1)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible "
                             f"by num_groups ({num_groups})")
        self.eps, self.affine = eps, affine
        affine_parameters(self, num_channels, affine)

    def forward(self, x: Any) -> Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class RMSNorm(Module):
    """F.rms_norm over the trailing normalized_shape axes; weight ones when
    elementwise_affine; eps None is the input dtype's machine epsilon."""

    def __init__(self, normalized_shape: int | tuple, eps: float | None = None,
                 elementwise_affine: bool = True) -> None:
        super().__init__()
        shape = (tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list))
                 else (normalized_shape,))
        self.normalized_shape = tuple(_check_int("RMSNorm", "normalized_shape", n)
                                      for n in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, np.float32))
        else:
            self.register_parameter("weight", None)

    def forward(self, x: Any) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _InstanceNorm(Module):
    """F.instance_norm; PyTorch's defaults: no affine parameters, no running stats."""

    _ndim = 3

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = _check_int(name, "num_features", num_features, 1)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        affine_parameters(self, num_features, affine)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, np.float32))
            self.register_buffer("running_var", np.ones(num_features, np.float32))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x: Any) -> Tensor:
        ndim = np.ndim(x)
        if ndim not in (self._ndim - 1, self._ndim):
            raise ValueError(f"{type(self).__name__}: expects a {self._ndim}-d (batched) or "
                             f"{self._ndim - 1}-d input, got shape {np.shape(x)}")
        unbatched = ndim == self._ndim - 1
        if unbatched:
            x = x[None] if isinstance(x, Tensor) else np.asarray(x)[None]
        use_input_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_input_stats, self.momentum, self.eps)
        return y[0] if unbatched else y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or (C, L)."""

    _ndim = 3


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or (C, H, W)."""

    _ndim = 4
