"""The backward pass: reverse topological order, no recursion.

Nodes are numbered as they are created, so a node can only depend on
nodes with smaller numbers. Backward keeps the nodes that hold a gradient
in a heap and always runs the newest: every node that can still send a
gradient to it is newer, and has already run. So each node's incoming
gradients are summed (in a map local to the run) before its rule runs,
every node runs once, and no separate sort of the graph is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any

import numpy as np

from .backend import backend_of, is_complex
from .grad_mode import STATE, enable_grad
from .registry import T
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
    data = root._data
    if not root._rg:
        raise RuntimeError("backward: the tensor does not require grad and has no grad_fn; "
                           "set requires_grad=True on an input first")
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for a "
                               f"one-element output, got shape {root.shape}; pass "
                               f"gradient= with that shape")
        xp = backend_of(data).xp  # (np.ones_like is a Python function: 4x this cost)
        one = xp.asarray(1, dtype=data.dtype, device=data.device)
        return one if data.ndim == 0 else xp.reshape(one, data.shape)
    if isinstance(gradient, Tensor):
        g = gradient if create else gradient._data
    else:
        xp = backend_of(data).xp
        try:
            g = xp.asarray(gradient) if type(gradient) is not type(data) else gradient
        except (TypeError, ValueError):
            raise TypeError(f"backward: gradient must be a Tensor or an array of numbers, "
                            f"got {type(gradient).__name__}") from None
        if not hasattr(g, "dtype") or getattr(g.dtype, "kind", "f") not in "biufc":
            raise TypeError(f"backward: gradient must be a Tensor or an array of numbers, "
                            f"got {type(gradient).__name__}")
        if is_complex(g.dtype) and not is_complex(data.dtype):
            raise TypeError(f"backward: gradient is {g.dtype} for a {data.dtype} "
                            f"output; complex values would lose their imaginary part")
        if g.dtype != data.dtype:
            g = xp.astype(g, data.dtype)
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
    seeds = [_seed(root, g, create) for root, g in zip(roots, gradients, strict=True)]
    if create:
        with enable_grad():
            leaves, wanted = _run(roots, seeds, retain, True, inputs, observer)
    else:
        leaves, wanted = _run(roots, seeds, retain, False, inputs, observer)
    if observer is not None:
        for leaf, g in leaves.items():
            observer(leaf, g)
    if inputs is not None:
        return _collect(inputs, wanted, leaves)
    if accumulate:
        _accumulate(leaves, seeds, create)
    return None


def _run(roots, seeds, retain, create, inputs, observer):
    """Run every node's rule, newest first; return the leaves' summed gradients (and,
    for `inputs`, the gradients of the non-leaves asked for)."""
    pending: dict[Node, Any] = {}  # node -> its gradient, summed so far
    leaves: dict[Tensor, Any] = {}  # leaf -> its gradient, summed
    for root, g in zip(roots, seeds):
        _send(root, g, pending, leaves)
    heap = [(-node.seq, node) for node in pending]  # the nodes holding a gradient
    heap.sort()  # a sorted list is a heap
    wanted = None if inputs is None else {t._node: None for t in inputs if t._node is not None}
    follow = None if inputs is None else _prune(_topo_order(list(pending)), inputs)
    anomaly = STATE.anomaly
    kind = ops = None  # the backend's ops, looked up again only when the array type changes
    # A node that is newer than every node in the heap runs next without entering it:
    # along a chain, the usual case, no heap push and pop per node (2% of chain1k).
    nxt = None
    while nxt is not None or heap:
        if nxt is None:
            node = heappop(heap)[1]
        else:
            node, nxt = nxt, None
        g = pending.pop(node)
        if node.hooks is not None or node.retained is not None:
            g = _node_hooks(node, g, create)
        if observer is not None:
            observer(node, g)
        if wanted is not None and node in wanted:
            wanted[node] = g
        op, parents, args, ans = node.op, node.parents, node.args, node.ans
        if args is None:
            raise RuntimeError(FREED)
        if create:  # the rule sees the graph's own tensors, so its result is differentiable
            xp = T
            inputs_now = tuple(_constant(a, ans) if p is None else p
                               for p, a in zip(parents, args))
            ans = _make(ans, node)
        else:
            if type(ans) is not kind:
                kind, ops = type(ans), backend_of(ans).ops
            xp = ops
            inputs_now = args
        kw = node.kw
        if op.saves:
            kw = {**(kw or {}), "saved": None if create else node.saved}
        needs = parents if follow is None else follow[node]
        try:
            grads = (op.vjp(xp, g, ans, inputs_now, needs, **kw) if kw else
                     op.vjp(xp, g, ans, inputs_now, needs))
        except FloatingPointError as err:
            kw = kw or {}
            grads = without_underflow(err, op.vjp, xp, g, ans, inputs_now, needs, **kw)
        i = -1
        for p, gi in zip(parents, grads):
            i += 1
            if gi is None or p is None:
                continue
            a = args[i]
            if gi.shape != a.shape:
                gi = unbroadcast(xp, gi, a.shape)
            if gi.dtype is not a.dtype and gi.dtype != a.dtype:
                gi = xp.astype(gi, dtype=a.dtype)
            if anomaly:
                from .anomaly import check_backward
                check_backward(node, i, gi)
            pnode = p._node  # _send, written out: it runs once per edge
            if pnode is None:
                old = leaves.get(p)
                leaves[p] = gi if old is None else old + gi
            else:
                old = pending.get(pnode)
                if old is None:
                    pending[pnode] = gi
                    if nxt is None and (not heap or pnode.seq > -heap[0][0]):
                        nxt = pnode
                    else:
                        if nxt is not None and pnode.seq > nxt.seq:
                            nxt, pnode = pnode, nxt
                        heappush(heap, (-pnode.seq, pnode))
                else:
                    pending[pnode] = old + gi
        if not retain:
            node.args = node.ans = node.saved = node.parents = node.kw = None
    return leaves, wanted


def _send(tensor: Tensor, g, pending: dict, leaves: dict) -> bool:
    """Add g to the gradient of `tensor`'s node (or leaf); True if the node had none."""
    node = tensor._node
    if node is None:
        old = leaves.get(tensor)
        leaves[tensor] = g if old is None else old + g
        return False
    old = pending.get(node)
    pending[node] = g if old is None else old + g
    return old is None


def _constant(a, ans):
    """A Python number among a node's inputs, as an array of the result's dtype: under
    create_graph a rule's arithmetic on it must keep float64 precision."""
    if type(a) is float or type(a) is int:
        xp = backend_of(ans).xp
        return xp.asarray(a, dtype=ans.dtype, device=ans.device)
    return a


def _prune(order: list[Node], inputs: Sequence[Tensor]) -> dict[Node, tuple]:
    """For `ag.gradients`: the parents of each node that lead to one of `inputs`
    (None for those that do not): the `needs` its rule gets.

    Only those get a gradient, so asking for d/dx of a critic does not also
    compute (or, under create_graph, record) the gradients of its weights.
    """
    leads = {t if t._node is None else t._node for t in inputs}
    masks = {}
    for node in reversed(order):  # oldest first: a node's parents come before it
        follow = tuple(p if p is not None and (p if p._node is None else p._node) in leads
                       else None for p in node.parents)
        masks[node] = follow
        if any(p is not None for p in follow):
            leads.add(node)
    return masks


def _node_hooks(node: Node, g, create: bool):
    """Run a non-leaf's hooks, then keep its gradient if retain_grad asked for it."""
    if node.hooks:
        g = _run_hooks(node.hooks, g, create)
    tensor = node.retained() if node.retained is not None else None
    if tensor is not None:
        kept = g if create else _make(_copy(g), None)
        tensor._grad = kept if tensor._grad is None else tensor._grad + kept
    return g


def _copy(g):
    return backend_of(g).xp.asarray(g, copy=True)


def _collect(inputs, wanted, leaves) -> list:
    out = []
    for t in inputs:
        if t._node is not None:
            g = wanted.get(t._node)
        else:
            g = leaves.get(t)
            if g is not None and t._hooks:
                g = _run_hooks(t._hooks, g, isinstance(g, Tensor))
        if g is not None and not isinstance(g, Tensor):
            g = _make(_copy(g), None)
        out.append(g)
    return out


def _accumulate(leaves: dict, seeds: list, create: bool) -> None:
    """Add each leaf's gradient into its `.grad`, taking the array without a copy only
    where nobody else can see it (the backend says whether it is a whole array of its
    own; no other leaf, and no seed, has the same one)."""
    taken = {id(g) for g in seeds}  # ids of live arrays only: seeds and taken ones
    kind = xp = None  # the backend's namespace, looked up again only for a new array type
    for leaf, g in leaves.items():
        if leaf._hooks:  # a hook may keep the gradient it is shown: .grad gets a copy
            g = _run_hooks(leaf._hooks, g, create)
            if not create:
                g = _copy(g)
        if create:
            leaf._grad = g if leaf._grad is None else leaf._grad + g
        elif leaf._grad is not None:
            leaf._grad = _make(leaf._grad._data + g, None)
        else:
            if type(g) is not kind:
                kind, xp = type(g), backend_of(g).xp
            if id(g) in taken or not xp.unshared(g):
                g = xp.asarray(g, copy=True)
            taken.add(id(g))
            leaf._grad = _make(g, None)
