"""The optimizer base class: parameter groups, the step loop, zero_grad and state dicts.

A subclass supplies three things: its `defaults`, `_init_state(param, group)` (the
buffers a parameter needs, allocated once on its first step) and
`_update(param, grad, state, group)`, which applies the rule to one parameter's
array in place. Everything else -- checking every gradient before anything
changes, skipping parameters without one, the anomaly check, the index-based
state dict -- lives here once.

Backends. A parameter's array may come from any array-API library (numpy, CuPy,
array-api-strict): the rules are written with its namespace,
`xp = param.__array_namespace__()`, and in-place operators, and buffers are made
with `xp.zeros_like(param)`, so they live on the parameter's device.

All or nothing. `step` checks every gradient (an array or Tensor of real
floating dtype, of its parameter's shape and library) before it updates
anything, so a step that raises has changed no parameter and no state.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from autograd_core import Tensor, enable_grad, is_anomaly_enabled

__all__ = ["Optimizer", "lerp_"]


def _is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def _reject_set(params: Any, name: str) -> None:
    # The state dict refers to parameters by position, so their order must be stable.
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{name}: parameters must be an ordered collection (a list), not a set")


def _is_named_pair(obj: Any) -> bool:
    return (isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str)
            and _is_tensor(obj[1]))


def _grad_array(grad: Any) -> Any:
    # A Tensor's array; anything else is taken as the array itself (and checked).
    return grad._data if isinstance(grad, Tensor) else grad


# (array type, dtype) -> whether it is real floating: isdtype is slow, and a dtype is only
# compared with dtypes of its own library.
_FLOATING: dict[tuple[type, Any], bool] = {}


def _is_real_floating(array: Any) -> bool:
    namespace = getattr(array, "__array_namespace__", None)
    if namespace is None:
        return False
    key = (type(array), array.dtype)
    floating = _FLOATING.get(key)
    if floating is None:
        floating = _FLOATING[key] = bool(namespace().isdtype(array.dtype, "real floating"))
    return floating


def lerp_(start: Any, end: Any, weight: float) -> Any:
    """start <- start + weight * (end - start), in place.

    Rounded like torch.lerp: from `start` for small weights, from `end` for large
    ones, so the result stays accurate as weight approaches either 0 or 1.
    """
    if weight < 0.5:
        start += weight * (end - start)
    else:  # negations are exact: this is end - (end - start) * (1 - w), rounded as such
        start -= end
        start *= 1.0 - weight
        start += end
    return start


class Optimizer:
    """Base class for the optimizers; holds `param_groups` and per-parameter `state`.

    `params` is an iterable of parameters, or of dicts (parameter groups) each with a
    'params' entry and optional hyperparameters that override `defaults`.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self._validate(defaults)
        self.defaults = defaults
        self.state: dict[Any, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        name = self._name()
        if _is_tensor(params):
            raise TypeError(
                f"{name}: params should be an iterable of parameters or of "
                f"dicts, but got a single {type(params).__name__}; wrap it in a list"
            )
        if callable(getattr(params, "parameters", None)) and hasattr(params, "named_parameters"):
            raise TypeError(
                f"{name}: params must be an iterable of Parameters or dicts, got a "
                f"{type(params).__name__} module; pass model.parameters()"
            )
        if isinstance(params, dict):
            if "params" in params:
                raise TypeError(
                    f"{name}: params is a single parameter group (a dict); wrap it in a "
                    "list: [group]"
                )
            raise TypeError(
                f"{name}: params is a dict (such as dict(model.named_parameters())), and a "
                "dict of parameters is not a param group; pass model.parameters()"
            )
        _reject_set(params, name)
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(
                f"{name}: params must be an iterable of Parameters or dicts, "
                f"got {type(params).__name__}"
            ) from None
        if not groups:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _name(self) -> str:
        """The optimizer's class name, which every error message starts with."""
        return type(self).__name__

    def _check_numbers(self, group: dict[str, Any], *names: str) -> None:
        """TypeError naming the optimizer unless each group[name] is a real number.

        Called from `_validate` (construction and add_param_group), before the range
        checks compare the values, so a string or None gets a clear message.
        """
        for key in names:
            value = group[key]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{self._name()}: {key} must be a number, got {value!r}")

    def _check_betas(self, group: dict[str, Any]) -> None:
        """TypeError unless group['betas'] is a pair of real numbers."""
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(
                isinstance(b, numbers.Real) and not isinstance(b, bool) for b in betas)):
            raise TypeError(
                f"{self._name()}: betas must be a pair (beta1, beta2), got {betas!r}"
            )

    # -- subclass interface ------------------------------------------------------

    def _validate(self, group: dict[str, Any]) -> None:
        """Raise ValueError for an invalid hyperparameter in `group`."""

    def _init_state(self, param: Any, group: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- public API --------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, filling missing hyperparameters from `defaults`."""
        name = self._name()
        index = len(self.param_groups)
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: parameter group {index} must be a dict, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}: parameter group {index} has no 'params'")
        params = param_group["params"]
        _reject_set(params, name)
        if _is_tensor(params):
            params = [params]
        elif isinstance(params, dict):
            raise TypeError(
                f"{name}: 'params' of parameter group {index} is a dict; a dict of "
                "parameters is not a param group; pass model.parameters()"
            )
        else:
            try:
                params = list(params)
            except TypeError:
                raise TypeError(
                    f"{name}: 'params' of parameter group {index} must be a parameter or an "
                    f"iterable of them, got {type(params).__name__}"
                ) from None
        for p in params:
            if not _is_tensor(p):
                if _is_named_pair(p):
                    raise TypeError(
                        f"{name}: params holds (name, parameter) pairs; pass model.parameters()"
                    )
                if isinstance(p, str):
                    raise TypeError(
                        f"{name}: params holds strings such as {p!r} (parameter names?); "
                        "pass model.parameters()"
                    )
                raise TypeError(f"{name} can only optimize Tensors, got {type(p).__name__}")
            if not getattr(p, "is_leaf", True):
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor; use .detach() first")
            if not _is_real_floating(p.data):
                raise TypeError(
                    f"{name}: can only optimize floating-point parameters, got {p.data.dtype}"
                )
        group = {k: v for k, v in param_group.items() if k != "params"}
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)

        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: parameter group {index} lists the same parameter twice")
        if seen.intersection(ids):
            raise ValueError(
                f"{name}: some parameters of group {index} appear in more than one parameter group"
            )
        self.param_groups.append({"params": params, **group})

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (the default, as in PyTorch) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:  # (the attribute, not the property: a step reads
                    continue  # and clears every parameter's gradient)
                if set_to_none:
                    p._grad = None
                else:
                    _grad_array(p._grad)[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return closure() if given.

        Every gradient is checked first: a step that raises changes nothing."""
        loss = None
        if closure is not None:
            if not callable(closure):
                raise TypeError(
                    f"{self._name()}.step: closure must be callable, got {type(closure).__name__}"
                )
            with enable_grad():
                loss = closure()
        work = self._checked_gradients()
        if is_anomaly_enabled():
            self._check_finite(work)  # before any update, so no state sees the bad values
        states, update = self.state, self._update
        for p, param, grad, group in work:
            state = states.get(p)
            if state is None:
                state = states[p] = self._init_state(param, group)
            update(param, grad, state, group)
        return loss

    def _checked_gradients(self) -> list[tuple[Any, Any, Any, dict[str, Any]]]:
        """(parameter, its array, its gradient's array, group) for each parameter with
        a gradient; raises, naming the parameter, at a bad one."""
        work = []
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is not None:
                    param = p._data
                    grad = grad._data if type(grad) is Tensor else _grad_array(grad)
                    # the usual case decided inline: a step checks every parameter
                    if type(grad) is not type(param) or grad.shape != param.shape \
                            or not _FLOATING.get((type(grad), grad.dtype)) \
                            and not _is_real_floating(grad):
                        self._check_gradient(p, param, grad)
                    work.append((p, param, grad, group))
        return work

    def _check_gradient(self, p: Any, param: Any, grad: Any) -> None:
        """The full checks, for a gradient that the inline test in _checked_gradients
        did not pass; raise at a bad one, naming the parameter."""
        index, g = self._position(p)
        where = f"{self._name()}: gradient of parameter {index} (param group {g})"
        if not _is_real_floating(grad):
            kind = getattr(grad, "dtype", type(grad).__name__)
            raise TypeError(f"{where} must be a Tensor or an array of real floating point "
                            f"numbers, got {kind}; the step was not applied")
        xp = param.__array_namespace__()
        if grad.__array_namespace__() is not xp:
            raise TypeError(f"{where} is an array of {_library(grad)}, the parameter one of "
                            f"{_library(param)}; the step was not applied")
        if tuple(grad.shape) != tuple(param.shape):
            raise ValueError(f"{where} has shape {tuple(grad.shape)}, the parameter "
                             f"{tuple(param.shape)}; the step was not applied")

    def _check_finite(self, work: list[tuple[Any, ...]]) -> None:
        for p, param, grad, _ in work:
            xp = grad.__array_namespace__()
            if not bool(xp.all(xp.isfinite(grad))):
                index, g = self._position(p)
                raise RuntimeError(
                    f"{type(self).__name__}: gradient of parameter {index} (param group "
                    f"{g}, shape {tuple(param.shape)}) contains NaN or inf; the step "
                    "was not applied (anomaly detection is enabled)"
                )

    def _position(self, param: Any) -> tuple[int, int]:
        """(index, group index) of a parameter, for an error message."""
        index = 0
        for g, group in enumerate(self.param_groups):
            for p in group["params"]:
                if p is param:
                    return index, g
                index += 1
        raise ValueError("not a parameter of this optimizer")

    # -- state dicts -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return {'state': {index: {...}}, 'param_groups': [...]}, arrays copied.

        Parameters are numbered in order across groups, so the dict loads into a fresh
        optimizer built the same way over a fresh model.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: _copy_value(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load state and hyperparameters saved by `state_dict()` (arrays are copied)."""
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{self._name()}.load_state_dict: expected a dict (an optimizer state_dict), "
                f"got {type(state_dict).__name__}"
            )
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        if missing:
            raise ValueError(
                f"{self._name()}.load_state_dict: the dict has no {missing[0]!r} entry; expected "
                f"an optimizer state_dict with 'state' and 'param_groups', got keys "
                f"{sorted(map(str, state_dict))}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, "
                f"the optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, Any] = {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"parameter group {g} of the loaded state dict has "
                    f"{len(saved['params'])} parameters, the optimizer's has "
                    f"{len(group['params'])}"
                )
            by_index.update(zip(saved["params"], group["params"], strict=True))

        state: dict[Any, dict[str, Any]] = {}
        for key, saved_state in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is not None:
                state[p] = {k: _load_value(k, v, p.data, int(key)) for k, v in saved_state.items()}
        # Keep the group dicts themselves (schedulers may hold them) but take the
        # saved hyperparameters, as PyTorch does.
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            params = group["params"]
            group.clear()
            group["params"] = params
            group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


def _library(array: Any) -> str:
    return type(array).__module__.split(".")[0]


def _is_array(value: Any) -> bool:
    return hasattr(value, "__array_namespace__") and not isinstance(value, np.generic)


def _copy_value(value: Any) -> Any:
    if _is_array(value):
        return value.__array_namespace__().asarray(value, copy=True)
    return copy.deepcopy(value)


def _load_value(key: str, value: Any, param: Any, index: int) -> Any:
    if key == "step":
        return int(value)
    if _is_array(value) or hasattr(value, "__array__"):
        # A copy in the parameter's dtype, library and device, like PyTorch's cast on load.
        xp = param.__array_namespace__()
        array = xp.asarray(value, dtype=param.dtype, copy=True, device=param.device)
        if tuple(array.shape) != tuple(param.shape):
            raise ValueError(
                f"state '{key}' of parameter {index} has shape {array.shape}, "
                f"the parameter {param.shape}"
            )
        return array
    return copy.deepcopy(value)
