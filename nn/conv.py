"""Convolution and pooling modules over NCHW images."""

from __future__ import annotations

from typing import Any

from autograd_core.tensor import Tensor

from . import init
from .functional import conv as F
from .layers import weight_and_bias
from .module import Module, _check_int, _check_pair

__all__ = ["Conv2d", "ConvTranspose2d", "MaxPool2d", "MaxUnpool2d", "AvgPool2d"]


class _Conv(Module):
    """What Conv2d and ConvTranspose2d share: options, PyTorch's init, the repr."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple,
                 stride, padding, dilation, groups: int, bias: bool, transposed: bool,
                 output_padding=0) -> None:
        super().__init__()
        name = type(self).__name__
        in_channels = _check_int(name, "in_channels", in_channels)
        out_channels = _check_int(name, "out_channels", out_channels)
        groups = _check_int(name, "groups", groups, 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and "
                             f"out_channels ({out_channels}) must be divisible by groups "
                             f"({groups})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _check_pair(name, "kernel_size", kernel_size, 1)
        self.stride = _check_pair(name, "stride", stride, 1)
        self.dilation = _check_pair(name, "dilation", dilation, 1)
        self._extra_padding = None
        self.padding = self._padding(padding) if isinstance(padding, str) and not transposed \
            else _check_pair(name, "padding", padding)
        # 0 but for ConvTranspose2d, as PyTorch
        self.output_padding = _check_pair(name, "output_padding", output_padding)
        self.groups = groups
        channels = ((in_channels, out_channels // groups) if transposed
                    else (out_channels, in_channels // groups))
        weight_and_bias(self, channels + self.kernel_size, out_channels, bias)
        self.reset_parameters()

    def _padding(self, mode: str) -> tuple[int, int]:
        """PyTorch's padding='valid' or 'same': the padding on both sides, kept with the
        bottom and right pixel an odd kernel span needs more (see F.string_padding)."""
        both, extra = F.string_padding(type(self).__name__, mode, self.kernel_size,
                                       self.stride, self.dilation)
        self._extra_padding = extra if extra != (0, 0) else None
        return both

    def reset_parameters(self) -> None:
        # fan_in is the weight's axis 1 times the kernel: in / groups for Conv2d,
        # out / groups for ConvTranspose2d, as PyTorch computes it for both.
        init.layer_defaults_(self.weight, self.bias)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv2d(_Conv):
    """2-D cross-correlation; weight (out_channels, in_channels / groups, kh, kw), bias
    (out,). `dilation` spaces the kernel's taps; `groups` splits the channels into
    that many independent convolutions (groups = in_channels: depthwise). Both come
    after `bias` here (API.md's order), so pass them by keyword as in PyTorch.

    Init as PyTorch: kaiming_uniform(a=sqrt(5)) for the weight, i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups * kh * kw;
    same for bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple,
                 stride: int | tuple = 1, padding: int | tuple = 0, bias: bool = True,
                 dilation: int | tuple = 1, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, transposed=False)

    def forward(self, x: Any) -> Tensor:
        if self._extra_padding:  # padding='same' with an odd span: PyTorch's uneven split
            x = F.pad_bottom_right(x, self._extra_padding)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class ConvTranspose2d(_Conv):
    """The transposed convolution (see F.conv_transpose2d), PyTorch's signature:
    weight (in_channels, out_channels / groups, kh, kw), bias (out,); each input pixel
    spreads a kernel-sized patch, so stride s upsamples by s (a DCGAN generator's
    layer). Init as PyTorch's: kaiming_uniform(a=sqrt(5)) with fan_in =
    out_channels / groups * kh * kw, the same bound for the bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple,
                 stride: int | tuple = 1, padding: int | tuple = 0,
                 output_padding: int | tuple = 0, groups: int = 1, bias: bool = True,
                 dilation: int | tuple = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, transposed=True, output_padding=output_padding)

    def forward(self, x: Any) -> Tensor:
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class _Pool2d(Module):
    def __init__(self, kernel_size: int | tuple, stride: int | tuple | None = None,
                 padding: int | tuple = 0, ceil_mode: bool = False) -> None:
        super().__init__()
        _check_window(self, kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}"
        text += f", padding={self.padding}" if self.padding != 0 else ""
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class MaxPool2d(_Pool2d):
    """Maximum over each kernel_size window, moved by stride (default: kernel_size),
    its taps dilation apart; with return_indices, also each maximum's flat index in
    its input plane (for MaxUnpool2d). PyTorch's signature."""

    def __init__(self, kernel_size: int | tuple, stride: int | tuple | None = None,
                 padding: int | tuple = 0, dilation: int | tuple = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        _check_pair("MaxPool2d", "dilation", dilation, 1)
        self.dilation = dilation
        self.return_indices = return_indices

    def forward(self, x: Any) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (f", dilation={self.dilation}" if self.dilation != 1 else "")


class AvgPool2d(_Pool2d):
    """Mean over each kernel_size window, moved by stride (default: kernel_size),
    with PyTorch's padding, ceil_mode, count_include_pad and divisor_override."""

    def __init__(self, kernel_size: int | tuple, stride: int | tuple | None = None,
                 padding: int | tuple = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        text += "" if self.count_include_pad else ", count_include_pad=False"
        if self.divisor_override is not None:
            text += f", divisor_override={self.divisor_override}"
        return text


class MaxUnpool2d(Module):
    """MaxPool2d's partial inverse: each value written back at its index (from
    MaxPool2d(..., return_indices=True)), zeros elsewhere. PyTorch's signature."""

    def __init__(self, kernel_size: int | tuple, stride: int | tuple | None = None,
                 padding: int | tuple = 0) -> None:
        super().__init__()
        _check_window(self, kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x: Any, indices: Any, output_size: tuple | None = None) -> Tensor:
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _check_window(module: Module, kernel_size, stride, padding) -> None:
    """A pooling layer's kernel_size, stride (None: kernel_size) and padding, checked at
    construction; the values are kept as given (the repr shows them so)."""
    name = type(module).__name__
    _check_pair(name, "kernel_size", kernel_size, 1)
    if stride is not None:
        _check_pair(name, "stride", stride, 1)
    _check_pair(name, "padding", padding)
