"""1-d convolution and pooling, adaptive pooling and upsampling modules (PyTorch's)."""

from __future__ import annotations

from typing import Any

from autograd_core.tensor import Tensor

from . import init
from .functional import spatial as F
from .layers import weight_and_bias
from .module import Module, _check_int

__all__ = ["Conv1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "Upsample"]


def _single(owner: str, name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return _check_int(owner, name, value, minimum)


class Conv1d(Module):
    """Cross-correlation over (N, C, L): weight (out, in / groups, k), bias (out,),
    PyTorch's init (kaiming_uniform(a=sqrt(5)), bias U(-1/sqrt(fan_in), ...)) and
    options, padding_mode 'zeros', 'reflect', 'replicate' or 'circular'."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple,
                 stride: int | tuple = 1, padding: int | tuple | str = 0,
                 dilation: int | tuple = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        self.in_channels = _check_int("Conv1d", "in_channels", in_channels)
        self.out_channels = _check_int("Conv1d", "out_channels", out_channels)
        self.groups = _check_int("Conv1d", "groups", groups, 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        self.kernel_size = (_single("Conv1d", "kernel_size", kernel_size, 1),)
        self.stride = (_single("Conv1d", "stride", stride, 1),)
        self.dilation = (_single("Conv1d", "dilation", dilation, 1),)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv1d: padding must be 'same', 'valid' or an int, got "
                                 f"{padding!r}")
            self.padding: Any = padding
        else:
            self.padding = (_single("Conv1d", "padding", padding),)
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"Conv1d: padding_mode must be 'zeros', 'reflect', 'replicate' "
                             f"or 'circular', got {padding_mode!r}")
        self.padding_mode = padding_mode
        weight_and_bias(self, (out_channels, in_channels // groups) + self.kernel_size,
                        out_channels, bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.layer_defaults_(self.weight, self.bias)

    def forward(self, x: Any) -> Tensor:
        padding = self.padding
        if self.padding_mode != "zeros":
            if padding == "same":  # PyTorch's split: the odd pixel on the right
                span = self.dilation[0] * (self.kernel_size[0] - 1)
                pads = (span // 2, span - span // 2)
            else:
                pads = (0, 0) if padding == "valid" else (padding[0], padding[0])
            x = F.pad(x, pads, mode=self.padding_mode)
            padding = 0
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,):
            text += f", padding={self.padding}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class MaxPool1d(Module):
    """F.max_pool1d with PyTorch's options; stride defaults to the kernel size."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 dilation: int = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = _single("MaxPool1d", "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _single("MaxPool1d", "stride",
                                                                       stride, 1)
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Any) -> Any:
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """F.avg_pool1d with PyTorch's options; stride defaults to the kernel size."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _single("AvgPool1d", "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _single("AvgPool1d", "stride",
                                                                       stride, 1)
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class AdaptiveAvgPool1d(Module):
    """F.adaptive_avg_pool1d into output_size."""

    def __init__(self, output_size: int) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    """F.adaptive_avg_pool2d into output_size (an int, or (oh, ow), None keeping a side)."""

    def __init__(self, output_size: int | tuple) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Upsample(Module):
    """F.interpolate with fixed size or scale_factor, mode and align_corners."""

    def __init__(self, size: int | tuple | None = None,
                 scale_factor: float | tuple | None = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Any) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        factor = self.scale_factor
        if factor is not None and not isinstance(factor, (tuple, list)):
            factor = float(factor)
        text = f"size={self.size}" if factor is None else f"scale_factor={factor}"
        return text + f", mode='{self.mode}'"
