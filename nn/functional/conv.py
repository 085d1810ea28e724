"""Convolution and pooling over NCHW images: the fused ops of autograd_core/ops/conv.py.

Output sizes follow PyTorch: floor((H + 2 padding - kernel) / stride) + 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import sampling as s
from autograd_core.ops.conv import pair
from autograd_core.registry import OP, defcomposite
from autograd_core.tensor import Tensor, apply

__all__ = ["conv2d", "max_pool2d", "avg_pool2d"]

_CONV2D, _MAX_POOL2D, _AVG_POOL2D = OP.conv2d, OP.max_pool2d, OP.avg_pool2d


def conv2d(x: Any, w: Any, b: Any = None, stride: int | tuple = 1,
           padding: int | tuple = 0, dilation: int | tuple = 1, groups: int = 1, *,
           bias: Any = None) -> Tensor:
    """Cross-correlation of x (N, C, H, W) with w (O, C / groups, kh, kw), plus b (O,),
    with PyTorch's stride, padding, dilation and groups. `bias=` is PyTorch's name
    for b, accepted so its calls carry over."""
    if bias is not None:
        if b is not None:
            raise TypeError("conv2d: got the bias twice, as b and as bias")
        b = bias
    params = {"stride": stride, "padding": padding}
    if dilation != 1 and pair(dilation) != (1, 1):
        params["dilation"] = dilation
    if groups != 1:
        params["groups"] = groups
    return apply(_CONV2D, (x, w, b), params)


def max_pool2d(x: Any, kernel_size: int | tuple, stride: int | tuple | None = None,
               padding: int | tuple = 0) -> Tensor:
    """Maximum over each window (stride defaults to the kernel size), over the input
    padded with -inf. As in PyTorch, the gradient goes to the first maximum of a window."""
    if padding != 0 and pair(padding) != (0, 0):
        x = _pad_for_pool("max_pool2d", x, kernel_size, padding, max_fill=True)
    return apply(_MAX_POOL2D, (x,), {"kernel_size": kernel_size, "stride": stride})


def avg_pool2d(x: Any, kernel_size: int | tuple, stride: int | tuple | None = None,
               padding: int | tuple = 0) -> Tensor:
    """Mean over each window (stride defaults to the kernel size); padding adds zeros
    that count in the mean (PyTorch's default, count_include_pad=True)."""
    if padding != 0 and pair(padding) != (0, 0):
        x = _pad_for_pool("avg_pool2d", x, kernel_size, padding, max_fill=False)
    return apply(_AVG_POOL2D, (x,), {"kernel_size": kernel_size, "stride": stride})


def _pad_for_pool(name: str, x: Any, kernel_size, padding, max_fill: bool) -> Tensor:
    (ph, pw), (kh, kw) = pair(padding), pair(kernel_size)
    if not (0 <= ph <= kh // 2 and 0 <= pw <= kw // 2):
        raise ValueError(f"{name}: padding {padding} must be at least 0 and at most half "
                         f"of the kernel size {kernel_size}")
    dtype = np.asarray(x.data if isinstance(x, Tensor) else x).dtype
    fill = 0
    if max_fill:  # a padded entry never wins: every window holds a real one
        fill = -np.inf if dtype.kind == "f" else np.iinfo(dtype).min
    return OP.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)


def _sample_padded_pool(rng):
    k = int(rng.integers(2, 4))
    shape = (1, int(rng.integers(1, 3)), int(rng.integers(k, 6)), int(rng.integers(k, 6)))
    params = {"kernel_size": k, "stride": int(rng.integers(1, k + 1)),
              "padding": int(rng.integers(1, k // 2 + 1))}
    return (s.distinct(rng, shape),), params


defcomposite("max_pool2d_padded", max_pool2d, sample=_sample_padded_pool)
defcomposite("avg_pool2d_padded", avg_pool2d, sample=_sample_padded_pool)
