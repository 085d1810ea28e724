"""Functions of Tensors that have no gradient: indices, tests and roundings.

Their results never require grad (PyTorch's argmax, isnan, floor...), so they
are no ops in the registry: each runs its backend's function on the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import NUMPY, backend_of
from .registry import torch_names
from .tensor import Tensor, _make, to_array


def _data(x: Any):
    return x._data if isinstance(x, Tensor) else to_array(x)


def _result(out, data) -> Tensor:
    if backend_of(data) is NUMPY and type(out) is not np.ndarray:
        out = np.asarray(out)  # numpy gives scalars for 0-d results
    return _make(out, None)


def _unary(name: str, doc: str):
    def fn(x: Any) -> Tensor:
        data = _data(x)
        return _result(getattr(backend_of(data).xp, name)(data), data)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


isnan = _unary("isnan", "Where x is NaN (a bool tensor).")
isfinite = _unary("isfinite", "Where x is neither inf nor NaN (a bool tensor).")
isinf = _unary("isinf", "Where x is +inf or -inf (a bool tensor).")
floor = _unary("floor", "The largest integer not above x, in x's dtype (no gradient).")
ceil = _unary("ceil", "The smallest integer not below x, in x's dtype (no gradient).")


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001  (numpy's and PyTorch's name)
    """x rounded half to even, as numpy and PyTorch (no gradient)."""
    data = _data(x)
    xp = backend_of(data).xp
    if decimals == 0:
        return _result(xp.round(data), data)
    scale = 10.0 ** decimals
    return _result(xp.round(data * scale) / scale, data)


def _index_reduction(name: str):
    def fn(x: Any, axis: int | None = None, keepdims: bool = False, *, dim=None,
           keepdim=None) -> Tensor:
        axis, keepdims = torch_names(name, axis, keepdims, dim, keepdim)
        data = _data(x)
        return _result(getattr(backend_of(data).xp, name)(data, axis=axis, keepdims=keepdims),
                       data)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"The index of the {name[3:]}imum along axis (of the flattened x without one)."
    return fn


argmax = _index_reduction("argmax")
argmin = _index_reduction("argmin")


def _truth_reduction(name: str):
    def fn(x: Any, axis: Any = None, keepdims: bool = False, *, dim=None,
           keepdim=None) -> Tensor:
        axis, keepdims = torch_names(name, axis, keepdims, dim, keepdim)
        data = _data(x)
        xp = backend_of(data).xp
        if data.dtype != xp.bool:
            data = data != 0
        return _result(getattr(xp, name)(data, axis=axis, keepdims=keepdims), data)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Whether {name} element along axis is true (non-zero)."
    return fn


all = _truth_reduction("all")  # noqa: A001
any = _truth_reduction("any")  # noqa: A001
