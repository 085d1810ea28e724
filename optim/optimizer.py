"""The optimizer base class: parameter groups, the step loop, zero_grad and state dicts.

A subclass supplies three things: its `defaults`, `_init_state(param, group)` (the
buffers a parameter needs, allocated once on its first step) and
`_update(param, grad, state, group)`, which applies the rule to one parameter's
ndarray in place. Everything else -- skipping parameters without a gradient, the
anomaly check, the index-based state dict -- lives here once.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from autograd_core import Tensor, enable_grad, is_anomaly_enabled

__all__ = ["Optimizer", "lerp_", "sqrt_array"]


def _is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def _reject_set(params: Any, name: str) -> None:
    # The state dict refers to parameters by position, so their order must be stable.
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{name}: parameters must be an ordered collection (a list), not a set")


def _is_named_pair(obj: Any) -> bool:
    return (isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str)
            and _is_tensor(obj[1]))


def _grad_array(grad: Any) -> np.ndarray:
    # Note an ndarray's own `.data` is a memoryview, so test for ndarray first.
    return grad if isinstance(grad, np.ndarray) else grad.data


def sqrt_array(x: np.ndarray) -> np.ndarray:
    """np.sqrt(x) as a new ndarray that callers may keep updating in place.

    Plain np.sqrt returns a numpy scalar for a 0-d input, which `out=` rejects.
    """
    return np.sqrt(x, out=np.empty_like(x))


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """start <- start + weight * (end - start), in place.

    Rounded like torch.lerp: from `start` for small weights, from `end` for large
    ones, so the result stays accurate as weight approaches either 0 or 1.
    """
    if weight < 0.5:
        start += weight * (end - start)
    else:
        np.subtract(end, start, out=start)  # start <- end - start
        start *= 1.0 - weight
        np.subtract(end, start, out=start)  # start <- end - (end - start) * (1 - w)
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

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
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
            if not np.issubdtype(np.asarray(p.data).dtype, np.floating):
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
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    _grad_array(p.grad)[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return closure() if given."""
        loss = None
        if closure is not None:
            if not callable(closure):
                raise TypeError(
                    f"{self._name()}.step: closure must be callable, got {type(closure).__name__}"
                )
            with enable_grad():
                loss = closure()
        if is_anomaly_enabled():
            self._check_finite()  # before any update, so no state sees the bad values
        index = 0
        for g, group in enumerate(self.param_groups):
            for p in group["params"]:
                grad = p.grad
                if grad is not None:
                    param = p._data
                    grad = grad._data if type(grad) is Tensor else _grad_array(grad)
                    if grad.shape != param.shape:
                        raise ValueError(
                            f"{type(self).__name__}: gradient of parameter {index} (param "
                            f"group {g}) has shape {grad.shape}, the parameter {param.shape}"
                        )
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self._init_state(param, group)
                    self._update(param, grad, state, group)
                index += 1
        return loss

    def _check_finite(self) -> None:
        index = 0
        for g, group in enumerate(self.param_groups):
            for p in group["params"]:
                if p.grad is not None and not np.isfinite(_grad_array(p.grad)).all():
                    raise RuntimeError(
                        f"{type(self).__name__}: gradient of parameter {index} (param group "
                        f"{g}, shape {tuple(p.data.shape)}) contains NaN or inf; the step "
                        "was not applied (anomaly detection is enabled)"
                    )
                index += 1

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


def _copy_value(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)


def _load_value(key: str, value: Any, param: np.ndarray, index: int) -> Any:
    if key == "step":
        return int(value)
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        # A copy in the parameter's dtype, like PyTorch's cast on load.
        array = np.array(value, dtype=param.dtype)
        if array.shape != param.shape:
            raise ValueError(
                f"state '{key}' of parameter {index} has shape {array.shape}, "
                f"the parameter {param.shape}"
            )
        return array
    return copy.deepcopy(value)
