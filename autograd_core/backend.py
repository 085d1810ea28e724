"""Array backends: which library, and which device, holds a tensor's numbers.

A backend is an array library that follows the array API standard: numpy
(the default, device "cpu"), CuPy for NVIDIA GPUs ("cuda", "cuda:1"), or any
other library whose arrays have ``__array_namespace__`` (array-api-strict is
the test stand-in). Ops are written once against ``backend.xp``: the
library's standard names, plus the few kernels the standard lacks (the
"extras" below: scatter-add, strided windows, einsum, indexing, the
optimizers' axpy; numpy's faster routes stand beside the generic ones in
kernels.py and blas.py). The backend of an
array is found by its type, once per type, so finding it costs one dictionary
lookup per op.
"""

from __future__ import annotations

import contextlib
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import blas, kernels


class Device(str):
    """A device name that compares equal to its string: ``t.device == "cpu"``.

    ``type`` is the part before the colon ("cpu", "cuda", or a library's name),
    ``index`` the number after it (None where there is none)."""

    __slots__ = ()

    @property
    def type(self) -> str:
        return self.partition(":")[0]

    @property
    def index(self) -> int | None:
        rest = self.partition(":")[2]
        return int(rest) if rest.isdigit() else None

    def __repr__(self) -> str:
        return f"device({str.__repr__(self)})"


CPU = Device("cpu")


class Backend:
    """One array library: its namespace ``xp`` (standard names plus extras) and
    ``ops``, the registered ops' forwards bound to it (the namespace a gradient
    rule gets in a plain backward pass)."""

    def __init__(self, name: str, library: Any, extras: dict[str, Any]) -> None:
        self.name = name
        self.library = library
        names = {k: getattr(library, k) for k in dir(library) if not k.startswith("_")}
        self.xp = SimpleNamespace(**{**names, **extras})
        self.ops = SimpleNamespace()
        self.forwards = {}  # op -> its forward on this library's arrays (what apply calls)
        self.single_device = name == "numpy"
        for op in _OPS:
            self.bind(op)

    def bind(self, op) -> None:
        """Make `op`'s forward on this backend's arrays one of `ops`, and what `apply`
        calls: the library's own function where the op names one, numpy's kernel
        where the op has one."""
        direct = getattr(self.xp, op.library_name, None) if op.library_name else None
        kernel = op.numpy_forward if self.name == "numpy" else None
        self.forwards[op] = direct or kernel or partial(op.forward, self.xp)
        setattr(self.ops, op.name, direct or op.bound(self.xp))

    def dtype(self, dtype: Any) -> Any:
        """This library's dtype for a numpy dtype (or its name)."""
        if self.single_device:
            return np.dtype(dtype)
        return getattr(self.library, np.dtype(dtype).name)

    def device(self, array: Any) -> Device:
        if self.single_device:
            return CPU
        return _device_name(self, array.device)

    def __repr__(self) -> str:
        return f"<backend {self.name}>"


_OPS: list = []  # every registered op, so a backend made later binds them too
_BY_TYPE: dict[type, Backend] = {}
_BY_NAME: dict[str, Backend] = {}


def register_op(op) -> None:
    _OPS.append(op)
    for backend in _BY_NAME.values():
        backend.bind(op)


def _device_name(backend: Backend, device: Any) -> Device:
    if backend.name == "cupy":
        return Device(f"cuda:{device.id}")
    text = str(device)
    if "'" in text:  # array_api_strict.Device('device1') -> device1
        text = text.split("'")[1]
    return Device(f"{backend.name}:{text}")


# -- the kernels the standard lacks --------------------------------------------
def _generic_index_add(xp):
    def index_add(x, axis: int, index, src):
        """x with src's slices summed in at `index` along `axis`, repeats summing
        (numpy's add.at): a one-hot matrix product, the standard's only route."""
        n = x.shape[axis]
        onehot = xp.astype(xp.arange(n, device=x.device)[:, None] == index[None, :], x.dtype)
        moved = xp.moveaxis(src, axis, -1)
        summed = xp.moveaxis(xp.matmul(moved, xp.matrix_transpose(onehot)), -1, axis)
        return x + summed
    return index_add


def _numpy_index_add(x, axis: int, index, src):
    out = np.array(x, copy=True)
    np.add.at(out, (slice(None),) * (axis % x.ndim) + (index,), src)
    return out


def _library_dtype(library: Any, dtype: Any) -> Any:
    """A library's dtype for numpy's dtype of the same name (its own dtypes pass)."""
    if isinstance(dtype, np.dtype) or isinstance(dtype, type) and issubclass(dtype, np.generic):
        return getattr(library, np.dtype(dtype).name)
    return dtype


def _numpy_unshared(a) -> bool:
    """A whole, writable array of its own (no view): the engine may give it to a leaf's
    .grad without a copy, if no other gradient is the same object."""
    return type(a) is np.ndarray and a.base is None and a.flags.writeable


def _numpy_extras() -> dict[str, Any]:
    return {"index_add": _numpy_index_add, "errstate": np.errstate, "unshared": _numpy_unshared,
            "axpy": blas.axpy,
            "to_host": lambda a: a, "from_host": lambda a, device=None: a,
            **kernels.NUMPY_EXTRAS}


def _generic_extras(library: Any) -> dict[str, Any]:
    def from_host(a, device=None):
        return library.asarray(a, device=device)

    def astype(x, dtype, copy=True):  # numpy's dtypes name the library's own
        return library.astype(x, _library_dtype(library, dtype), copy=copy)

    def axpy(a, x, y):  # y += a * x in place: the optimizers' update
        y += a * x
    index_add = _generic_index_add(library)
    return {"index_add": index_add, "axpy": axpy, **kernels.extras(library, index_add),
            "astype": astype, "linalg": getattr(library, "linalg", None),
            "errstate": lambda **kw: contextlib.nullcontext(),
            "unshared": lambda a: False,  # views are invisible through the standard
            "to_host": lambda a: np.from_dlpack(a),
            "from_host": from_host}


NUMPY = Backend("numpy", np, _numpy_extras())
_BY_NAME["numpy"] = NUMPY
_BY_TYPE[np.ndarray] = NUMPY
for _scalar in (float, int, bool, complex, np.generic):
    _BY_TYPE[_scalar] = NUMPY


def backend_of(array: Any) -> Backend:
    """The backend of an array (numpy for numbers and numpy scalars)."""
    backend = _BY_TYPE.get(type(array))
    if backend is not None:
        return backend
    if isinstance(array, np.generic):
        return NUMPY
    get = getattr(array, "__array_namespace__", None)
    if get is None:
        raise TypeError(f"{type(array).__name__} is not an array of a known library "
                        f"(numpy, cupy, or one with __array_namespace__)")
    library = get()
    backend = _named(library.__name__.split(".")[0], library)
    _BY_TYPE[type(array)] = backend
    return backend


def _named(name: str, library: Any) -> Backend:
    backend = _BY_NAME.get(name)
    if backend is None:
        extras = _generic_extras(library)
        if name == "cupy":
            from .cuda import cupy_extras
            extras.update(cupy_extras(library))
        backend = _BY_NAME[name] = Backend(name, library, extras)
    return backend


def parse_device(device: Any) -> tuple[Backend, Any]:
    """("cpu" | "cuda" | "cuda:N" | "LIBRARY:DEVICE") -> (backend, the library's device)."""
    if device is None or isinstance(device, Device) and device == CPU:
        return NUMPY, None
    text = str(device)
    kind, _, rest = text.partition(":")
    if kind == "cpu" and not rest:
        return NUMPY, None
    if kind == "cuda":
        from .cuda import cuda_device
        return cuda_device(rest)
    library = _importable(kind)
    if library is None or not hasattr(library, "__array_api_version__"):
        raise RuntimeError(f"unknown device {text!r}: expected 'cpu', 'cuda', 'cuda:N', "
                           f"or LIBRARY:DEVICE for an array-API library")
    backend = _named(kind, library)
    if not rest:
        return backend, None
    devices = library.__array_namespace_info__().devices()
    for d in devices:
        if _device_name(backend, d) == text:
            return backend, d
    names = ", ".join(_device_name(backend, d) for d in devices)
    raise RuntimeError(f"unknown device {text!r}: {kind} has {names}")


def _importable(name: str):
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def is_device_name(x: Any) -> bool:
    """Whether `x` names a device ("cpu", "cuda:1", "array_api_strict:device1"), not a
    dtype ("float32")."""
    return isinstance(x, str) and (x.partition(":")[0] in ("cpu", "cuda") or ":" in x)


def is_floating(dtype: Any) -> bool:
    if isinstance(dtype, np.dtype):
        return dtype.kind == "f"
    return _namespace_of_dtype(dtype).isdtype(dtype, "real floating")


def is_complex(dtype: Any) -> bool:
    if isinstance(dtype, np.dtype):
        return dtype.kind == "c"
    return _namespace_of_dtype(dtype).isdtype(dtype, "complex floating")


def _namespace_of_dtype(dtype: Any):
    """The library a dtype object belongs to (numpy's dtypes are handled before this)."""
    name = type(dtype).__module__.partition(".")[0]
    backend = _BY_NAME.get(name) or _named(name, _importable(name))
    return backend.library


def device_of(array: Any) -> Device:
    return backend_of(array).device(array)


def to_device(array: Any, device: Any) -> Any:
    """`array` on `device`, copied through the host when the library changes."""
    source = backend_of(array)
    target, where = parse_device(device)
    if source is target:
        if target.single_device or source.device(array) == Device(str(device)):
            return array
        return target.xp.asarray(array, device=where, copy=True)
    return target.xp.from_host(source.xp.to_host(array), where)


def to_numpy(array: Any) -> np.ndarray:
    """A host copy of a backend's array (the array itself on numpy)."""
    return backend_of(array).xp.to_host(array)
