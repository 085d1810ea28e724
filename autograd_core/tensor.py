"""The Tensor, the graph Node, and `apply`: the one place an op is executed.

Hot path: every op call goes through `apply`, which finds the inputs'
backend, runs the op's forward on their arrays and, when some input requires
grad and grad mode is on, records one `Node`. No reflection, no per-call dicts.
"""

from __future__ import annotations

import inspect
import itertools
import weakref
from collections.abc import Callable
from numbers import Number
from typing import Any

import numpy as np

from .backend import NUMPY, backend_of, device_of, is_device_name, is_floating, to_numpy
from .grad_mode import STATE
from .registry import COMPOSITES, OP, T

ndarray = np.ndarray
_new = object.__new__
_seq = itertools.count()  # creation order is a topological order of the graph
_FLOATS = (np.float16, np.float32, np.float64, np.longdouble)


class Node:
    """One op application in the graph: what backward needs to run its rule.

    `parents[i]` is the input Tensor when it requires grad, else None;
    `args` are the forward's input arrays, `ans` its output. Backward frees
    `args`, `ans` and `parents` unless the graph is retained. (`apply` sets the
    same fields itself.)
    """

    __slots__ = ("op", "parents", "args", "kw", "ans", "saved", "seq", "hooks", "retained",
                 "site", "__weakref__")

    def __init__(self, op, parents, args, kw, ans, saved=None):
        self.op = op
        self.parents = parents
        self.args = args
        self.kw = kw
        self.ans = ans
        self.saved = saved  # what a `saves` op's forward kept for its rules
        self.seq = next(_seq)
        self.hooks = None
        self.retained = None
        self.site = None  # "file:line" of the user's call, in anomaly mode only

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def next_functions(self) -> tuple:
        return tuple(p._node if p is not None else None for p in self.parents or ())

    def __repr__(self) -> str:
        return f"<{self.op.name} backward>"


def _make(data: ndarray, node: Node | None) -> Tensor:
    t = _new(Tensor)
    t._data = data
    t._node = node
    t._rg = node is not None
    t._grad = None
    t._hooks = None
    return t


def _record(op, parents, args, kw, out):
    node = Node(op, parents, args, kw, out)
    if STATE.anomaly:
        _check(node)
    return _make(out, node)


def _check(node: Node) -> None:
    from .anomaly import check_forward
    check_forward(node)


def _op_error(op, arrays, err: Exception) -> Exception:
    shapes = " and ".join("None" if a is None else str(tuple(np.shape(a))) for a in arrays)
    why = str(err)
    if why.startswith((f"{op.name}: ", f"{op.name} ")):  # the forward may name the op
        why = why[len(op.name):].lstrip(": ")
    msg = f"{op.name}: {why} (input shapes {shapes})"
    for kind in (ValueError, IndexError, TypeError):
        if isinstance(err, kind):
            return kind(msg)
    return RuntimeError(msg)


def without_underflow(err: Exception, fn: Callable, *args: Any, **kw: Any) -> Any:
    """fn(*args, **kw) run again with underflow ignored if err was only underflow; else
    err raised again. The one place the engine forgives underflow.

    Underflow is no error here: the stable forms underflow by design (exp(-|x|) at
    |x| = 1e4 is 0, the exact float answer). Under np.seterr(under="raise") an op's
    forward or rule that underflows runs again; overflow, division by zero and
    invalid values still raise as asked. A second run is safe: forwards write only
    their own arrays, and the rules that may overwrite g (relu's) multiply by 0 or 1,
    which never underflows."""
    if not (isinstance(err, FloatingPointError) and "underflow" in str(err)):
        raise err
    with np.errstate(under="ignore"):
        return fn(*args, **kw)


def _forward_failed(op, xp, arrays, kw, err: Exception):
    """The forward's result when err was only underflow; else the error, naming the op
    (and the input that is no array, if one is not)."""
    try:
        return without_underflow(err, op.forward, xp, *arrays, **(kw or {}))
    except Exception as again:
        bad = _not_an_array(op, arrays)
        if bad is not None:
            raise TypeError(f"{op.name}: input {bad} must be a Tensor, an array or a number, "
                            f"got {type(arrays[bad]).__name__}") from None
        raise _op_error(op, arrays, again) from None


def _not_an_array(op, arrays) -> int | None:
    """The position of the first input that is neither an array nor a number (None
    counts only where the forward has no default for it: a bias may be None)."""
    params = list(inspect.signature(op.forward).parameters.values())[1:] if op.nin >= 0 else []
    for i, a in enumerate(arrays):
        if a is None:
            if i < len(params) and params[i].default is params[i].empty:
                return i
        elif not isinstance(a, (Number, np.generic)) and not hasattr(a, "shape"):
            return i
    return None


_F64 = np.dtype(np.float64)
_NUMBERS = frozenset((float, int, bool, complex))


def _default_float(out: ndarray, arrays, kw) -> ndarray:
    """A float64 result only where float64 was asked for (a float64 array input, or
    a dtype= parameter): from Python floats and integers numpy makes float64, where
    the default float dtype (and PyTorch's) is float32. Beside an array, a numpy
    scalar counts as the Python number it is (PyTorch's wrapped numbers): a float32
    tensor times np.float64(2) stays float32. Alone, it is a float64 input, as
    ag.tensor(np.float64(2)) is."""
    if kw and "dtype" in kw:
        return out
    array = scalar64 = False
    for a in arrays:
        if isinstance(a, ndarray):
            if a.dtype.type is np.float64:  # .type: a big-endian float64 input counts too
                return out
            array = True
        elif isinstance(a, np.generic) and a.dtype.type is np.float64:
            scalar64 = True
    if scalar64:
        if not array:
            return out
        weak = np.result_type(*(a.item() if isinstance(a, np.generic) else a
                                for a in arrays if a is not None))
        if weak != _F64:  # a float16 tensor times np.float64(2) stays float16
            return out.astype(weak)
    return out.astype(np.float32)


def _as_result(backend, out, arrays, kw):
    """The forward's result as an array of `backend`, float32 unless float64 was asked
    for (see _default_float)."""
    if backend is NUMPY:
        if type(out) is not ndarray:
            if hasattr(out, "__array_namespace__") and not isinstance(out, np.generic):
                return out  # to_device's result, on another backend
            out = np.asarray(out)  # numpy gives scalars for 0-d results
        return _default_float(out, arrays, kw) if out.dtype is _F64 else out
    xp = backend.xp
    if not hasattr(out, "__array_namespace__") or isinstance(out, np.generic):
        out = xp.asarray(out)
    elif backend_of(out) is not backend:
        return out  # to_device's result, on another backend
    if out.dtype == xp.float64 and not (kw and "dtype" in kw) and not any(
            type(a) is type(out) and a.dtype == xp.float64 for a in arrays):
        out = xp.astype(out, xp.float32)
    return out


def _unrecorded(op, arrays, out) -> None:
    """Anomaly mode checks, in grad mode, ops that record no graph too (no input
    requires grad). Under no_grad it does not: custom backwards run there, and
    their node's check names them."""
    from .anomaly import check_unrecorded
    check_unrecorded(op, arrays, out)


def _devices_differ(first, other) -> RuntimeError:
    return RuntimeError(f"expected all inputs on one device, found {device_of(first)} and "
                        f"{device_of(other)}; move one with .to(device)")


def _backend(arrays):
    """The backend of an op's input arrays; a RuntimeError if they sit on two devices
    (nothing moves between devices silently)."""
    backend = None
    for a in arrays:
        if isinstance(a, np.generic) or not hasattr(a, "__array_namespace__"):
            continue  # a number, or no array: the forward will say
        other = backend_of(a)
        if backend is None:
            backend = other
        elif other is not backend:
            first = next(b for b in arrays if type(b) is not type(a)
                         and hasattr(b, "__array_namespace__") and not isinstance(b, np.generic))
            raise _devices_differ(first, a)
    if backend is None:
        return NUMPY
    if not backend.single_device:
        _check_devices(arrays)
    return backend


def _check_devices(arrays) -> None:
    """The inputs of a library with several devices all sit on one of them."""
    where = None
    for a in arrays:
        device = getattr(a, "device", None)
        if device is not None and not isinstance(a, np.generic):
            if where is None:
                where = a
            elif device != where.device:
                raise _devices_differ(where, a)


def _inputs(args: tuple) -> tuple:
    """(arrays, parents, needs_grad, numpy_only) of an op's inputs: the input arrays,
    each input that takes a gradient (else None), whether any does, and whether every
    array is numpy's or a number (the usual case: no backend lookup)."""
    arrays = []
    parents = []
    needs_grad = False
    numpy_only = True
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            if a._rg:
                needs_grad = True
                parents.append(a)
            else:
                parents.append(None)
            if type(d) is not ndarray:
                numpy_only = False
        else:
            parents.append(None)
            if type(a) in _NUMBERS:  # (a Python number: the usual constant, checked first)
                d = a
            elif type(a) is list or type(a) is tuple:
                d = to_array(a)
            else:
                d = a
                if type(d) is not ndarray and d is not None:
                    numpy_only = False
        arrays.append(d)
    # tuples: the forward's call takes one as it is, and so does the Node
    return tuple(arrays), tuple(parents), needs_grad, numpy_only


def apply(op, args: tuple, kw: dict | None = None) -> Tensor:
    """Run `op` on Tensors, arrays or scalars; record a Node if grad is needed."""
    first = args[0] if args else None
    if type(first) is Tensor and (len(args) == 1 or len(args) == 2 and type(args[1]) in _NUMBERS):
        # A Tensor alone or with a Python number, most calls: what _inputs gives,
        # without its loop (chain1k: -900 instructions per op, 2.8%)
        d, needs_grad = first._data, first._rg
        parent = first if needs_grad else None
        arrays, parents = ((d,), (parent,)) if len(args) == 1 else ((d, args[1]), (parent, None))
        numpy_only = type(d) is ndarray
    else:
        arrays, parents, needs_grad, numpy_only = _inputs(args)
    backend = NUMPY if numpy_only else _backend(arrays)
    record = needs_grad and STATE.enabled
    forward = backend.forwards[op]
    saved = None
    try:
        if not op.saves:
            out = forward(*arrays, **kw) if kw else forward(*arrays)
        else:  # its saved intermediates are worth computing only for a node
            out, saved = forward(*arrays, keep=record, **(kw or {}))
    except Exception as err:
        out = _forward_failed(op, backend.xp, arrays, kw, err)
        if op.saves:
            out, saved = out
    if type(out) is not ndarray or out.dtype is _F64:
        out = _as_result(backend, out, arrays, kw)
    t = _new(Tensor)
    t._data = out
    t._grad = t._hooks = None
    if record:
        # Node(...) written out: a Python call per op is 2% of chain1k's time
        t._node = node = _new(Node)
        node.op, node.parents, node.args = op, parents, arrays
        node.kw, node.ans, node.saved = kw or None, out, saved
        node.seq = next(_seq)
        node.hooks = node.retained = node.site = None
        t._rg = True
        if STATE.anomaly:
            _check(node)
    else:
        t._node = None
        t._rg = False
        if STATE.anomaly and STATE.enabled:
            _unrecorded(op, arrays, out)
    return t


def device_and_dtype(name: str, args: tuple, device: Any, dtype: Any) -> tuple:
    """`.to(...)`'s arguments: a device, a dtype, or both, each at most once."""
    for arg in args:
        if is_device_name(arg):
            if device is not None:
                raise TypeError(f"{name}: the device is given twice")
            device = arg
        elif dtype is None:
            dtype = arg
        else:
            raise TypeError(f"{name}: expected a device and/or a dtype, got {args!r}")
    return device, dtype


def _rapply(op, a: Tensor, b: Any) -> Tensor:
    """`b op a`, for the reflected dunders."""
    return apply(op, (b, a))


def as_dtype(dtype: Any, name: str = "tensor") -> np.dtype | None:
    """np.dtype(dtype) (None stays None), or a TypeError naming the caller `name`."""
    if dtype is None or isinstance(dtype, np.dtype):
        return dtype
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: dtype {dtype!r} is not a numpy dtype (such as float32, "
                        f"float64 or int64)") from None


def to_array(data: Any, dtype=None, copy: bool = False) -> ndarray:
    """An array for `data`: an array of any library stays in its library and on its
    device; anything else becomes a numpy array, Python floats and lists float32."""
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        data = data._data
    if type(data) is not ndarray and hasattr(data, "__array_namespace__") \
            and not isinstance(data, np.generic):
        backend = backend_of(data)
        if dtype is not None:
            data = backend.xp.astype(data, backend.dtype(dtype), copy=copy)
        return backend.library.asarray(data, copy=True) if copy and dtype is None else data
    if isinstance(data, ndarray):
        arr = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype)
    else:
        try:
            arr = np.array(data, dtype=dtype)
        except ValueError as err:  # a ragged nested list, say
            raise ValueError(f"tensor: cannot make an array of {type(data).__name__} "
                             f"data: {err}") from None
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(np.float32)  # a numpy float64 scalar stays float64
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"tensor: data must be numbers or booleans, got "
                        f"{type(data).__name__} of dtype {arr.dtype}")
    return arr


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    `data` is the array (a numpy ndarray on "cpu", a CuPy array on "cuda");
    `grad` the accumulated gradient (a Tensor) after `backward`; `grad_fn` the
    Node that made it (None for leaves).
    """

    __slots__ = ("_data", "_node", "_rg", "_grad", "_hooks", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None) -> None:
        self._data = to_array(data, dtype)
        self._node = None
        self._rg = False
        self._grad = None
        self._hooks = None
        if requires_grad:
            self.requires_grad = True

    # -- attributes ---------------------------------------------------------
    @property
    def data(self) -> ndarray:
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if isinstance(value, Tensor):
            value = value._data
        self._data = value if hasattr(value, "__array_namespace__") else np.asarray(value)

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        """PyTorch's checks: a gradient has its tensor's shape, dtype and device."""
        if value is not None:
            if not isinstance(value, Tensor):
                if not hasattr(value, "__array_namespace__") or isinstance(value, np.generic):
                    raise TypeError(f"assigned grad must be a Tensor or None, got "
                                    f"{type(value).__name__}")
                value = _make(value, None)
            if value.shape != self.shape:
                raise ValueError(f"assigned grad has shape {value.shape} but the tensor "
                                 f"has shape {self.shape}")
            if type(value._data) is not type(self._data) or value.device != self.device:
                raise RuntimeError(f"assigned grad is on {value.device} but the tensor "
                                   f"is on {self.device}")
            if value._data.dtype != self._data.dtype:
                raise TypeError(f"assigned grad has dtype {value.dtype} but the tensor "
                                f"has dtype {self.dtype}")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self._node is not None and not flag:
            raise RuntimeError("requires_grad can only be turned off on a leaf; use .detach()")
        if flag and not is_floating(self._data.dtype):
            raise TypeError(f"only floating point tensors can require grad, "
                            f"got dtype {self._data.dtype}")
        self._rg = bool(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        return self._node

    @property
    def device(self) -> str:
        """Where the data lives: "cpu" for numpy, "cuda:0" for CuPy (a str subclass)."""
        return device_of(self._data)

    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    size = property(lambda self: self._data.size)
    T = property(lambda self: OP.transpose(self))
    mT = property(lambda self: OP.swapaxes(self, -1, -2))

    def numel(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")  # PyTorch's words
        return self._data.shape[0]

    __hash__ = object.__hash__  # by identity (== is elementwise), at C speed

    # -- conversion ---------------------------------------------------------
    def numpy(self) -> ndarray:
        if type(self._data) is not ndarray:
            raise RuntimeError(f"numpy: the tensor is on {self.device}; call .cpu() first "
                               f"to copy it to the host")
        return self._data

    def __array__(self, dtype=None, copy=None) -> ndarray:
        data = self.numpy()
        if copy:
            return np.array(data, dtype=dtype, copy=True)
        return data if dtype is None else data.astype(dtype, copy=False)

    def item(self) -> int | float | bool:
        if self._data.size != 1:
            raise ValueError(f"item: a Tensor of {self._data.size} elements (shape "
                             f"{self.shape}) is not one Python number")
        return self._host().item()

    def tolist(self) -> Any:
        return self._host().tolist()

    def _host(self) -> ndarray:
        """The numbers on the host: a host read, on a device (what the user asked for)."""
        return self._data if type(self._data) is ndarray else to_numpy(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self._host())

    def __index__(self) -> int:
        return self._host().__index__()

    def detach(self) -> Tensor:
        """The same data, cut off from the graph (shares memory)."""
        return _make(self._data, None)

    def clone(self) -> Tensor:
        """A copy of the data, in the graph (its gradient flows back to self)."""
        return OP.copy(self)

    def astype(self, dtype) -> Tensor:
        dtype = as_dtype(dtype, "astype")
        if dtype.kind not in "fc":  # integer and bool tensors never require grad
            backend = backend_of(self._data)
            return _make(backend.xp.astype(self._data, backend.dtype(dtype)), None)
        return OP.astype(self, dtype=dtype)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Tensor:
        """`t.to("cuda")`, `t.to(ag.float64)`, or both: a device, a dtype, or each once.
        Moving is in the graph: the gradient moves back."""
        device, dtype = device_and_dtype("to", args, device, dtype)
        out = self
        if dtype is not None and as_dtype(dtype, "to") != self._data.dtype:
            out = out.astype(dtype)
        if device is not None and str(device) != out.device:
            out = OP.to_device(out, device=str(device))
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def __repr__(self) -> str:
        body = np.array2string(self._host(), separator=", ", prefix="tensor(")
        extra = ""
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self._data.dtype != np.float32 or not self._data.size:
            extra += f", dtype={self._data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.op.name}>"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # -- autograd -----------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`."""
        _run_backward((self,), (gradient,), retain_graph or create_graph, create_graph)

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """`fn(grad)` runs when this tensor's gradient is computed; it may return a
        replacement. Returns a handle: `handle.remove()` (or `handle()`) takes it off."""
        if not callable(fn):
            raise TypeError(f"register_hook: the hook must be callable, got "
                            f"{type(fn).__name__}")
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        owner = self if self._node is None else self._node
        hooks = (owner._hooks if owner is self else owner.hooks)
        if hooks is None:
            hooks = []
            if owner is self:
                self._hooks = hooks
            else:
                owner.hooks = hooks
        hooks.append(fn)
        return RemovableHandle(hooks, fn)

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward."""
        if self._node is not None:
            self._node.retained = weakref.ref(self)

    # -- operators ----------------------------------------------------------
    def __add__(self, o): return apply(OP.add, (self, o))
    def __radd__(self, o): return _rapply(OP.add, self, o)
    def __sub__(self, o): return apply(OP.subtract, (self, o))
    def __rsub__(self, o): return _rapply(OP.subtract, self, o)
    def __mul__(self, o): return apply(OP.multiply, (self, o))
    def __rmul__(self, o): return _rapply(OP.multiply, self, o)
    def __truediv__(self, o): return apply(OP.divide, (self, o))
    def __rtruediv__(self, o): return _rapply(OP.divide, self, o)
    def __pow__(self, o): return apply(OP.power, (self, o))
    def __rpow__(self, o): return _rapply(OP.power, self, o)
    def __matmul__(self, o): return apply(OP.matmul, (self, o))
    def __rmatmul__(self, o): return _rapply(OP.matmul, self, o)
    def __neg__(self): return apply(OP.negative, (self,))
    def __pos__(self): return self
    def __abs__(self): return apply(OP.abs, (self,))

    def _compare(self, other, name: str) -> Tensor:
        other = other._data if isinstance(other, Tensor) else other
        xp = backend_of(self._data).xp
        try:
            out = getattr(xp, name)(self._data, other)
        except ValueError:  # numpy's message names neither the op nor the shapes as (2, 3)
            raise ValueError(f"{name}: operands of shapes {self.shape} and "
                             f"{tuple(np.shape(other))} do not broadcast") from None
        return _make(np.asarray(out) if type(out) is not ndarray and xp is NUMPY.xp else out,
                     None)

    def __lt__(self, o): return self._compare(o, "less")
    def __le__(self, o): return self._compare(o, "less_equal")
    def __gt__(self, o): return self._compare(o, "greater")
    def __ge__(self, o): return self._compare(o, "greater_equal")
    def __eq__(self, o): return self._compare(o, "equal")  # type: ignore[override]
    def __ne__(self, o): return self._compare(o, "not_equal")  # type: ignore[override]
    def __and__(self, o): return self._compare(o, "logical_and")
    def __or__(self, o): return self._compare(o, "logical_or")
    def __xor__(self, o): return self._compare(o, "logical_xor")
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__
    def __invert__(self): return _make(backend_of(self._data).xp.logical_not(self._data), None)

    def __getitem__(self, index) -> Tensor:
        return OP.getitem(self, index=_plain_index(index))

    def __setitem__(self, index, value) -> None:
        if self._rg:
            raise RuntimeError("in-place assignment into a tensor that requires grad "
                               "would corrupt its graph; build a new tensor with "
                               "ag.where, ag.concatenate or ag.pad instead")
        self._data[_plain_index(index)] = value._data if isinstance(value, Tensor) else value

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # -- methods with numpy's names (PyTorch's dim=/keepdim= taken too) ------
    def sum(self, axis=None, keepdims=False, **torch):
        return OP.sum(self, axis=axis, keepdims=keepdims, **torch)

    def mean(self, axis=None, keepdims=False, **torch):
        return OP.mean(self, axis=axis, keepdims=keepdims, **torch)

    def prod(self, axis=None, keepdims=False, **torch):
        return OP.prod(self, axis=axis, keepdims=keepdims, **torch)

    def max(self, axis=None, keepdims=False, **torch):
        return OP.max(self, axis=axis, keepdims=keepdims, **torch)

    def min(self, axis=None, keepdims=False, **torch):
        return OP.min(self, axis=axis, keepdims=keepdims, **torch)

    def var(self, axis=None, ddof=0, keepdims=False, **torch):
        return OP.var(self, axis=axis, ddof=ddof, keepdims=keepdims, **torch)

    def std(self, axis=None, ddof=0, keepdims=False, **torch):
        return OP.std(self, axis=axis, ddof=ddof, keepdims=keepdims, **torch)

    def argmax(self, axis=None, keepdims=False, **torch):
        return _nograd.argmax(self, axis=axis, keepdims=keepdims, **torch)

    def argmin(self, axis=None, keepdims=False, **torch):
        return _nograd.argmin(self, axis=axis, keepdims=keepdims, **torch)

    def reshape(self, *shape):
        return OP.reshape(self, shape=_varargs(shape))

    def transpose(self, *axes):
        return OP.transpose(self, axes=_varargs(axes) if axes else None)

    def swapaxes(self, axis1, axis2): return OP.swapaxes(self, axis1, axis2)
    def flatten(self): return OP.reshape(self, shape=(-1,))
    def ravel(self): return OP.reshape(self, shape=(-1,))
    def squeeze(self, axis=None): return OP.squeeze(self, axis=axis)
    def clip(self, a_min=None, a_max=None): return T.clip(self, a_min, a_max)
    def dot(self, other): return COMPOSITES["dot"][0](self, other)
    def repeat(self, repeats, axis=None): return OP.repeat(self, repeats, axis)
    def exp(self): return apply(OP.exp, (self,))
    def log(self): return apply(OP.log, (self,))
    def sqrt(self): return apply(OP.sqrt, (self,))
    def tanh(self): return apply(OP.tanh, (self,))
    def sigmoid(self): return apply(OP.sigmoid, (self,))
    def abs(self): return apply(OP.abs, (self,))

    def norm(self, axis=None, keepdims=False, **torch):
        return OP.norm(self, axis=axis, keepdims=keepdims, **torch)

    # -- PyTorch's names ---------------------------------------------------
    def view(self, *shape):
        """reshape (values are never shared with the view's source in place here)."""
        return OP.reshape(self, shape=_varargs(shape))

    def unsqueeze(self, axis: int): return OP.expand_dims(self, axis=axis)
    def permute(self, *axes): return OP.transpose(self, axes=_varargs(axes))

    def masked_fill(self, mask, value):
        """`value` where mask is true; the gradient is 0 there."""
        return OP.where(mask, value, self)

    def softmax(self, axis: int = -1, *, dim=None):
        return _softmax.softmax(self, axis, dim=dim)

    def log_softmax(self, axis: int = -1, *, dim=None):
        return _softmax.log_softmax(self, axis, dim=dim)

    # -- numpy functions on Tensors run the registered ops (MyGrad's habit) ---
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _dispatch(ufunc.__name__, "ufunc", inputs, kwargs,
                         method != "__call__" or kwargs.get("out") is not None)

    def __array_function__(self, func, types, args, kwargs):
        linalg = func.__module__.endswith("linalg")
        return _dispatch(func.__name__, "linalg" if linalg else "function", args, kwargs,
                         False)


# numpy's names for ag's functions, where they differ.
_NUMPY_NAMES = {"absolute": "abs", "amax": "max", "amin": "min", "true_divide": "divide",
                "pow": "power", "concat": "concatenate", "rint": "round", "around": "round",
                "cumulative_sum": "cumsum", "cumulative_prod": "cumprod"}
_COMPARISONS = {"less": "__lt__", "less_equal": "__le__", "greater": "__gt__",
                "greater_equal": "__ge__", "equal": "__eq__", "not_equal": "__ne__",
                "logical_and": "__and__", "logical_or": "__or__", "logical_xor": "__xor__",
                "bitwise_and": "__and__", "bitwise_or": "__or__", "bitwise_xor": "__xor__"}


def _dispatch(name: str, kind: str, args, kwargs, unsupported: bool):
    """numpy's `name` applied to Tensors: ag's function of that name, or a TypeError
    that names the one to use."""
    import autograd_core as ag
    if not unsupported:
        if name in _COMPARISONS and len(args) == 2:
            a, b = args
            if isinstance(a, Tensor):
                return getattr(a, _COMPARISONS[name])(b)
            return getattr(_make(backend_of(b._data).xp.asarray(a), None),
                           _COMPARISONS[name])(b)
        if name in ("shape", "ndim", "size"):
            return getattr(args[0], name)
        namespace = ag.linalg if kind == "linalg" and hasattr(ag, "linalg") else ag
        fn = getattr(namespace, _NUMPY_NAMES.get(name, name), None)
        if callable(fn) and not isinstance(fn, type):
            return fn(*args, **kwargs)
    import difflib
    near = difflib.get_close_matches(_NUMPY_NAMES.get(name, name), dir(ag), n=1)
    hint = f"; use ag.{near[0]}" if near else "; compute on t.detach().numpy() if no " \
                                               "gradient is needed"
    raise TypeError(f"numpy.{'linalg.' if kind == 'linalg' else ''}{name} has no "
                    f"registered op for Tensors (out= and ufunc methods neither){hint}")


class RemovableHandle:
    """What register_hook returns: `handle.remove()` (or `handle()`) takes the hook off."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)

    __call__ = remove


def _varargs(args: tuple) -> Any:
    """`t.reshape(2, 3)` and `t.reshape((2, 3))` mean the same."""
    if len(args) == 1 and (args[0] is None or isinstance(args[0], (tuple, list))):
        return tuple(args[0]) if args[0] is not None else None
    return tuple(args)


def _plain_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


from . import nograd as _nograd  # noqa: E402  (functions without a gradient, on Tensors)
from .engine import backward as _run_backward  # noqa: E402  (the engine needs Tensor)
from .ops import softmax as _softmax  # noqa: E402
