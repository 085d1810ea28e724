"""nn.fuse(model): the same model with some runs of layers run as one op.

A model runs as written: `Sequential(Linear, ReLU)` calls Linear.forward and then
ReLU.forward, with their hooks, and its output's grad_fn is relu's node. Fusion is
a step the user takes, after building (and moving) the model:

    fast = nn.fuse(model)        # a new model; `model` itself is unchanged
    opt = optim.SGD(fast.parameters(), lr=0.1)   # the same Parameter objects

Inside every Sequential, at any depth, these adjacent layers become one module
and one graph node, with the values and gradients of the layers in turn (to the
bit; the weight's gradient of the conv's to rounding, its sum taken in another
order); their ops say why:

    Conv2d -> ReLU -> MaxPool2d  ConvReLUMaxPool2d  conv2d_relu_max_pool2d
    Linear -> ReLU               LinearReLU         F.linear_relu
    ReLU -> MaxPool2d            ReLUMaxPool2d      relu_max_pool2d (relu on the pooled data)
    Flatten -> Linear            FlattenLinear      F.flatten_linear (Flatten() as default)

The three take a Conv2d of stride 1, dilation 1, one group and numeric padding,
and a MaxPool2d whose stride is its kernel, without padding, dilation or
ceil_mode; other ones fall back to the pairs. Layers stay apart when one has a
forward hook (it must see the real intermediate), is a subclass (its forward
may differ), or when the MaxPool2d returns indices (relu's ties at 0 would move
them). Custom modules are copied
with their children fused; their own forward is not rewritten (there is no
tracing), so only what runs through a Sequential is fused.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from autograd_core import is_grad_enabled

from .activation import ReLU
from .conv import Conv2d, MaxPool2d
from .functional import layers as F
from .functional.conv import conv2d_relu_max_pool2d, relu_max_pool2d
from .functional.conv_ops import pair
from .layers import Flatten, Linear
from .module import Module, Sequential

__all__ = ["fuse", "LinearReLU", "ReLUMaxPool2d", "FlattenLinear", "ConvReLUMaxPool2d"]


def fuse(model: Module) -> Module:
    """A new model computing what `model` computes, with fused pairs of layers.

    The new model shares `model`'s Parameter objects and buffer arrays, so an
    optimizer over either model's parameters trains both, and its state_dict has
    the same keys (a fused module keeps the name of the layer whose parameters it
    holds: '0' for Linear -> ReLU at 0, 1; '4' for Flatten -> Linear at 3, 4; '0'
    for Conv2d -> ReLU -> MaxPool2d at 0, 1, 2).
    Submodules are copied, so what is done to the fused model's modules later
    (train/eval, hooks, `.to`, which replaces buffer arrays) does not reach
    `model`'s: move the model and register hooks before fusing, as with PyTorch's
    fuse_modules. `model` itself is not changed.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fuse: expected an nn.Module, got {type(model).__name__}")
    return _fused(model, {})


class _FusedLinear(Module):
    """A fused pair holding a Linear's parameters (the same Parameter objects)."""

    def __init__(self, linear: Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_parameter("weight", linear.weight)
        self.register_parameter("bias", linear.bias)

    extra_repr = Linear.extra_repr


class LinearReLU(_FusedLinear):
    """Linear then ReLU as one op (F.linear_relu)."""

    def forward(self, x: Any) -> Any:
        return F.linear_relu(x, self.weight, self.bias)


class FlattenLinear(_FusedLinear):
    """Flatten() then Linear as one op (F.flatten_linear)."""

    def forward(self, x: Any) -> Any:
        if getattr(x, "ndim", 0) < 2:  # no batch axis: Flatten's own error, as apart
            return F.linear(F.flatten(x, 1, -1), self.weight, self.bias)
        return F.flatten_linear(x, self.weight, self.bias)


class ReLUMaxPool2d(Module):
    """ReLU then MaxPool2d (without indices) as one op, relu on the pooled data."""

    def __init__(self, pool: MaxPool2d) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = pool.kernel_size, pool.stride, pool.padding
        self.dilation, self.ceil_mode = pool.dilation, pool.ceil_mode

    def forward(self, x: Any) -> Any:
        return relu_max_pool2d(x, self.kernel_size, self.stride, self.padding,
                               self.dilation, self.ceil_mode)

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}"
        text += f", padding={self.padding}" if self.padding != 0 else ""
        text += f", dilation={self.dilation}" if self.dilation != 1 else ""
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class ConvReLUMaxPool2d(Module):
    """Conv2d then ReLU then MaxPool2d as one op (conv2d_relu_max_pool2d) where the input
    takes no gradient, holding the Conv2d's parameters (the same Parameter objects).

    A network's first convolution, the usual case: there the op took 0.67-1.03x the
    time of conv2d and relu_max_pool2d in turn, forward and backward (six shapes; the
    CNN benchmark's step 1.39x -> 1.14x the floor). Where the input takes a gradient
    too, the op's fold, whose inner loop is the batch, lost to conv2d's in four of
    eight shapes (by up to 1.24x), so a later convolution runs the pair."""

    def __init__(self, conv: Conv2d, pool: MaxPool2d) -> None:
        super().__init__()
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.padding = conv.kernel_size, conv.padding
        self.pool_size = pair(pool.kernel_size)
        self.register_parameter("weight", conv.weight)
        self.register_parameter("bias", conv.bias)

    def forward(self, x: Any) -> Any:
        if getattr(x, "requires_grad", False) and is_grad_enabled():
            return relu_max_pool2d(F.conv2d(x, self.weight, self.bias, padding=self.padding),
                                   self.pool_size)
        return conv2d_relu_max_pool2d(x, self.weight, self.bias, self.padding, self.pool_size)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", padding={self.padding}" if self.padding != (0, 0) else ""
        text += ", bias=False" if self.bias is None else ""
        return text + f", pool_size={self.pool_size}"


def _triple(layers: list[Module | None]) -> Module | None:
    """The fused module for Conv2d -> ReLU -> MaxPool2d in the op's scope, or None."""
    if len(layers) < 3 or any(m is None or m._forward_hooks for m in layers[:3]):
        return None
    conv, relu, pool = layers[:3]
    if (type(conv), type(relu), type(pool)) != (Conv2d, ReLU, MaxPool2d):
        return None
    if (conv.stride, conv.dilation, conv.groups) != ((1, 1), (1, 1), 1) \
            or conv._extra_padding is not None:  # padding='same' with an even kernel
        return None
    if pool.return_indices or pool.ceil_mode or pair(pool.padding) != (0, 0) \
            or pair(pool.dilation) != (1, 1) or pair(pool.stride) != pair(pool.kernel_size):
        return None
    return ConvReLUMaxPool2d(conv, pool)


def _pair(first: Module | None, second: Module | None) -> tuple[Module, int] | None:
    """(the fused module, which of the two names it takes), or None to keep them apart."""
    if first is None or second is None or first._forward_hooks or second._forward_hooks:
        return None
    kinds = type(first), type(second)
    if kinds == (Linear, ReLU):
        return LinearReLU(first), 0
    if kinds == (ReLU, MaxPool2d) and not second.return_indices:
        return ReLUMaxPool2d(second), 0
    if kinds == (Flatten, Linear) and first.start_axis == 1 and first.end_axis == -1:
        return FlattenLinear(second), 1
    return None


def _fused(module: Module, memo: dict[int, Module]) -> Module:
    """A copy of module (each shared submodule copied once) with its children fused."""
    if id(module) in memo:
        return memo[id(module)]
    new = _copy(module)
    memo[id(module)] = new
    items = list(module._modules.items())
    children: list[tuple[str, Module | None]] = []
    i = 0
    plain = type(module).forward is Sequential.forward  # a subclass may run them otherwise
    while i < len(items):
        triple = _triple([child for _, child in items[i:i + 3]]) if plain else None
        if triple is not None:  # it takes the conv's name, where its parameters were
            children.append((items[i][0], triple))
            i += 3
            continue
        pair = _pair(items[i][1], items[i + 1][1]) if plain and i + 1 < len(items) else None
        if pair is not None:
            fused, which = pair
            children.append((items[i + which][0], fused))
            i += 2
        else:
            name, child = items[i]
            children.append((name, None if child is None else _fused(child, memo)))
            i += 1
    for name, _ in items:
        new.__dict__.pop(name, None)
    new._modules.clear()
    for name, child in children:
        new._modules[name] = child
        new.__dict__[name] = child
    return new


def _copy(module: Module) -> Module:
    """A new module of module's class with the same attributes, Parameters and buffer
    arrays, in registries of its own (so registering on one leaves the other alone)."""
    new = object.__new__(type(module))
    new.__dict__.update(module.__dict__)
    for key in ("_parameters", "_buffers", "_modules"):
        new.__dict__[key] = OrderedDict(module.__dict__[key])
    new.__dict__["_non_persistent"] = set(module._non_persistent)
    if module._forward_hooks is not None:
        new.__dict__["_forward_hooks"] = list(module._forward_hooks)
    return new
