"""The op registry: every differentiable op, defined once.

An op is a forward on arrays plus one gradient rule per input:

    defop("rsqrt", lambda xp, x: 1 / xp.sqrt(x),
          lambda xp, g, ans, x: g * (ans * ans * ans) * -0.5, sample=s.unary(s.POSITIVE))
    defop("exp", "exp", lambda xp, g, ans, x: g * ans, sample=s.unary())

The forward gets ``xp``, the array namespace of its inputs' backend (numpy,
CuPy, any array-API library: see backend.py), and is written with the array
API standard's names; a forward that is one standard function is given by its
name, and each backend calls its library's function directly.

A rule ``rule(xp, g, ans, *inputs, **params)`` is written against a namespace
of *ops*, never against an array library or the Tensor directly:

* in a plain backward pass the engine calls it with the backend's ``ops``
  (each op's forward on that backend's arrays), so it costs a few array
  calls and builds nothing;
* with ``create_graph=True`` it calls the very same rule with ``T`` and
  Tensors, so the gradient is itself recorded and can be differentiated again.

That is the whole trick behind higher-order gradients: no rule is written
twice. Rules see every parameter, the forward's defaults filled in.

Each op also declares how to sample valid inputs (``sample(rng) -> (args,
params)``: the domain, kinks to avoid) and whether it is piecewise linear.
The gradient tests and ``autograd-core gradcheck`` are generated from this
table, so an op cannot be registered untested.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any

from . import backend

REGISTRY: dict[str, Op] = {}
COMPOSITES: dict[str, tuple[Callable, Callable]] = {}  # name -> (function, sampler)
T = SimpleNamespace()  # name -> differentiable Tensor function (the public signature)
OP = SimpleNamespace()  # name -> Op object, for the Tensor's methods
NP = backend.NUMPY.ops  # name -> the op on numpy arrays (what rules get on numpy)


class Op:
    """One registered op. Calling it applies it to Tensors (or arrays)."""

    __slots__ = ("name", "forward", "library_name", "numpy_forward", "vjp", "nin", "params",
                 "sample", "linear", "saves", "array_fn", "doc", "__weakref__")

    def __init__(self, name, forward, vjp, nin, sample, linear, saves, array_fn, doc,
                 library_name=None, numpy_forward=None):
        self.name = name
        self.forward = forward  # (xp, *arrays, **params) -> array
        self.library_name = library_name  # the forward is xp.<this>: each backend calls it
        self.numpy_forward = numpy_forward  # (*arrays, **params): numpy's kernel, or None
        self.vjp = vjp  # (xp, g, ans, inputs, needs, **params) -> one gradient per input
        self.nin = nin  # number of Tensor inputs (-1: all positionals); the rest are params
        self.sample = sample
        self.linear = linear  # piecewise linear: every second derivative is 0
        self.saves = saves
        self.array_fn = array_fn  # (xp, ...public signature) -> array, for backend.ops
        self.doc = doc
        names = [p.name for p in inspect.signature(forward).parameters.values()
                 if p.kind is not p.VAR_POSITIONAL][1:]  # after xp
        self.params = tuple(n for n in names[max(nin, 0):] if not (saves and n == "keep"))

    def bound(self, xp) -> Callable:
        """This op on the arrays of the backend whose namespace is `xp`."""
        return partial(self.array_fn, xp)

    def __call__(self, *args: Any, **params: Any):
        if not params and len(args) == self.nin:  # the usual call: inputs only
            return apply(self, args)
        if 0 <= self.nin != len(args):  # variadic ops (nin < 0) take every positional
            if len(args) < self.nin:
                raise TypeError(f"{self.name}() needs {self.nin} tensor inputs, "
                                f"got {len(args)}")
            extra = args[self.nin:]
            if len(extra) > len(self.params):
                raise TypeError(f"{self.name}() takes {self.nin + len(self.params)} "
                                f"arguments, got {len(args)}")
            params.update(zip(self.params, extra))
            args = args[: self.nin]
        if "dim" in params or "keepdim" in params:
            params = _torch_names(self, params)
        for key in params:
            if key not in self.params:
                raise TypeError(f"{self.name}() got an unexpected keyword argument "
                                f"{key!r}; it takes {', '.join(self.params) or 'none'}")
        return apply(self, args, params)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def torch_names(name: str, axis, keepdims, dim=None, keepdim=None) -> tuple:
    """(axis, keepdims) from numpy's names or PyTorch's dim=/keepdim= (not both)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: got both axis= and dim=; pass one")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{name}: got both keepdims= and keepdim=; pass one")
        keepdims = keepdim
    return axis, keepdims


def _torch_names(op: Op, params: dict) -> dict:
    """An op's params with PyTorch's dim=/keepdim= as axis=/keepdims=, where it has them."""
    params = dict(params)
    dim = params.pop("dim", None) if "axis" in op.params else None
    keepdim = params.pop("keepdim", None) if "keepdims" in op.params else None
    axis, keepdims = torch_names(op.name, params.get("axis"), params.get("keepdims", False),
                                 dim, keepdim)
    if dim is not None:
        params["axis"] = axis
    if keepdim is not None:
        params["keepdims"] = keepdims
    return params


def _per_input(rules: tuple, params: tuple, defaults: dict) -> Callable:
    """The one rule form the engine calls, from one rule per input (None: no gradient),
    the forward's `defaults` filled in. One and two inputs without params, most ops,
    are written out: no loop, no argument tuple built per call on the hot path."""
    if len(rules) == 1 and not params:  # the elementwise functions
        (rule,) = rules

        def vjp1(xp, g, ans, inputs, needs):
            return (rule(xp, g, ans, inputs[0]) if needs[0] is not None else None,)
        return vjp1
    if len(rules) == 1:
        (rule,) = rules

        def vjp1_params(xp, g, ans, inputs, needs, **params):
            if needs[0] is None:
                return (None,)
            return (rule(xp, g, ans, inputs[0], **{**defaults, **params}),)
        return vjp1_params
    if len(rules) == 2 and None not in rules and not params:
        first, second = rules

        def vjp2(xp, g, ans, inputs, needs):  # the arithmetic
            a, b = inputs
            return (first(xp, g, ans, a, b) if needs[0] is not None else None,
                    second(xp, g, ans, a, b) if needs[1] is not None else None)
        return vjp2
    if len(rules) == 3 and None not in rules and not params:
        first, second, third = rules

        def vjp3(xp, g, ans, inputs, needs):  # linear and its kin: x, weight, bias
            a, b, c = inputs
            return (first(xp, g, ans, a, b, c) if needs[0] is not None else None,
                    second(xp, g, ans, a, b, c) if needs[1] is not None else None,
                    third(xp, g, ans, a, b, c) if needs[2] is not None else None)
        return vjp3

    def vjp(xp, g, ans, inputs, needs, **params):
        params = {**defaults, **params}
        return [rule(xp, g, ans, *inputs, **params) if need is not None and rule is not None
                else None
                for rule, need in zip(rules, needs)]
    return vjp


def _defaults(op: Op) -> dict:
    """The forward's defaults for its parameters."""
    return {p.name: p.default for p in inspect.signature(op.forward).parameters.values()
            if p.name in op.params and p.default is not p.empty}


def _with_defaults(vjp: Callable, defaults: dict) -> Callable:
    """`vjp` called with `defaults` for every parameter not given."""
    if not defaults:
        return vjp
    return lambda xp, g, ans, inputs, needs, **params: vjp(
        xp, g, ans, inputs, needs, **{**defaults, **params})


def defop(name: str, forward: Callable | str, *vjps: Callable | None, sample: Callable,
          vjp: Callable | None = None, nin: int | None = None, linear: bool = False,
          array_fn: Callable | None = None, public: Callable | None = None,
          saves: bool = False, numpy: tuple[Callable, Callable] | None = None,
          doc: str = "") -> Op:
    """Register an op: forward on arrays, one gradient rule per input, a sampler.

    A forward that is one function of the array API standard is given by its name
    (``defop("exp", "exp", ...)``): each backend then calls its library's function
    directly, saving a Python call per op.

    ``vjps[i](xp, g, ans, *inputs, **params)`` is the gradient for input i.
    Ops with a variable number of inputs (concatenate, einsum) give instead
    ``vjp(xp, g, ans, inputs, needs, **params) -> tuple``, computing gradient i only
    where ``needs[i] is not None`` (the engine passes the node's parents). ``array_fn(xp, ...)``
    and ``public`` override the ops-namespace and T entries when the public
    signature is not the forward's (a sequence argument, for example).

    ``saves=True``: the forward returns ``(out, saved)``, intermediate results its
    rules would otherwise recompute (softmax cross-entropy keeps its exponentials),
    and takes ``keep=``: whether the node is recorded (apply passes it; with
    ``keep=False`` the forward may skip that work and save None).
    In a plain backward pass the rules get them as ``saved=``; under create_graph
    they get ``saved=None`` and recompute from the inputs, so that gradient stays
    differentiable.

    ``numpy=(forward, vjp)``: kernels for numpy arrays where numpy has a faster route
    than the standard's names give: the forward without ``xp``, the rule in the one
    form (``vjp``'s above). They stand beside the generic pair, which every other
    backend and create_graph run, and a test holds them equal to it on every sample.
    """
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is already registered")
    if sample is None:
        raise ValueError(f"op {name!r} needs a sample domain for its gradient checks")
    if vjp is None and not vjps:
        raise ValueError(f"op {name!r} has no gradient rule")
    library_name = None
    if isinstance(forward, str):
        library_name = forward
        forward = _library_forward(library_name, len(vjps) if nin is None else nin)
    if array_fn is None:
        array_fn = (lambda xp, *a, **k: forward(xp, *a, keep=False, **k)[0]) if saves \
            else forward
    op = Op(name, forward, None, len(vjps) if nin is None else nin, sample, linear, saves,
            array_fn, doc, library_name, numpy and numpy[0])
    if vjps and len(vjps) != op.nin:
        raise ValueError(f"op {name!r} has {len(vjps)} gradient rules for {op.nin} inputs")
    defaults = _defaults(op)
    op.vjp = _per_input(vjps, op.params, defaults) if vjp is None else \
        _with_defaults(vjp, defaults)
    if numpy is not None:
        op.vjp = _numpy_or(numpy[1], op.vjp, defaults)
    REGISTRY[name] = op
    setattr(OP, name, op)
    setattr(T, name, public or op)
    backend.register_op(op)
    return op


def _numpy_or(numpy_vjp: Callable, generic: Callable, defaults: dict) -> Callable:
    """The rule that runs numpy's kernel in a plain backward on numpy arrays (the
    engine passes the numpy ops as xp), and the generic rule everywhere else; both
    get the forward's `defaults`."""
    def vjp(xp, g, ans, inputs, needs, **params):
        if xp is NP:
            return numpy_vjp(xp, g, ans, inputs, needs, **{**defaults, **params})
        return generic(xp, g, ans, inputs, needs, **params)
    # for the test that holds them equal
    vjp.numpy, vjp.generic = _with_defaults(numpy_vjp, defaults), generic
    return vjp


def _library_forward(name: str, nin: int) -> Callable:
    """The forward xp.<name>(*arrays), for a backend without that name and for the
    error paths, which inspect a forward's signature."""
    if nin == 1:
        return lambda xp, x: getattr(xp, name)(x)
    if nin == 2:
        return lambda xp, a, b: getattr(xp, name)(a, b)
    return lambda xp, a, b, c: getattr(xp, name)(a, b, c)


def defcomposite(name: str, fn: Callable, sample: Callable) -> Callable:
    """Register a function made of ops, so the gradient checks cover it too."""
    if name in COMPOSITES or name in REGISTRY:
        raise ValueError(f"{name!r} is already registered")
    COMPOSITES[name] = (fn, sample)
    return fn


from .tensor import apply  # noqa: E402  (the dispatcher lives beside the Tensor)
