"""Constants (index arrays, weights, masks) made on the host and placed beside an input.

A composite that builds an index or weight array with numpy must hand it to its
ops in the input's own library and on its device, or the op would mix devices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core.backend import backend_of
from autograd_core.tensor import Tensor


def data_of(x: Any) -> Any:
    """x's array: a Tensor's data, or x itself."""
    return x.data if isinstance(x, Tensor) else x


def namespace_of(x: Any) -> Any:
    """The array namespace (standard names plus extras) of x's backend."""
    return backend_of(data_of(x)).xp


def like(x: Any, a: np.ndarray) -> Any:
    """The host array `a` in x's library and on x's device (itself on numpy)."""
    data = data_of(x)
    backend = backend_of(data)
    if backend.single_device:
        return a
    return backend.xp.from_host(np.ascontiguousarray(a), device=data.device)


def float_dtype_of(x: Any) -> np.dtype:
    """The numpy dtype of x's floats (float32 for integer input, as nn computes)."""
    dtype = data_of(x).dtype
    try:
        dtype = np.dtype(str(dtype).rpartition(".")[2].rstrip("'>"))
    except TypeError:
        return np.dtype(np.float32)
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def axis_of(name: str, axis: Any, dim: Any, default: Any) -> Any:
    """PyTorch's `dim=` accepted for numpy's `axis=` (both given: a TypeError)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: got both axis={axis} and dim={dim}; pass one")
        return dim
    return default if axis is None else axis
