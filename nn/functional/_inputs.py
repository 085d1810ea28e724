"""How nn reads the arrays of its inputs: by ag.tensor's rule, as every op's dispatch
does, so a list or a Python float is float32 here too and a float64 ndarray stays
float64. (numpy's own np.asarray would make a list of floats float64.) An array of
another library (array-api-strict, CuPy) stays in its library and on its device."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core.backend import backend_of, is_floating
from autograd_core.creation import DEFAULT_DTYPE
from autograd_core.tensor import Tensor, to_array

_DEFAULT_FLOAT = np.dtype(DEFAULT_DTYPE)


def array_of(x: Any) -> Any:
    """x's array: a Tensor's data, an array itself (no copy, so in-place updates
    reach the caller's array), anything else (lists, Python numbers) as ag.tensor
    converts it."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray):
        return x
    return to_array(x)


def tensor_or_array(x: Any) -> Any:
    """x itself if a Tensor, else array_of(x): for forwards that read an array's
    attributes, which the dispatch would hand a Python number unconverted."""
    return x if isinstance(x, Tensor) else array_of(x)


def namespace(a: Any) -> Any:
    """The array namespace of a's library (numpy's for an ndarray)."""
    return backend_of(a).xp


def float_dtype(a: Any) -> Any:
    """The dtype of float constants (slopes, masks, scales) made for a: a's own if
    floating, else the default float32 of a's library, so an integer input does not
    truncate them."""
    return a.dtype if is_floating(a.dtype) else backend_of(a).dtype(_DEFAULT_FLOAT)


def like(a: Any, values: Any) -> Any:
    """Host numbers (a numpy array, a list) as an array of a's library, on a's device,
    in float_dtype(a)."""
    backend = backend_of(a)
    host = np.asarray(values, dtype=np.dtype(str(float_dtype(a)).rpartition(".")[2]))
    if backend.single_device:
        return host
    return backend.xp.from_host(host, a.device)
