"""Convolution and pooling over NCHW images: the fused ops of autograd_core/ops/conv.py.

Output sizes follow PyTorch: floor((H + 2 padding - kernel) / stride) + 1.
"""

from __future__ import annotations

from typing import Any

from autograd_core.registry import OP
from autograd_core.tensor import Tensor, apply

__all__ = ["conv2d", "max_pool2d", "avg_pool2d"]

_CONV2D, _MAX_POOL2D, _AVG_POOL2D = OP.conv2d, OP.max_pool2d, OP.avg_pool2d


def conv2d(x: Any, w: Any, b: Any = None, stride: int | tuple = 1,
           padding: int | tuple = 0, *, bias: Any = None) -> Tensor:
    """Cross-correlation of x (N, C, H, W) with w (O, C, kh, kw), plus b (O,).
    `bias=` is PyTorch's name for b, accepted so its calls carry over."""
    if bias is not None:
        if b is not None:
            raise TypeError("conv2d: got the bias twice, as b and as bias")
        b = bias
    return apply(_CONV2D, (x, w, b), {"stride": stride, "padding": padding})


def max_pool2d(x: Any, kernel_size: int | tuple, stride: int | tuple | None = None) -> Tensor:
    """Maximum over each window (stride defaults to the kernel size). As in PyTorch,
    the gradient goes to the first maximum of a window."""
    return apply(_MAX_POOL2D, (x,), {"kernel_size": kernel_size, "stride": stride})


def avg_pool2d(x: Any, kernel_size: int | tuple, stride: int | tuple | None = None) -> Tensor:
    """Mean over each window (stride defaults to the kernel size)."""
    return apply(_AVG_POOL2D, (x,), {"kernel_size": kernel_size, "stride": stride})
