"""Function transforms: grad, value_and_grad, jacobian, hessian, vjp, jvp, hvp.

All of them stand on `gradients` (reverse mode). They compose: inside
another transform (`ag.grad(ag.grad(f))`), or when an argument is already
part of a graph, gradients are built with `create_graph=True` so the outer
transform can differentiate them again.

jvp uses the double-vjp trick rather than true forward mode: for a dummy
cotangent u, the map u -> J^T u is linear with transpose J, so its vjp with
cotangent v is J v. Two reverse passes, exact, and no rule written twice.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .creation import tensor
from .engine import backward
from .grad_mode import STATE, enable_grad
from .tensor import Tensor, _make, to_array


def gradients(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
              grad_outputs: Any = None, retain_graph: bool | None = None,
              create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """d(outputs)/d(inputs) as a tuple, like torch.autograd.grad; `.grad` is untouched."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"gradients: {len(outputs)} outputs but {len(grad_outputs)} "
                         f"grad_outputs; give one per output")
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("gradients: every input must be a Tensor that requires grad")
    retain = create_graph if retain_graph is None else retain_graph
    grads = backward(outputs, list(grad_outputs), retain, create_graph, inputs=inputs)
    if not allow_unused and any(g is None for g in grads):
        i = next(i for i, g in enumerate(grads) if g is None)
        raise RuntimeError(f"gradients: input {i} was not used to compute the outputs; "
                           f"pass allow_unused=True to get None for it")
    return tuple(grads)


def _nested(args: Sequence[Any]) -> bool:
    return STATE.transform_depth > 0 or any(isinstance(a, Tensor) and a.requires_grad for a in args)


def _as_input(x: Any) -> Tensor:
    """A tensor to differentiate with respect to; one already in a graph stays itself."""
    if isinstance(x, Tensor):
        if x.requires_grad:
            return x
        return _make(x.data, None).requires_grad_()
    arr = to_array(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return tensor(arr, requires_grad=True)


def _check_callable(name: str, f: Any) -> None:
    """At the transform's construction, where the mistake is, not at its first call."""
    if not callable(f):
        raise TypeError(f"{name}: f must be a callable, got {type(f).__name__} {f!r:.60}")


def _outputs(name: str, out: Any) -> list[Tensor]:
    """f's result as a list of Tensors: one Tensor, or a tuple or list of them."""
    outs = [out] if isinstance(out, Tensor) else list(out) if isinstance(out, (tuple, list)) \
        else None
    if outs is None or not all(isinstance(o, Tensor) for o in outs):
        got = type(out).__name__ if outs is None else \
            ", ".join(type(o).__name__ for o in outs)
        raise TypeError(f"{name}: f must return a Tensor or a tuple of Tensors, got {got}")
    return outs


def _call(f: Callable, args: list) -> Any:
    STATE.transform_depth += 1
    try:
        with enable_grad():
            return f(*args)
    finally:
        STATE.transform_depth -= 1


def _zeros_for(grads: Sequence, inputs: Sequence[Tensor]) -> tuple:
    return tuple(g if g is not None else _make(np.zeros_like(x.data), None)
                 for g, x in zip(grads, inputs, strict=True))


def _differentiable_args(args: Sequence[Any], idx: tuple[int, ...]) -> tuple[bool, list, list]:
    """(whether to build differentiable gradients, the args with the ones at idx made
    into tensors to differentiate by, those tensors)."""
    create = _nested(args)
    args = list(args)
    for i in idx:
        if not -len(args) <= i < len(args):
            raise IndexError(f"argnums {i} is out of range for a call with {len(args)} "
                             f"positional argument{'s' * (len(args) != 1)}")
        args[i] = _as_input(args[i])
    return create, args, [args[i] for i in idx]


def _argnums(argnums: int | Sequence[int]) -> tuple[int, ...]:
    try:
        idx = (operator.index(argnums),) if np.ndim(argnums) == 0 else \
            tuple(operator.index(i) for i in argnums)
    except TypeError:
        raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}") from None
    return idx


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """`(f(*args), df/dargs)` for a scalar-valued f."""
    _check_callable("value_and_grad", f)
    idx = _argnums(argnums)

    @functools.wraps(f)
    def wrapper(*args: Any):
        create, args, inputs = _differentiable_args(args, idx)
        out = _call(f, args)
        if not isinstance(out, Tensor) or out.size != 1:
            shape = out.shape if isinstance(out, Tensor) else type(out).__name__
            raise TypeError(f"grad: f must return a one-element Tensor, got {shape}")
        grads = _zeros_for(gradients(out, inputs, retain_graph=create, create_graph=create,
                                     allow_unused=True), inputs)
        return out, grads[0] if np.ndim(argnums) == 0 else grads

    return wrapper


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The gradient of scalar f: `ag.grad(f)(x)`; `ag.grad(ag.grad(f))` for the second."""
    _check_callable("grad", f)
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def wrapper(*args: Any):
        return vg(*args)[1]

    return wrapper


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """`(f(*primals), vjp_fn)`; `vjp_fn(cotangent)` returns one gradient per primal."""
    _check_callable("vjp", f)
    create = _nested(primals)
    inputs = [_as_input(p) for p in primals]
    out = _call(f, inputs)
    outs = _outputs("vjp", out)

    def vjp_fn(cotangent: Any) -> tuple:
        cts = [cotangent] if isinstance(out, Tensor) else list(cotangent)
        for i, (c, o) in enumerate(zip(cts, outs, strict=True)):
            if np.shape(c) != o.shape:
                raise ValueError(f"vjp: cotangent {i} has shape {tuple(np.shape(c))} but "
                                 f"output {i} has shape {o.shape}")
        cts = [c if isinstance(c, Tensor) else _make(to_array(c, o.dtype), None)
               for c, o in zip(cts, outs, strict=True)]
        return _zeros_for(gradients(outs, inputs, cts, retain_graph=True,
                                    create_graph=create or any(c.requires_grad for c in cts),
                                    allow_unused=True), inputs)

    return out, vjp_fn


def _check_directions(name: str, primals: Any, directions: Any, what: str) -> None:
    """jvp's tangents and hvp's v: a tuple like primals, one of each primal's shape."""
    if not isinstance(primals, (tuple, list)) or not isinstance(directions, (tuple, list)):
        raise TypeError(f"{name}: primals and {what}s must be tuples (one entry per "
                        f"argument of f), got {type(primals).__name__} and "
                        f"{type(directions).__name__}")
    if len(primals) != len(directions):
        raise ValueError(f"{name}: {len(primals)} primals but {len(directions)} {what}s")
    for i, (p, d) in enumerate(zip(primals, directions, strict=True)):
        if np.shape(p) != np.shape(d):
            raise ValueError(f"{name}: {what} {i} has shape {tuple(np.shape(d))} but "
                             f"primal {i} has shape {tuple(np.shape(p))}")


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """`(f(*primals), J @ tangents)`, forward-mode results by the double-vjp trick."""
    _check_callable("jvp", f)
    _check_directions("jvp", primals, tangents, "tangent")
    out, vjp_fn = vjp(f, *primals)
    u = _make(np.zeros_like(out.data), None).requires_grad_()
    with enable_grad():
        STATE.transform_depth += 1
        try:
            pulled = vjp_fn(u)  # J^T u, a graph that is linear in u
        finally:
            STATE.transform_depth -= 1
    pairs = [(p, to_array(t, p.dtype)) for p, t in zip(pulled, tangents, strict=True)
             if p.requires_grad]
    if not pairs:
        return out, _make(np.zeros_like(out.data), None)
    (jv,) = gradients([p for p, _ in pairs], u, [t for _, t in pairs],
                      create_graph=_nested(primals), allow_unused=True)
    return out, jv if jv is not None else _make(np.zeros_like(out.data), None)


def hvp(f: Callable, primals: Sequence[Any], v: Sequence[Any]) -> tuple[Any, Any]:
    """`(f(*primals), H @ v)` for scalar f, without forming the Hessian."""
    _check_callable("hvp", f)
    _check_directions("hvp", primals, v, "vector")
    create = _nested(primals)
    inputs = [_as_input(p) for p in primals]
    out = _call(f, inputs)
    if not isinstance(out, Tensor) or out.size != 1:
        got = out.shape if isinstance(out, Tensor) else type(out).__name__
        raise TypeError(f"hvp: f must return a one-element Tensor, got {got}")
    grads = gradients(out, inputs, create_graph=True, allow_unused=True)
    pairs = [(g, to_array(t, g.dtype)) for g, t in zip(grads, v, strict=True)
             if g is not None and g.requires_grad]
    if not pairs:
        hv = _zeros_for([None] * len(inputs), inputs)
    else:
        hv = _zeros_for(gradients([g for g, _ in pairs], inputs, [t for _, t in pairs],
                                  create_graph=create, allow_unused=True), inputs)
    return out, hv[0] if len(primals) == 1 else hv


def jacobian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian, shaped `out.shape + in.shape` (as JAX gives it), one row per pass."""
    _check_callable("jacobian", f)
    idx = _argnums(argnums)

    @functools.wraps(f)
    def wrapper(*args: Any):
        create, args, inputs = _differentiable_args(args, idx)
        out = _call(f, args)
        outs = _outputs("jacobian", out)
        result = tuple(_jacobian_of(o, inputs, create) for o in outs)
        result = tuple(r[0] if np.ndim(argnums) == 0 else r for r in result)
        return result[0] if isinstance(out, Tensor) else result

    return wrapper


def _jacobian_of(out: Tensor, inputs: list[Tensor], create: bool) -> tuple:
    from .ops.shape import stack
    rows: list[list[Tensor]] = [[] for _ in inputs]
    if out.requires_grad:
        for k in range(out.size):
            onehot = np.zeros(out.size, out.dtype)
            onehot[k] = 1
            grads = _zeros_for(gradients(out, inputs, onehot.reshape(out.shape),
                                         retain_graph=True, create_graph=create,
                                         allow_unused=True), inputs)
            for r, g in zip(rows, grads, strict=True):
                r.append(g)
    jac = []
    for r, x in zip(rows, inputs, strict=True):
        if not r:
            jac.append(_make(np.zeros(out.shape + x.shape, x.dtype), None))
        else:
            jac.append(stack(r).reshape(out.shape + x.shape))
    return tuple(jac)


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Hessian of scalar f: the Jacobian of its gradient."""
    _check_callable("hessian", f)
    return jacobian(grad(f, argnums), argnums)
