"""Module, Parameter and the containers Sequential and ModuleList.

A Module finds its parameters, buffers and submodules by watching attribute
assignment (`__setattr__`), so `self.fc = nn.Linear(2, 3)` is all a user
writes. Registered values also live in the instance `__dict__`, so reading
`self.fc` or `self.weight` is a plain attribute lookup on the hot path.
Names and order follow PyTorch: a module's own parameters, then its own
buffers, then each child's, with dotted prefixes ('0.weight').
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from autograd_core.backend import (
    backend_of,
    device_of,
    is_floating,
    parse_device,
    to_device,
    to_numpy,
)
from autograd_core.tensor import RemovableHandle, Tensor, device_and_dtype, to_array

from .functional._inputs import array_of

__all__ = ["Module", "Parameter", "Sequential", "ModuleList"]

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that a Module registers as a trainable parameter.

    `Parameter(array_or_tensor)` shares the memory of an ndarray or Tensor;
    a float64 array stays float64, Python lists default to float32.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, np.float32)
        super().__init__(to_array(data), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):  # pickle and copy.copy keep the class, drop the grad
        return (Parameter, (self._data, self._rg))

    def __deepcopy__(self, memo: dict) -> Parameter:
        out = Parameter(self._data.copy(), self._rg)
        memo[id(self)] = out
        return out


class Module:
    """Base class of every layer and model: subclass it and define `forward`."""

    training: bool
    _forward_hooks: list | None = None  # None until a hook is registered: free when unused

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration -------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign a parameter before Module.__init__() call")
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign a module before Module.__init__() call")
            self._forget(name)
            d["_modules"][name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter "
                                f"{name!r} (nn.Parameter or None expected)")
            params[name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None:
                value = array_of(value)
            d["_buffers"][name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"{name!r} (nn.Module or None expected)")
            d["_modules"][name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            d[key].pop(name, None)
        d["_non_persistent"].discard(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (or None: a declared but absent parameter, like bias=False)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} "
                            f"(nn.Parameter or None expected)")
        self._forget(name)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, array: Any, persistent: bool = True) -> None:
        """A non-trained array saved in state_dict (BatchNorm's running statistics)."""
        if array is not None:
            array = array_of(array)
        self._forget(name)
        self._buffers[name] = array
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, array)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None:
            _check_module(self, f"module {name!r}", module)
        self._forget(name)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # -- calling ------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in tuple(self._forward_hooks):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(module, inputs, output)` runs after forward; it may return a new output."""
        if self._forward_hooks is None:
            object.__setattr__(self, "_forward_hooks", [])
        self._forward_hooks.append(hook)
        return RemovableHandle(self._forward_hooks, hook)

    # -- traversal ----------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set | None = None
                      ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for self and every descendant, each module once."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:  # depth first, children in registration order, no recursion
            name, module = stack.pop()
            if id(module) in memo:
                continue
            memo.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m)
                        for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter), each shared parameter once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in modules:
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{name}" if mname else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True
                      ) -> Iterator[tuple[str, np.ndarray]]:
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in modules:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{name}" if mname else name), b

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn on every submodule (children first) and then on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, (bool, np.bool_)):
            # PyTorch raises ValueError here too ("training mode is expected to be boolean").
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or zero it in place)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    # -- device and dtype ---------------------------------------------------
    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Module:
        """`model.to("cuda")`, `model.to(ag.float64)`, or both: moves and casts every
        parameter (with its grad) and buffer in place, as PyTorch does, and returns
        self. The Parameter objects stay the same, so an optimizer holding them goes
        on working; integer buffers move but keep their dtype. An unknown device or
        a non-floating dtype raises before anything changes."""
        device, dtype = device_and_dtype("Module.to", args, device, dtype)
        if dtype is not None:
            try:
                dtype = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"Module.to: expected a device such as 'cpu' or 'cuda', or a "
                                f"floating point dtype such as float32, got {dtype!r}") from None
            if dtype.kind != "f":
                raise TypeError(f"Module.to: only floating point dtypes, got {dtype}")
        if device is not None:
            device = str(device)
            parse_device(device)  # RuntimeError for an unknown device, nothing moved yet

        def moved(array: Any) -> Any:
            if dtype is not None and is_floating(array.dtype):
                backend = backend_of(array)
                if array.dtype != backend.dtype(dtype):
                    array = backend.xp.astype(array, backend.dtype(dtype))
            return array if device is None else to_device(array, device)

        for p in self.parameters():
            grad = p.grad
            p.data = moved(p.data)
            if grad is not None:
                p.grad = moved(grad.data)
        for m in self.modules():
            for name, b in list(m._buffers.items()):
                if b is not None:
                    setattr(m, name, moved(b))
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # -- state --------------------------------------------------------------
    def _state_items(self) -> Iterator[tuple[str, Any]]:
        """(key, live array) in PyTorch's order: own params, own buffers, then children."""
        for mname, m in self.named_modules():
            pre = f"{mname}." if mname else ""
            for name, p in m._parameters.items():
                if p is not None:
                    yield pre + name, p.data
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    yield pre + name, b

    def state_dict(self) -> OrderedDict:
        """name -> copy of every parameter and persistent buffer, on its device."""
        return OrderedDict((k, _copy_of(v)) for k, v in self._state_items())

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> _IncompatibleKeys:
        """Copy values in place, each onto its target's device and into its dtype
        (values may come from any device: nn.load gives host arrays). Checks
        everything first: RuntimeError names every missing, unexpected or mis-shaped
        key, and then nothing has been changed."""
        if not isinstance(state_dict, Mapping):
            hint = "; pass model.state_dict()" if isinstance(state_dict, Module) else ""
            got = "None" if state_dict is None else type(state_dict).__name__
            raise TypeError(f"load_state_dict: expected a dict of arrays (a state_dict), "
                            f"got {got}{hint}")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        values = {k: _state_value(k, state_dict[k]) for k in own if k in state_dict}
        bad_shapes = []
        for k, target in own.items():
            if k in values:
                shape = values[k].shape
                if shape != target.shape:
                    bad_shapes.append(f"size mismatch for {k}: copying a param with shape "
                                      f"{shape} from checkpoint, the shape in current "
                                      f"model is {tuple(target.shape)}.")
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in missing) + ".")
        errors.extend(bad_shapes)
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for k, target in own.items():
            if k in values:
                if isinstance(target, np.ndarray):
                    np.copyto(target, values[k], casting="unsafe")
                else:  # sent to the target's device, then cast to its dtype
                    value = to_device(values[k], device_of(target))
                    target[...] = backend_of(target).xp.astype(value, target.dtype)
        return _IncompatibleKeys(missing, unexpected)

    # -- repr ---------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses; layers override it."""
        return ""

    def __repr__(self) -> str:
        lines = [line for line in self.extra_repr().split("\n") if line]
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = type(self).__name__ + "("
        if not self._modules and len(lines) <= 1:
            return head + "".join(lines) + ")"
        return head + "\n" + "".join(f"  {line}\n" for line in lines) + ")"


def _copy_of(array: Any) -> Any:
    """A copy of an array, in its own library and on its own device."""
    if isinstance(array, np.ndarray):
        return np.array(array, copy=True)
    return backend_of(array).library.asarray(array, copy=True)


def _state_value(key: str, value: Any) -> np.ndarray:
    """A state_dict entry as a host array of numbers, or a TypeError naming its key."""
    try:
        arr = to_numpy(array_of(value))
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        raise TypeError(f"load_state_dict: {key!r} must be an array of numbers, got "
                        f"{type(value).__name__}")
    return arr


class Sequential(Module):
    """Modules applied in order. `Sequential(a, b)` or `Sequential(OrderedDict(...))`.

    Each module runs as written, its own forward and hooks; `nn.fuse(model)` makes a
    model that runs some pairs (Linear -> ReLU, ...) as one op."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                _check_module(self, f"argument {i}", m)
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():  # each module as written: nn.fuse(model) fuses
            x = m(x)
        return x

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return _at(self, index)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        _check_module(self, f"item {len(self)}", module)
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered ('0.weight', '1.weight', ...)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return _at(self, index)

    def __setitem__(self, index: int, module: Module) -> None:
        _check_index(self, index)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a ModuleList of {n}")
        _check_module(self, f"item {index}", module)
        self.add_module(str(index % n), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        _check_module(self, f"item {len(self)}", module)
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not hasattr(modules, "__iter__"):
            raise TypeError(f"ModuleList: expected an iterable of modules, got a "
                            f"{type(modules).__name__}; write ModuleList([module])")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        _check_index(self, index)
        _check_module(self, f"item {index}", module)
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)


def _check_index(owner: Module, index: Any) -> None:
    if not isinstance(index, (int, np.integer)):
        raise TypeError(f"{type(owner).__name__}: index must be an int or a slice, "
                        f"got {type(index).__name__}")


def _at(owner: Module, index: int) -> Module:
    _check_index(owner, index)
    modules = owner._modules
    n = len(modules)
    if not -n <= index < n:
        raise IndexError(f"index {index} is out of range for a container of {n} modules")
    return list(modules.values())[index % n]


def _check_module(owner: Module, where: str, value: Any) -> None:
    """TypeError naming the container and position unless value is a Module instance.
    Construction time only: never on the forward path."""
    if isinstance(value, Module):
        return
    head = f"{type(owner).__name__}: {where} is"
    if isinstance(value, type) and issubclass(value, Module):
        prefix = "nn." if value.__module__.split(".")[0] == "nn" else ""
        raise TypeError(f"{head} the class {value.__name__}, not a module; "
                        f"write {prefix}{value.__name__}()")
    if isinstance(value, (list, tuple)):
        raise TypeError(f"{head} a {type(value).__name__}, not a module; pass the modules "
                        f"unpacked: {type(owner).__name__}(*layers)")
    what = "a function" if callable(value) else f"{type(value).__name__} {value!r}"
    raise TypeError(f"{head} {what}, not a module (nn.Module instance expected)")


def _check_int(owner: str, name: str, value: Any, minimum: int = 0) -> int:
    """value as an int, or a ValueError naming owner, argument and value."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
            and value >= minimum:
        return int(value)
    what = "non-negative" if minimum <= 0 else "positive"
    raise ValueError(f"{owner}: {name} must be a {what} integer, got {value!r}")


def _check_number(owner: str, name: str, value: Any, what: str = "a number") -> float:
    """value unchanged if it is a real number (not a bool), else a TypeError naming
    owner, argument and value. Construction time only."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return value
    raise TypeError(f"{owner}: {name} must be {what}, got {value!r}")


def _check_pair(owner: str, name: str, value: Any, minimum: int = 0) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as (a, b); else a ValueError."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        try:
            return (_check_int(owner, name, value[0], minimum),
                    _check_int(owner, name, value[1], minimum))
        except ValueError:
            pass
    elif not isinstance(value, (tuple, list)):
        try:
            v = _check_int(owner, name, value, minimum)
            return v, v
        except ValueError:
            pass
    what = "non-negative" if minimum <= 0 else "positive"
    raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r} "
                     f"(each {what})")
