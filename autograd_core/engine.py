"""The backward pass: reverse topological order, no recursion.

Nodes are numbered as they are created, so a node can only depend on
nodes with smaller numbers. Backward keeps the nodes that hold a gradient
in a heap and always runs the newest: every node that can still send a
gradient to it is newer, and has already run. So each node's incoming
gradients are summed in its buffer (`node.g`) before its rule runs, every
node runs once, and no separate sort of the graph is needed. The first
gradient into a buffer is taken without a copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any

import numpy as np

from .grad_mode import STATE, enable_grad
from .registry import NP, T
from .tensor import Node, Tensor, _make, without_underflow

_by_seq = attrgetter("seq")

FREED = ("Trying to backward through the graph a second time (or to use values it "
         "saved after they were freed). Pass retain_graph=True to the first backward "
         "if you need to backward through it again.")


def unbroadcast(xp, g, shape: tuple):
    """Sum a broadcast gradient back to an operand's shape (the one place this is done)."""
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, gshape[lead:], strict=True)):
        return xp.broadcast_to(g, shape)  # a rule gave a smaller gradient: spread it
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    return xp.reshape(g, shape) if g.shape != shape else g


def _topo_order(roots: Sequence[Node]) -> list[Node]:
    """Every node reachable from `roots`, newest first (a topological order): what
    `_prune` needs up front, for `ag.gradients`."""
    seen = set(roots)
    order = list(seen)
    stack = list(seen)
    while stack:
        parents = stack.pop().parents
        if parents is None:
            raise RuntimeError(FREED)
        for p in parents:
            if p is not None:
                node = p._node
                if node is not None and node not in seen:
                    seen.add(node)
                    order.append(node)
                    stack.append(node)
    order.sort(key=_by_seq, reverse=True)
    return order


def _seed(root: Tensor, gradient: Any, create: bool):
    if not root._rg:
        raise RuntimeError("backward: the tensor does not require grad and has no grad_fn; "
                           "set requires_grad=True on an input first")
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for a "
                               f"one-element output, got shape {root.shape}; pass "
                               f"gradient= with that shape")
        return np.array(1, root._data.dtype).reshape(root._data.shape)
    if isinstance(gradient, Tensor):
        g = gradient if create else gradient._data
    else:
        try:
            g = np.asarray(gradient)
            complex_to_real = g.dtype.kind == "c" and root._data.dtype.kind != "c"
            if not complex_to_real:
                g = g.astype(root._data.dtype, copy=False)
        except (TypeError, ValueError):
            raise TypeError(f"backward: gradient must be a Tensor or an array of numbers, "
                            f"got {type(gradient).__name__}") from None
        if complex_to_real:
            raise TypeError(f"backward: gradient is {g.dtype} for a {root._data.dtype} "
                            f"output; complex values would lose their imaginary part")
    if g.shape != root.shape:
        raise ValueError(f"backward: gradient has shape {tuple(g.shape)} but the output "
                         f"has shape {root.shape}")
    return g


def _run_hooks(hooks: list, g, create: bool):
    for hook in hooks:
        out = hook(g if create else _make(g, None))
        if out is not None:
            new = (out if create else out._data) if isinstance(out, Tensor) else np.asarray(out)
            if new.shape != g.shape:  # the rest of backward would mis-shape every gradient
                name = getattr(hook, "__name__", type(hook).__name__)
                raise RuntimeError(f"register_hook: hook {name!r} returned a gradient of "
                                   f"shape {tuple(new.shape)} for one of shape "
                                   f"{tuple(g.shape)}")
            g = new
    return g


def backward(roots: Sequence[Tensor], gradients: Sequence[Any], retain: bool,
             create: bool, inputs: Sequence[Tensor] | None = None,
             observer: Callable[[Any, Any], None] | None = None,
             accumulate: bool = True) -> list | None:
    """Backpropagate from `roots`. With `inputs`, return their gradients instead
    of accumulating into leaves' `.grad` (this is `ag.gradients`); with
    `accumulate=False` and no inputs, compute every gradient and keep none.

    `observer(node_or_leaf, gradient)`, when given, sees every node's summed
    gradient (and every leaf's) as it is computed: graph export and training
    diagnostics read gradient norms through it; off, it costs nothing.
    """
    if create:
        with enable_grad():
            return _backward(roots, gradients, retain, True, inputs, observer, accumulate)
    return _backward(roots, gradients, retain, False, inputs, observer, accumulate)


def _backward(roots, gradients, retain, create, inputs, observer, accumulate):
    xp = T if create else NP
    leaf_grads: dict[int, list] = {}  # id(leaf) -> [leaf, gradient, owned by the engine]
    # The caller's gradients by id, held so that no new array can reuse an id
    # (a freed seed's id, reused by a fresh gradient, cost a needless copy per step).
    given: dict[int, Any] = {}
    root_nodes = []
    for root, gradient in zip(roots, gradients, strict=True):
        g = _seed(root, gradient, create)
        given[id(g)] = g
        node = root._node
        if node is None:
            _add_leaf(leaf_grads, root, g, False, False)
        else:
            root_nodes.append(node)
            node.g = g if node.g is None else node.g + g
            node.owned = False  # the caller's gradient
    heap = [(-node.seq, node) for node in set(root_nodes)]  # the nodes holding a gradient
    heap.sort()  # a sorted list is a heap
    try:
        return _run(heap, leaf_grads, given, xp, retain, create, inputs, observer,
                    accumulate)
    except BaseException:
        for _, node in heap:  # leave no half-summed gradient in a retained graph
            node.g = None
        raise


def _run(heap, leaf_grads, given, xp, retain, create, inputs, observer, accumulate):
    """Run every node's rules, newest first, then hand the leaves their gradients."""
    wanted = _wanted(inputs)
    captured: dict[int, Any] = {}
    anomaly = STATE.anomaly
    masks = None if inputs is None else _prune(_topo_order([n for _, n in heap]), inputs)
    # Gradients from `fresh` ops are the engine's own unless someone else sees them.
    may_own = not create and observer is None
    while heap:
        node = heappop(heap)[1]
        g = node.g
        node.g = None
        owned = node.owned
        if node.hooks is not None or node.retained is not None:
            g = _node_hooks(node, g, create)
            owned = False  # a hook may keep it
        if observer is not None:
            observer(node, g)
        if wanted is not None and id(node) in wanted:
            captured[id(node)] = g
            owned = False
        op = node.op
        parents = node.parents
        args = node.args
        if args is None:
            raise RuntimeError(FREED)
        if create:  # the rule sees the graph's own tensors, so its result is differentiable
            ans = _make(node.ans, node)
            inputs_now = tuple(a if p is None else p for p, a in zip(parents, args))
        else:
            ans = node.ans
            inputs_now = args
        kw = node.kw
        if node.saved is not None and not create:
            kw = {**kw, "saved": node.saved} if kw else {"saved": node.saved}
        vjps = op.vjps_owned if owned else op.vjps
        fresh = may_own and op.fresh
        follow = None if masks is None else masks[id(node)]
        if vjps is None:
            needs = tuple(p is not None for p in parents) if follow is None else follow
            vjp = op.vjp_owned if owned else op.vjp
            try:
                grads = vjp(xp, g, ans, inputs_now, needs, **(kw or {}))
            except FloatingPointError as err:  # (an in-place rule multiplies by 0 or 1)
                grads = without_underflow(err, op.vjp, xp, g, ans, inputs_now, needs,
                                           **(kw or {}))
        i = -1
        for p in parents:
            i += 1
            if p is None or (follow is not None and not follow[i]):
                continue
            try:
                if vjps is None:
                    gi = grads[i]
                    if gi is None:
                        continue
                elif kw is None:
                    gi = vjps[i](xp, g, ans, *inputs_now)
                else:
                    gi = vjps[i](xp, g, ans, *inputs_now, **kw)
            except FloatingPointError as err:  # only rules raise it; op.vjps are pure
                gi = without_underflow(err, op.vjps[i], xp, g, ans, *inputs_now, **(kw or {}))
            a = args[i]
            own = fresh
            if gi.shape != a.shape:
                gi = unbroadcast(xp, gi, a.shape)
                own = False  # it may be a read-only broadcast view
            if gi.dtype is not a.dtype and gi.dtype != a.dtype:
                gi = xp.astype(gi, dtype=a.dtype)
            if anomaly:
                from .anomaly import check_backward
                check_backward(node, i, gi)
            pnode = p._node
            if pnode is None:
                _add_leaf(leaf_grads, p, gi, own, may_own)
            elif pnode.g is None:
                pnode.g = gi
                pnode.owned = own
                heappush(heap, (-pnode.seq, pnode))
            else:
                pnode.g = pnode.g + gi
                pnode.owned = may_own
        if not retain:
            node.args = node.ans = node.saved = node.parents = node.kw = None
    if observer is not None:
        for leaf, g, _ in leaf_grads.values():
            observer(leaf, g)
    if wanted is not None:
        return _collect(inputs, captured, leaf_grads)
    if accumulate:
        _accumulate_leaves(leaf_grads, given, create)
    return None


def _prune(order: list[Node], inputs: Sequence[Tensor]) -> dict[int, tuple]:
    """For `ag.gradients`: which parents of each node lead to one of `inputs`.

    Only those get a gradient, so asking for d/dx of a critic does not also
    compute (or, under create_graph, record) the gradients of its weights.
    """
    leads = {id(t if t._node is None else t._node) for t in inputs}
    masks = {}
    for node in reversed(order):  # oldest first: a node's parents come before it
        follow = tuple(p is not None and id(p if p._node is None else p._node) in leads
                       for p in node.parents)
        masks[id(node)] = follow
        if any(follow):
            leads.add(id(node))
    return masks


def _wanted(inputs):
    if inputs is None:
        return None
    return {id(t._node) for t in inputs if t._node is not None}


def _add_leaf(leaf_grads: dict, leaf: Tensor, g, owned: bool, sum_owned: bool) -> None:
    """Sum g into the leaf's entry; `owned`/`sum_owned`: whether the engine owns g,
    or a sum it makes (nobody else has seen either)."""
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = [leaf, g, owned]
    else:
        entry[1] = entry[1] + g
        entry[2] = sum_owned


def _node_hooks(node: Node, g, create: bool):
    """Run a non-leaf's hooks, then keep its gradient if retain_grad asked for it."""
    if node.hooks:
        g = _run_hooks(node.hooks, g, create)
    tensor = node.retained() if node.retained is not None else None
    if tensor is not None:
        kept = g if create else _make(np.array(g), None)
        tensor.grad = kept if tensor.grad is None else tensor.grad + kept
    return g


def _collect(inputs, captured, leaf_grads) -> list:
    out = []
    for t in inputs:
        if t._node is not None:
            out.append(captured.get(id(t._node)))
        else:
            entry = leaf_grads.get(id(t))
            g = None
            if entry is not None:
                g = entry[1]
                if t._hooks:
                    g = _run_hooks(t._hooks, g, isinstance(g, Tensor))
            out.append(g)
    return [g if g is None or isinstance(g, Tensor) else _make(np.array(g), None)
            for g in out]


def _accumulate_leaves(leaf_grads: dict, given: dict, create: bool) -> None:
    taken: set[int] = set(given)  # ids of live arrays only: given ones and taken ones
    for leaf, g, owned in leaf_grads.values():
        hooked = bool(leaf._hooks)
        if hooked:  # a hook may keep the gradient it is shown: .grad gets a copy
            g = _run_hooks(leaf._hooks, g, create)
        if create:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
            continue
        old = leaf.grad
        if old is None and owned and not hooked:  # the engine's own array, seen by nobody
            leaf.grad = _make(g, None)
            continue
        if old is not None and old._node is None and old._data.shape == g.shape \
                and old._data.flags.writeable:
            np.add(old._data, g, out=old._data, casting="unsafe")
            continue
        # Take the gradient without a copy unless someone else may hold it.
        if hooked or id(g) in taken or g.base is not None or not g.flags.writeable:
            g = np.array(g)
        taken.add(id(g))
        leaf.grad = _make(g, None) if old is None else old + g
