"""Graph export: draw the graph behind a Tensor as Graphviz DOT.

    dot = ag.viz.to_dot(loss, params=dict(model.named_parameters()))
    ag.viz.render(loss, "graph.svg", params=..., show_grad=True)

One box per op (name, output shape, dtype), leaves named after the
parameters they are, edges in the direction data flows. Inputs are yellow
ellipses (dashed: arrays that need no gradient, such as a batch of data),
parameters blue boxes, ops grey rounded boxes, outputs green octagons.
With `show_grad=True` every node also shows the norm of the gradient of
the output with respect to it, and its fill goes from blue
(vanishing, 1e-6 of the output's gradient) through white (same size) to red
(exploding, 1e6 times), on a log scale.

The DOT source is built in Python (the `graphviz` package only assembles
text); the system program `dot` is needed only to render SVG, PNG or PDF.
"""

from __future__ import annotations

import math
import shutil
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the graphviz package is imported by to_dot, not with the core
    import graphviz
import numpy as np

from .engine import backward
from .tensor import Node, Tensor

FORMATS = ("svg", "png", "pdf", "dot")
LOG_RANGE = 6.0  # colours saturate at 10**-6 and 10**6 times the output's gradient

_STYLE = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#eeeeee",
           "color": "#555555"},
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#fff3b0",
              "color": "#b58900"},
    "data": {"shape": "ellipse", "style": "dashed,filled", "fillcolor": "#fffbe6",
             "color": "#b58900"},
    "param": {"shape": "box3d", "style": "filled", "fillcolor": "#cfe2ff",
              "color": "#1f4e99", "penwidth": "2"},
    "output": {"shape": "doubleoctagon", "style": "filled", "fillcolor": "#c8f0c8",
               "color": "#2e7d32"},
}


def _describe(array: np.ndarray) -> str:
    return f"{tuple(array.shape)} {array.dtype}"


def _walk(outputs: Sequence[Tensor]) -> tuple[list[Node], list[Tensor]]:
    """Every node and leaf reachable from the outputs, breadth first (newest first)."""
    seen: set[int] = set()
    nodes: list[Node] = []
    leaves: dict[int, Tensor] = {}
    queue = deque(o._node for o in outputs if o._node is not None)
    while queue:
        node = queue.popleft()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        if node.parents is None:  # backward without retain_graph frees the links
            raise RuntimeError(f"ag.viz: the graph behind op '{node.op.name}' was freed by "
                               f"backward(); draw it before calling backward (show_grad "
                               f"computes its own gradients and leaves .grad alone), or "
                               f"call backward(retain_graph=True)")
        for p in node.parents:
            if p is None:
                continue
            if p._node is None:
                leaves.setdefault(id(p), p)
            else:
                queue.append(p._node)
    for o in outputs:
        if o._node is None:
            leaves.setdefault(id(o), o)
    return nodes, list(leaves.values())


def gradient_norms(outputs: Tensor | Sequence[Tensor]) -> dict[int, float]:
    """id(node or leaf) -> norm of d(sum of outputs)/d(it), by a retained backward.

    Nothing the user holds changes: leaves' `.grad` stays as it was (gradients
    are asked for, not accumulated), and tensors' hooks and `retain_grad` are
    switched off while it runs, so the norms are those the op rules produce.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    roots = [o for o in outputs if o.requires_grad]
    nodes, _ = _walk(roots)
    norms: dict[int, float] = {}

    def observe(who: Any, g: Any) -> None:
        g = g.data if isinstance(g, Tensor) else g
        norms[id(who)] = float(np.linalg.norm(np.ravel(g)))

    saved = [(n, n.hooks, n.retained) for n in nodes]
    for n in nodes:
        n.hooks = n.retained = None
    try:
        if roots:
            backward(roots, [None if o.size == 1 else np.ones_like(o.data) for o in roots],
                     retain=True, create=False, observer=observe, accumulate=False)
    finally:
        for n, hooks, retained in saved:
            n.hooks, n.retained = hooks, retained
    return norms


def _grad_colour(norm: float) -> tuple[str, str]:
    """(fill, font colour) for a gradient norm: blue small, white ~1, red large."""
    if not math.isfinite(norm):
        return "#ff00ff", "#000000"
    t = 0.0 if norm == 0 else max(-1.0, min(1.0, math.log10(norm) / LOG_RANGE))
    low, mid, high = (59, 76, 192), (247, 247, 247), (180, 4, 38)
    end = high if t > 0 else low
    rgb = [round(m + abs(t) * (e - m)) for m, e in zip(mid, end)] if norm else list(low)
    dark = abs(t) > 0.6 or norm == 0
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#ffffff" if dark else "#000000"


def _legend(dot: graphviz.Digraph) -> None:
    cells = "".join(f'<TD BGCOLOR="{_grad_colour(10.0 ** e)[0]}">1e{e:+d}</TD>'
                    for e in range(-6, 7, 2))
    cells += f'<TD BGCOLOR="{_grad_colour(math.nan)[0]}">nan/inf</TD>'
    dot.node("legend", f'<<TABLE BORDER="0" CELLSPACING="0" CELLBORDER="1"><TR>'
                       f'<TD COLSPAN="8">gradient norm, log scale</TD></TR>'
                       f'<TR>{cells}</TR></TABLE>>', shape="plaintext")


def _param_names(params: Mapping[str, Tensor] | None, model: Any) -> dict[int, str]:
    if params is None and model is not None:
        params = dict(model.named_parameters())
    return {id(t): name for name, t in (params or {}).items()}


def _module_classes(model: Any) -> dict[str, str]:
    named = getattr(model, "named_modules", None)
    return {path: type(m).__name__ for path, m in named()} if named else {}


def to_dot(output: Tensor | Sequence[Tensor], params: Mapping[str, Tensor] | None = None,
           show_grad: bool = False, model: Any = None,
           max_nodes: int | None = None) -> graphviz.Digraph:
    """The graph that computed `output` (a Tensor or several) as a graphviz.Digraph.

    params: name -> Tensor, to label leaves (matched by identity); taken from
    `model.named_parameters()` when only `model` is given. model: an
    nn.Module whose parameters are grouped into one cluster per submodule.
    show_grad: label and colour nodes by gradient norm (a retained backward;
    no `.grad` changes). The graph must still be there: draw before
    `backward()`, or after `backward(retain_graph=True)`. max_nodes: draw only
    that many ops nearest the output, and one node counting the rest.
    """
    outputs = [output] if isinstance(output, Tensor) else list(output)
    nodes, leaves = _walk(outputs)
    # DOT names by position in the walk, not by id(): the same graph gives the same text
    ids = {id(n): f"op{i}" for i, n in enumerate(nodes)}
    ids.update((id(t), f"t{i}") for i, t in enumerate(leaves))
    names = _param_names(params, model)
    norms = gradient_norms(outputs) if show_grad else None
    hidden = 0
    if max_nodes is not None and len(nodes) > max_nodes:
        hidden = len(nodes) - max_nodes
        nodes = nodes[:max_nodes]
        kept = {id(n) for n in nodes}
        used = {id(p) for n in nodes for p in n.parents if p is not None and p._node is None}
        used.update(id(o) for o in outputs)
        leaves = [t for t in leaves if id(t) in used]
    else:
        kept = None

    import graphviz

    dot = graphviz.Digraph("autograd", graph_attr={"rankdir": "TB"},
                           node_attr={"fontname": "Helvetica", "fontsize": "11"},
                           edge_attr={"color": "#666666"})

    def label(head: str, array: np.ndarray, key: int) -> tuple[str, dict[str, str]]:
        text = f"{head}\\n{_describe(array)}"
        if norms is None or key not in norms:
            return text, {}
        fill, font = _grad_colour(norms[key])
        return f"{text}\\n|grad| = {norms[key]:.3g}", {"fillcolor": fill, "fontcolor": font}

    for n in nodes:
        text, extra = label(n.op.name, n.ans, id(n))
        if n.site is not None:
            extra["tooltip"] = f"created at {n.site}"
        dot.node(ids[id(n)], text, **{**_STYLE["op"], **extra})
    _draw_leaves(dot, leaves, names, model, label, ids)
    drawn: dict[int, str] = {}
    for n in nodes:
        for p, a in zip(n.parents, n.args):
            if p is None:
                _draw_data(dot, a, ids[id(n)], drawn)
            elif p._node is None:
                dot.edge(ids[id(p)], ids[id(n)])
            elif kept is None or id(p._node) in kept:
                dot.edge(ids[id(p._node)], ids[id(n)])
            else:
                dot.edge("more", ids[id(n)], style="dashed")
    if hidden:
        dot.node("more", f"... {hidden} more ops", shape="plaintext")
    for k, o in enumerate(outputs):
        dot.node(f"out{k}", f"output\\n{_describe(o.data)}", **_STYLE["output"])
        dot.edge(ids[id(o._node) if o._node is not None else id(o)], f"out{k}")
    if norms is not None:
        _legend(dot)
    return dot


def _draw_data(dot: graphviz.Digraph, array: Any, op: str, drawn: dict[int, str]) -> None:
    """An array input that needs no gradient; scalars are left out as clutter."""
    if not isinstance(array, np.ndarray) or array.ndim == 0:
        return
    if id(array) not in drawn:
        drawn[id(array)] = f"d{len(drawn)}"
        dot.node(drawn[id(array)], f"data\\n{_describe(array)}", **_STYLE["data"])
    dot.edge(drawn[id(array)], op)


def _draw_leaves(dot: graphviz.Digraph, leaves: list[Tensor], names: dict[int, str],
                 model: Any, label: Any, ids: dict[int, str]) -> None:
    """Leaves, named parameters grouped by module path when a model is given."""
    groups: dict[str, list[tuple[Tensor, str]]] = {}
    for t in leaves:
        name = names.get(id(t))
        if name is None:
            text, extra = label("input", t.data, id(t))
            dot.node(ids[id(t)], text, **{**_STYLE["input"], **extra})
            continue
        prefix = name.rpartition(".")[0] if model is not None else ""
        groups.setdefault(prefix, []).append((t, name))
    classes = _module_classes(model) if model is not None else {}
    for prefix, members in groups.items():
        if prefix or (model is not None and members):
            title = f"{prefix or 'model'} ({classes.get(prefix, type(model).__name__)})"
            with dot.subgraph(name=f"cluster_{prefix or 'model'}") as c:
                c.attr(label=title, style="rounded,dashed", color="#1f4e99",
                       fontname="Helvetica", fontsize="10")
                _draw_params(c, members, label, ids)
        else:
            _draw_params(dot, members, label, ids)


def _draw_params(dot: graphviz.Digraph, members: list, label: Any,
                 ids: dict[int, str]) -> None:
    for t, name in members:
        text, extra = label(name, t.data, id(t))
        dot.node(ids[id(t)], text, **{**_STYLE["param"], **extra})


def render(output: Tensor | Sequence[Tensor], path: str | Path,
           params: Mapping[str, Tensor] | None = None, **kw: Any) -> Path:
    """Write the graph to exactly `path`; the format is its suffix (svg, png, pdf, dot).

    Keyword arguments go to `to_dot`. SVG, PNG and PDF need Graphviz's `dot`.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    fmt = "dot" if fmt == "gv" else fmt
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the format from {str(path)!r}: the file name must end "
                         f"in {', '.join('.' + f for f in FORMATS)}")
    if fmt != "dot" and shutil.which("dot") is None:
        raise RuntimeError(f"rendering {path.name} needs Graphviz's `dot` program, which is "
                           f"not on PATH. Install Graphviz (apt-get install graphviz, brew "
                           f"install graphviz, conda install graphviz or "
                           f"https://graphviz.org/download/), or write a .dot file instead")
    dot = to_dot(output, params=params, **kw)
    if fmt == "dot":
        path.write_text(dot.source, encoding="utf-8")
    else:
        path.write_bytes(dot.pipe(format=fmt))
    return path
