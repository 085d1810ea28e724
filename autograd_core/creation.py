"""Making tensors: from data, filled, ranges and random draws (float32 by default)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .backend import backend_of, to_device
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


def _leaf(data: np.ndarray, requires_grad: bool, device: Any = None) -> Tensor:
    """A leaf over `data` (made on the host), moved to `device` ("cpu" by default)."""
    if device is not None:
        data = to_device(data, device)
    t = _make(data, None)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data: Any, dtype=None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new leaf tensor holding a copy of `data` (an array of any library keeps its
    library and device unless `device` says otherwise)."""
    return _leaf(to_array(data, dtype, copy=True), requires_grad, device)


def as_tensor(data: Any, dtype=None, device: Any = None) -> Tensor:
    """A tensor over `data` without a copy where possible (a float ndarray is shared;
    any array-API array keeps its library and device)."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return _leaf(to_array(data, dtype), False, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a numpy array (PyTorch's torch.from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _make(array, None)


def zeros(*shape: int, dtype=DEFAULT_DTYPE, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    return _leaf(np.zeros(_shape(shape, "zeros"), as_dtype(dtype, "zeros")), requires_grad,
                 device)


def ones(*shape: int, dtype=DEFAULT_DTYPE, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    return _leaf(np.ones(_shape(shape, "ones"), as_dtype(dtype, "ones")), requires_grad,
                 device)


def full(shape, v: Any = None, dtype=DEFAULT_DTYPE, requires_grad: bool = False, *,
         fill_value: Any = None, device: Any = None) -> Tensor:
    """A tensor of `shape` filled with `v` (API.md's name); numpy's and PyTorch's
    keyword `fill_value=` is taken too."""
    if (v is None) == (fill_value is None):
        raise TypeError("full: give the fill value once, as full(shape, v) or "
                        "full(shape, fill_value=v)")
    value = v if fill_value is None else fill_value
    return _leaf(np.full(_shape((shape,), "full"), value, as_dtype(dtype, "full")),
                 requires_grad, device)


def _like(name: str, fill, t: Any, dtype, requires_grad: bool, device: Any) -> Tensor:
    """A tensor of t's shape filled with `fill`, of t's dtype, library and device unless
    dtype= or device= say otherwise."""
    data = t._data if isinstance(t, Tensor) else t
    if not hasattr(data, "__array_namespace__") or isinstance(data, np.generic):
        data = np.asarray(data)
    backend = backend_of(data)
    dtype = data.dtype if dtype is None else backend.dtype(as_dtype(dtype, name))
    return _leaf(backend.xp.full(data.shape, fill, dtype=dtype, device=data.device),
                 requires_grad, device)


def zeros_like(t: Any, dtype=None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _like("zeros_like", 0, t, dtype, requires_grad, device)


def ones_like(t: Any, dtype=None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _like("ones_like", 1, t, dtype, requires_grad, device)


def arange(*args: Any, dtype=None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """numpy's arange; floats give float32, integers int64."""
    if len(args) == 3 and args[2] == 0:
        raise ValueError("arange: step must not be 0")
    data = np.arange(*args, dtype=as_dtype(dtype, "arange"))
    if dtype is None and data.dtype == np.float64:
        data = data.astype(DEFAULT_DTYPE)
    return _leaf(data, requires_grad, device)


def linspace(start: float, stop: float, num: int = 50, dtype=DEFAULT_DTYPE,
             device: Any = None) -> Tensor:
    return _leaf(np.linspace(start, stop, num, dtype=as_dtype(dtype, "linspace")), False,
                 device)


def eye(n: int, m: int | None = None, dtype=DEFAULT_DTYPE, device: Any = None) -> Tensor:
    _shape((n,) if m is None else (n, m), "eye")
    return _leaf(np.eye(n, m, dtype=as_dtype(dtype, "eye")), False, device)


# Random draws come from the one host generator `manual_seed` seeds, on every device:
# the same seed gives the same numbers on "cpu" and "cuda".
def randn(*shape: int, dtype=DEFAULT_DTYPE, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    """Standard normal draws from the generator `manual_seed` seeds."""
    draws = RNG.standard_normal(_shape(shape, "randn"))
    return _leaf(draws.astype(as_dtype(dtype, "randn")), requires_grad, device)


def rand(*shape: int, dtype=DEFAULT_DTYPE, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """Uniform draws on [0, 1) from the generator `manual_seed` seeds."""
    return _leaf(RNG.random(_shape(shape, "rand")).astype(as_dtype(dtype, "rand")),
                 requires_grad, device)
