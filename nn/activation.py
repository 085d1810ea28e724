"""Activation modules (PyTorch's names, defaults and reprs) and a table of their
properties, the criteria used to compare activations:

    range, zero-centred, monotone, saturation (left/right: 'hard' when h'(x) is
    exactly 0 beyond some point, 'soft' when it only tends to 0, None when it
    does not vanish) and the largest value of |h'(x)|.

`describe(name)` returns one row; tests measure each claim numerically.
`inplace=` is accepted where PyTorch has it, for scripts moved over; the
result is always computed out of place (a graph needs its inputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograd_core.tensor import Tensor

from . import functional as F
from .module import Module, Parameter, _check_int, _check_number

__all__ = ["Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU",
           "GELU", "SiLU", "Mish", "Softplus", "Softsign", "Hardtanh", "ReLU6", "Hardsigmoid",
           "Hardswish", "LogSigmoid", "Softmax", "LogSoftmax", "PROPERTIES", "describe"]


class _Elementwise(Module):
    """An activation without settings: forward is the class's `fn(x)`."""

    fn: Any = None

    def forward(self, x: Any) -> Tensor:
        return type(self).fn(x)


class _Inplace(_Elementwise):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


def _inplace(text: str, inplace: bool) -> str:
    return text + (", inplace=True" if inplace else "")


class Sigmoid(_Elementwise):
    fn = staticmethod(F.sigmoid)


class Tanh(_Elementwise):
    fn = staticmethod(F.tanh)


class ReLU(_Inplace):
    fn = staticmethod(F.relu)


class SELU(_Inplace):
    fn = staticmethod(F.selu)


class SiLU(_Inplace):
    fn = staticmethod(F.silu)


class Mish(_Inplace):
    fn = staticmethod(F.mish)


class Hardsigmoid(_Inplace):
    fn = staticmethod(F.hardsigmoid)


class Hardswish(_Inplace):
    fn = staticmethod(F.hardswish)


class Softsign(_Elementwise):
    fn = staticmethod(F.softsign)


class LogSigmoid(_Elementwise):
    fn = staticmethod(F.logsigmoid)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = _check_number("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return _inplace(f"negative_slope={self.negative_slope}", self.inplace)


class PReLU(Module):
    """leaky ReLU with a learned slope: one (num_parameters=1) or one per channel."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        super().__init__()
        self.num_parameters = _check_int("PReLU", "num_parameters", num_parameters)
        self.init = _check_number("PReLU", "init", init)
        self.weight = Parameter(np.full(self.num_parameters, init, np.float32))

    def reset_parameters(self) -> None:
        self.weight.data[...] = self.init

    def forward(self, x: Any) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Random slopes from U(lower, upper) in training, their mean in eval."""

    def __init__(self, lower: float = 1 / 8, upper: float = 1 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower = _check_number("RReLU", "lower", lower)
        self.upper = _check_number("RReLU", "upper", upper)
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        return F.rrelu(x, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return _inplace(f"lower={self.lower}, upper={self.upper}", self.inplace)


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _check_number(type(self).__name__, "alpha", alpha)
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return _inplace(f"alpha={self.alpha}", self.inplace)


class CELU(ELU):
    def forward(self, x: Any) -> Tensor:
        return F.celu(x, self.alpha)


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = _check_number("Softplus", "beta", beta)
        self.threshold = _check_number("Softplus", "threshold", threshold)

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    def __init__(self, min_val: float = -1.0, max_val: float = 1.0,
                 inplace: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        _check_number(name, "min_val", min_val)
        _check_number(name, "max_val", max_val)
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val "
                             f"({max_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return _inplace(f"min_val={self.min_val}, max_val={self.max_val}", self.inplace)


class ReLU6(Hardtanh):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softmax(Module):
    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.axis)


# -- properties ---------------------------------------------------------------------
@dataclass(frozen=True)
class Properties:
    """How an activation h behaves (defaults of its module)."""

    range: tuple[float, float]  # inf and sup of h (to 6 digits where not round)
    zero_centred: bool  # h(0) = 0 and h(x) has the sign of x: negative outputs for x < 0
    monotone: bool  # non-decreasing
    saturation: tuple[str | None, str | None]  # (left, right): 'hard', 'soft' or None
    max_derivative: float  # sup |h'(x)|
    cost: str  # 'comparison' (piecewise linear), 'arithmetic', 'exp' (exp, tanh or erf)


_INF = math.inf
_SELU_ALPHA_SCALE = 1.6732632423543772 * 1.0507009873554805

PROPERTIES: dict[str, Properties] = {
    "sigmoid": Properties((0, 1), False, True, ("soft", "soft"), 0.25, "exp"),
    "tanh": Properties((-1, 1), True, True, ("soft", "soft"), 1.0, "exp"),
    "relu": Properties((0, _INF), False, True, ("hard", None), 1.0, "comparison"),
    "leaky_relu": Properties((-_INF, _INF), True, True, (None, None), 1.0, "comparison"),
    "prelu": Properties((-_INF, _INF), True, True, (None, None), 1.0, "comparison"),
    "rrelu": Properties((-_INF, _INF), True, True, (None, None), 1.0, "comparison"),
    "elu": Properties((-1, _INF), True, True, ("soft", None), 1.0, "exp"),
    "selu": Properties((-_SELU_ALPHA_SCALE, _INF), True, True, ("soft", None),
                       _SELU_ALPHA_SCALE, "exp"),
    "celu": Properties((-1, _INF), True, True, ("soft", None), 1.0, "exp"),
    "gelu": Properties((-0.169972, _INF), True, False, ("soft", None), 1.128904, "exp"),
    "silu": Properties((-0.278465, _INF), True, False, ("soft", None), 1.099839, "exp"),
    "mish": Properties((-0.308844, _INF), True, False, ("soft", None), 1.088498, "exp"),
    "softplus": Properties((0, _INF), False, True, ("soft", None), 1.0, "exp"),
    "softsign": Properties((-1, 1), True, True, ("soft", "soft"), 1.0, "arithmetic"),
    "hardtanh": Properties((-1, 1), True, True, ("hard", "hard"), 1.0, "comparison"),
    "relu6": Properties((0, 6), False, True, ("hard", "hard"), 1.0, "comparison"),
    "hardsigmoid": Properties((0, 1), False, True, ("hard", "hard"), 1 / 6, "comparison"),
    "hardswish": Properties((-0.375, _INF), False, False, ("hard", None), 1.5, "arithmetic"),
    "logsigmoid": Properties((-_INF, 0), False, True, (None, "soft"), 1.0, "exp"),
}


def describe(name: str) -> Properties:
    """The properties of an activation, by its functional name ('relu', 'tanh', ...)."""
    try:
        return PROPERTIES[name.lower()]
    except KeyError:
        raise KeyError(f"no properties recorded for {name!r}; known: "
                       f"{', '.join(PROPERTIES)}") from None
