"""The "cuda" device: CuPy arrays on NVIDIA GPUs (`pip install autograd-core[cuda12]`
or `[cuda13]`, matching the CUDA major version of the machine's driver)."""

from __future__ import annotations

import contextlib
from typing import Any


def _cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def is_available() -> bool:
    """Whether "cuda" can be used: CuPy is installed and sees at least one GPU."""
    return device_count() > 0


def device_count() -> int:
    cupy = _cupy()
    if cupy is None:
        return 0
    try:
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # CuPy without a driver or a GPU raises its own CUDA errors
        return 0


def cuda_device(index: str) -> tuple[Any, Any]:
    """("" or "N") -> (the CuPy backend, cupy.cuda.Device(N)), or a RuntimeError saying
    what is missing."""
    from .backend import backend_of
    cupy = _cupy()
    if cupy is None:
        raise RuntimeError("device 'cuda' needs CuPy, which is not installed: install the "
                           "cuda extra, pip install 'autograd-core[cuda12]' (or [cuda13])")
    count = device_count()
    if count == 0:
        raise RuntimeError("device 'cuda': CuPy is installed but finds no NVIDIA GPU "
                           "(or no working driver)")
    n = int(index) if index else 0
    if not index.isdigit() and index:
        raise RuntimeError(f"unknown device 'cuda:{index}': expected cuda:N")
    if n >= count:
        raise RuntimeError(f"device 'cuda:{n}' does not exist: {count} GPU(s) found")
    return backend_of(cupy.empty(0)), cupy.cuda.Device(n)


# The standard's creation functions take device=; CuPy's place arrays on the current device.
_CREATION = ("arange", "empty", "empty_like", "eye", "full", "full_like", "linspace", "ones",
             "ones_like", "zeros", "zeros_like")


def _on_device(fn):
    """fn with the standard's device= keyword, as a CuPy device context."""
    def made(*args, device=None, **kw):
        if device is None:
            return fn(*args, **kw)
        with device:
            return fn(*args, **kw)
    made.__name__ = getattr(fn, "__name__", "made")
    return made


def _standard_names(cupy: Any) -> dict[str, Any]:
    """What the array API standard names and CuPy spells otherwise or lacks (older CuPy
    releases mirror numpy 1): only names CuPy itself does not have are filled in."""
    from types import SimpleNamespace

    import numpy as np

    def asarray(obj, dtype=None, device=None, copy=None):
        with device if device is not None else contextlib.nullcontext():
            if copy:
                return cupy.array(obj, dtype=dtype, copy=True)
            return cupy.asarray(obj, dtype=dtype)

    def astype(x, dtype, copy=True, device=None):
        return x.astype(dtype, copy=copy)  # CuPy's dtypes are numpy's

    def _cumulative(name):
        def scan(x, axis=None, dtype=None, include_initial=False):
            if axis is None:
                if x.ndim != 1:
                    raise ValueError(f"cumulative_{name}: axis is required for an input of "
                                     f"{x.ndim} dimensions")
                axis = 0
            out = getattr(cupy, f"cum{name}")(x, axis=axis, dtype=dtype)
            if include_initial:
                shape = list(out.shape)
                shape[axis] = 1
                first = cupy.full(shape, 0 if name == "sum" else 1, dtype=out.dtype)
                out = cupy.concatenate([first, out], axis=axis)
            return out
        return scan

    def unique_all(x):
        values, indices, inverse, counts = cupy.unique(
            x.reshape(-1), return_index=True, return_inverse=True, return_counts=True)
        return SimpleNamespace(values=values, indices=indices,
                               inverse_indices=inverse.reshape(x.shape), counts=counts)

    names = {"asarray": asarray, "astype": astype,
             "isdtype": np.isdtype,  # CuPy's dtypes are numpy's
             "concat": cupy.concatenate, "permute_dims": cupy.transpose, "pow": cupy.power,
             "acos": cupy.arccos, "asin": cupy.arcsin, "atan": cupy.arctan,
             "atan2": cupy.arctan2, "acosh": cupy.arccosh, "asinh": cupy.arcsinh,
             "atanh": cupy.arctanh, "bitwise_invert": cupy.invert,
             "matrix_transpose": lambda x: cupy.swapaxes(x, -1, -2),
             "cumulative_sum": _cumulative("sum"), "cumulative_prod": _cumulative("prod"),
             "unique_all": unique_all}
    out = {k: v for k, v in names.items() if not hasattr(cupy, k)}
    out["asarray"] = asarray  # device= and copy= whatever the release
    out.update({k: _on_device(getattr(cupy, k)) for k in _CREATION if hasattr(cupy, k)})
    linalg = {k: getattr(cupy.linalg, k) for k in dir(cupy.linalg) if not k.startswith("_")}
    if "svdvals" not in linalg:
        linalg["svdvals"] = lambda a: cupy.linalg.svd(a, compute_uv=False)
    out["linalg"] = SimpleNamespace(**linalg)
    return out


def cupy_extras(cupy: Any) -> dict[str, Any]:
    """CuPy's faster routes for what the standard lacks (Chainer's habit), and the
    standard's names and device= keywords where CuPy lacks them."""
    from types import SimpleNamespace

    import cupyx

    from . import kernels

    def index_add(x, axis: int, index, src):
        out = x.copy()
        cupyx.scatter_add(out, (slice(None),) * (axis % x.ndim) + (index,), src)
        return out

    def from_host(a, device=None):
        if device is None:
            return cupy.asarray(a)
        with device:
            return cupy.asarray(a)

    standard = _standard_names(cupy)
    # the generic kernels call creation functions with device=: give them the wrapped names
    namespace = SimpleNamespace(**{k: getattr(cupy, k) for k in dir(cupy)
                                   if not k.startswith("_")}, **standard)
    return {**standard, **kernels.extras(namespace, index_add),
            "index_add": index_add, "from_host": from_host,
            "to_host": lambda a: cupy.asnumpy(a),
            "unshared": lambda a: a.base is None}
