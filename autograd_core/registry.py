"""The op registry: every differentiable op, defined once.

An op is a numpy forward function plus one gradient rule per input. A rule
has the signature ``rule(xp, g, ans, *inputs, **params) -> gradient`` and is
written against the namespace ``xp``, never against numpy or Tensor directly:

* in a plain backward pass the engine calls it with ``xp = NP`` and ndarrays,
  so it costs a few numpy calls and builds nothing;
* with ``create_graph=True`` it calls the very same rule with ``xp = T`` and
  Tensors, so the gradient is itself recorded and can be differentiated again.

``NP`` and ``T`` hold, under the same names and signatures, the numpy forward
and the differentiable Tensor function of every registered op. That is the
whole trick behind higher-order gradients: no rule is written twice.

Each op also declares how to sample valid inputs (``sample(rng) -> (args,
params)``: the domain, kinks to avoid) and whether it is piecewise linear.
The gradient tests and ``autograd-core gradcheck`` are generated from this
table, so an op cannot be registered untested.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

REGISTRY: dict[str, Op] = {}
COMPOSITES: dict[str, tuple[Callable, Callable]] = {}  # name -> (function, sampler)
NP = SimpleNamespace()  # name -> numpy function (public signature)
T = SimpleNamespace()  # name -> differentiable Tensor function (same signature)
OP = SimpleNamespace()  # name -> Op object, for the Tensor's hot dunder methods


class Op:
    """One registered op. Calling it applies it to Tensors (or arrays)."""

    __slots__ = ("name", "forward", "vjps", "vjps_owned", "vjp", "vjp_owned", "nin", "params",
                 "sample", "linear", "fresh", "saves", "doc", "__weakref__")

    def __init__(self, name, forward, vjps, vjp, nin, sample, linear, doc, fresh=False,
                 inplace=None, saves=False):
        self.name = name
        self.forward = forward  # ndarrays -> ndarray
        self.vjps = vjps  # tuple of per-input rules (None: not differentiable), or None
        # The rules to use when the engine owns g: the in-place variant, if any
        # (of the one per-input rule, or of the vjp).
        self.vjps_owned = (inplace,) if inplace is not None and vjps else vjps
        self.fresh = fresh  # every gradient it returns is a new array (plain pass)
        self.saves = saves  # forward returns (out, saved); see defop
        self.vjp = vjp  # or one rule for all inputs: -> tuple of gradients
        self.vjp_owned = inplace if inplace is not None and vjp is not None else vjp
        self.nin = nin  # number of Tensor inputs; the rest of the signature are params
        self.sample = sample
        self.linear = linear  # piecewise linear: every second derivative is 0
        self.doc = doc
        names = [p.name for p in inspect.signature(forward).parameters.values()
                 if p.kind is not p.VAR_POSITIONAL]
        self.params = tuple(names[max(nin, 0):])

    def __call__(self, *args: Any, **params: Any):
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
        for key in params:
            if key not in self.params:
                raise TypeError(f"{self.name}() got an unexpected keyword argument "
                                f"{key!r}; it takes {', '.join(self.params) or 'none'}")
        return apply(self, args, params)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def defop(name: str, forward: Callable, *vjps: Callable | None, sample: Callable,
          vjp: Callable | None = None, nin: int | None = None, linear: bool = False,
          np_fn: Callable | None = None, public: Callable | None = None,
          fresh: bool = False, inplace: Callable | None = None, saves: bool = False,
          doc: str = "") -> Op:
    """Register an op: forward on arrays, one gradient rule per input, a sampler.

    ``vjps[i](xp, g, ans, *inputs, **params)`` is the gradient for input i.
    Ops with a variable number of inputs (concatenate, einsum) give instead
    ``vjp(xp, g, ans, inputs, needs, **params) -> tuple``. ``np_fn`` and
    ``public`` override the NP/T entries when the public signature is not the
    forward's (a sequence argument, for example).

    Two promises let the plain backward pass skip an allocation per node, as a
    hand-written loop would. ``fresh=True``: the rules always return new arrays,
    sharing memory with nothing (so the engine owns the gradients it passes on).
    ``inplace``: the rule (of a one-input op, or the ``vjp`` of several) rewritten
    to overwrite g, which the engine calls instead when it owns g (a 0-d g may be
    an immutable numpy scalar: numpy returns those). The gradient tests check
    both promises.

    ``saves=True``: the forward returns ``(out, saved)``, intermediate results its
    rules would otherwise recompute (softmax cross-entropy keeps its exponentials).
    In a plain backward pass the rules get them as ``saved=``; under create_graph
    they get ``saved=None`` and recompute from the inputs, so that gradient stays
    differentiable. Such an op is called through ``apply`` (not the dunders).
    """
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is already registered")
    if sample is None:
        raise ValueError(f"op {name!r} needs a sample domain for its gradient checks")
    if vjp is None and not vjps:
        raise ValueError(f"op {name!r} has no gradient rule")
    if inplace is not None and len(vjps) != 1 and vjp is None:
        raise ValueError(f"op {name!r}: an in-place rule rewrites a one-input op's rule "
                         f"or a vjp")
    op = Op(name, forward, vjps or None, vjp, len(vjps) if nin is None else nin,
            sample, linear, doc, fresh, inplace, saves)
    REGISTRY[name] = op
    setattr(OP, name, op)
    if saves and np_fn is None:
        def np_fn(*args, **params):
            return forward(*args, **params)[0]
    setattr(NP, name, np_fn or forward)
    setattr(T, name, public or op)
    return op


def defcomposite(name: str, fn: Callable, sample: Callable) -> Callable:
    """Register a function made of ops, so the gradient checks cover it too."""
    if name in COMPOSITES or name in REGISTRY:
        raise ValueError(f"{name!r} is already registered")
    COMPOSITES[name] = (fn, sample)
    return fn


from .tensor import apply  # noqa: E402  (the dispatcher lives beside the Tensor)
