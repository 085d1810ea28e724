"""Custom ops: subclass `Function`, write `forward` on arrays and `backward` on Tensors.

    class Cube(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    y = Cube.apply(t)

`backward` written with Tensor ops is differentiable again: under
`create_graph=True` the saved inputs and output come back as the graph's own
tensors, so second derivatives flow through them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import backend_of
from .grad_mode import STATE, enable_grad, no_grad
from .registry import Op, T
from .tensor import Tensor, _make, _record


class FunctionCtx:
    """What forward leaves for backward: saved arrays and any attributes set on it."""

    def __init__(self, fn: type) -> None:
        self._fn = fn
        self._saved: tuple = ()
        self._inputs: tuple = ()
        self._arrays: tuple = ()
        self._ans: Any = None
        self.needs_input_grad: tuple = ()

    def save_for_backward(self, *values: Any) -> None:
        self._saved = values

    @property
    def saved_tensors(self) -> tuple:
        return tuple(self._as_tensor(v) for v in self._saved)

    def _as_tensor(self, v: Any) -> Any:
        """A saved input or output comes back as the graph's tensor for it."""
        if v is None or isinstance(v, Tensor):
            return v
        for arr, now in zip(self._arrays, self._inputs, strict=True):
            if v is arr:
                return now if isinstance(now, Tensor) else _make(np.asarray(now), None)
        if v is self._ans or (isinstance(self._ans, Tensor) and v is self._ans.data):
            return self._ans if isinstance(self._ans, Tensor) else _make(self._ans, None)
        return _make(np.asarray(v), None)


def _function_vjp(xp, g, ans, inputs, needs, ctx: FunctionCtx):
    create = xp is T
    ctx._inputs, ctx._ans = inputs, ans
    try:
        # backward always gets a Tensor: under create_graph a seed gradient may be an array
        g = g if isinstance(g, Tensor) else _make(g, None)
        with enable_grad() if create else no_grad():
            grads = ctx._fn.backward(ctx, g)
    finally:  # ctx must not keep the graph's tensors: that would be a reference cycle
        ctx._inputs, ctx._ans = (), None
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(inputs):
        raise RuntimeError(f"{ctx._fn.__name__}.backward returned {len(grads)} gradients "
                           f"for {len(inputs)} inputs")
    out = []
    for gi, x in zip(grads, inputs, strict=True):
        if gi is None:
            out.append(None)
            continue
        if not isinstance(gi, (Tensor, np.generic, int, float)) and not hasattr(gi, "shape"):
            raise TypeError(f"{ctx._fn.__name__}.backward: gradient {len(out)} is a "
                            f"{type(gi).__name__}; return a Tensor, an ndarray or None")
        if create:
            out.append(gi if isinstance(gi, Tensor) else _make(_array(gi, ans), None))
        else:
            out.append(gi.data if isinstance(gi, Tensor) else _array(gi, ans))
        if out[-1].shape != np.shape(x):
            raise RuntimeError(f"{ctx._fn.__name__}.backward: gradient {len(out) - 1} has "
                               f"shape {tuple(out[-1].shape)}, its input {tuple(np.shape(x))}")
    return out


def _array(gi, ans):
    """A gradient a backward returned as an array, or a number as one of ans's backend."""
    if hasattr(gi, "__array_namespace__"):
        return gi
    return backend_of(ans._data if isinstance(ans, Tensor) else ans).xp.asarray(gi)


class Function:
    """Base class of custom ops; use `MyOp.apply(*inputs, **params)`."""

    _op: Op | None = None

    @staticmethod
    def forward(ctx: FunctionCtx, *arrays: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError(f"{ctx._fn.__name__}.forward is not defined: write "
                                  f"@staticmethod def forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Tensor) -> Any:
        raise NotImplementedError(f"{ctx._fn.__name__}.backward is not defined: write "
                                  f"@staticmethod def backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Tensor:
        op = cls.__dict__.get("_op")
        if op is None:  # one Op per Function subclass, made on first use
            op = Op(cls.__name__, lambda xp, *a, ctx=None: None, _function_vjp, -1,
                    None, False, False, None, cls.__doc__ or "")
            cls._op = op
        ctx = FunctionCtx(cls)
        arrays = tuple(a.data if isinstance(a, Tensor) else a for a in args)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx._arrays = arrays
        with no_grad():
            out = cls.forward(ctx, *arrays, **params)
        out = out.data if isinstance(out, Tensor) else out
        if not hasattr(out, "__array_namespace__"):
            out = np.asarray(out)
        # forgot `return`, say: None is an object array
        if isinstance(out, np.ndarray) and out.dtype.kind not in "biufc":
            raise TypeError(f"{cls.__name__}.forward must return an ndarray of numbers, "
                            f"got {type(out.item() if out.ndim == 0 else out).__name__}")
        ctx._ans = out
        if any(ctx.needs_input_grad) and STATE.enabled:
            parents = tuple(a if need else None
                            for a, need in zip(args, ctx.needs_input_grad, strict=True))
            return _record(op, parents, arrays, {"ctx": ctx}, out)
        return _make(out, None)
