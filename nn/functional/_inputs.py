"""How nn reads the arrays of its inputs: by ag.tensor's rule, as every op's dispatch
does, so a list or a Python float is float32 here too and a float64 ndarray stays
float64. (numpy's own np.asarray would make a list of floats float64.)"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core.creation import DEFAULT_DTYPE
from autograd_core.tensor import Tensor, to_array

_DEFAULT_FLOAT = np.dtype(DEFAULT_DTYPE)


def array_of(x: Any) -> np.ndarray:
    """x's ndarray: a Tensor's data, an ndarray itself (no copy, so in-place updates
    reach the caller's array), anything else (lists, Python numbers) as ag.tensor
    converts it."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray):
        return x
    return to_array(x)


def tensor_or_array(x: Any) -> Any:
    """x itself if a Tensor, else array_of(x): for forwards that read an ndarray's
    attributes, which the dispatch would hand a Python number unconverted."""
    return x if isinstance(x, Tensor) else array_of(x)


def float_dtype(a: np.ndarray) -> np.dtype:
    """The dtype of float constants (slopes, masks, scales) made for a: a's own if
    floating, else the default float32, so an integer input does not truncate them."""
    return a.dtype if a.dtype.kind == "f" else _DEFAULT_FLOAT
