"""The "cuda" device: CuPy arrays on NVIDIA GPUs (`pip install autograd-core[cuda12]`
or `[cuda13]`, matching the CUDA major version of the machine's driver)."""

from __future__ import annotations

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


def cupy_extras(cupy: Any) -> dict[str, Any]:
    """CuPy's faster routes for what the standard lacks (Chainer's habit)."""
    import cupyx

    def index_add(x, axis: int, index, src):
        out = x.copy()
        cupyx.scatter_add(out, (slice(None),) * (axis % x.ndim) + (index,), src)
        return out

    def from_host(a, device=None):
        if device is None:
            return cupy.asarray(a)
        with device:
            return cupy.asarray(a)

    return {"index_add": index_add, "from_host": from_host,
            "to_host": lambda a: cupy.asnumpy(a),
            "unshared": lambda a: a.base is None}
