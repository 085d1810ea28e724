"""Making tensors: from data, filled, ranges and random draws (float32 by default)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .random import RNG
from .tensor import Tensor, _make, as_dtype, to_array

DEFAULT_DTYPE = np.float32


def _shape(shape: tuple, name: str = "zeros") -> tuple[int, ...]:
    """`zeros(2, 3)`, `zeros((2, 3))` and `zeros(np.int64(3))` alike: Python ints, as
    numpy takes any integer or sequence of them (an array too); `name` is the caller's."""
    if len(shape) == 1 and np.ndim(shape[0]) == 1:
        shape = shape[0]
    given = tuple(shape) if len(shape) != 1 else shape[0]
    try:
        dims = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"{name}: a shape is integers, got {given!r}") from None
    if any(n < 0 for n in dims):
        raise ValueError(f"{name}: a shape is non-negative integers, got {given!r}")
    return dims


def _leaf(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = _make(data, None)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data: Any, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data`."""
    return _leaf(to_array(data, dtype, copy=True), requires_grad)


def as_tensor(data: Any, dtype=None) -> Tensor:
    """A tensor over `data` without a copy where possible (a float ndarray is shared)."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    return _make(to_array(data, dtype), None)


def zeros(*shape: int, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros(_shape(shape, "zeros"), as_dtype(dtype, "zeros")), requires_grad)


def ones(*shape: int, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones(_shape(shape, "ones"), as_dtype(dtype, "ones")), requires_grad)


def full(shape, v: Any = None, dtype=DEFAULT_DTYPE, requires_grad: bool = False, *,
         fill_value: Any = None) -> Tensor:
    """A tensor of `shape` filled with `v` (API.md's name); numpy's and PyTorch's
    keyword `fill_value=` is taken too."""
    if (v is None) == (fill_value is None):
        raise TypeError("full: give the fill value once, as full(shape, v) or "
                        "full(shape, fill_value=v)")
    value = v if fill_value is None else fill_value
    return _leaf(np.full(_shape((shape,), "full"), value, as_dtype(dtype, "full")),
                 requires_grad)


def zeros_like(t: Any, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros_like(np.asarray(t), as_dtype(dtype, "zeros_like")), requires_grad)


def ones_like(t: Any, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones_like(np.asarray(t), as_dtype(dtype, "ones_like")), requires_grad)


def arange(*args: Any, dtype=None, requires_grad: bool = False) -> Tensor:
    """numpy's arange; floats give float32, integers int64."""
    if len(args) == 3 and args[2] == 0:
        raise ValueError("arange: step must not be 0")
    data = np.arange(*args, dtype=as_dtype(dtype, "arange"))
    if dtype is None and data.dtype == np.float64:
        data = data.astype(DEFAULT_DTYPE)
    return _leaf(data, requires_grad)


def linspace(start: float, stop: float, num: int = 50, dtype=DEFAULT_DTYPE) -> Tensor:
    return _make(np.linspace(start, stop, num, dtype=as_dtype(dtype, "linspace")), None)


def eye(n: int, m: int | None = None, dtype=DEFAULT_DTYPE) -> Tensor:
    _shape((n,) if m is None else (n, m), "eye")
    return _make(np.eye(n, m, dtype=as_dtype(dtype, "eye")), None)


def randn(*shape: int, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Standard normal draws from the generator `manual_seed` seeds."""
    draws = RNG.standard_normal(_shape(shape, "randn"))
    return _leaf(draws.astype(as_dtype(dtype, "randn")), requires_grad)


def rand(*shape: int, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Uniform draws on [0, 1) from the generator `manual_seed` seeds."""
    return _leaf(RNG.random(_shape(shape, "rand")).astype(as_dtype(dtype, "rand")), requires_grad)
