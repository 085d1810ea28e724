"""ag.viz: DOT export of the graph, gradient colouring, rendering to files."""

from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import autograd_core as ag

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's `dot` program is not installed "
                                                   "(apt-get install graphviz)")


def _mlp():
    rng = np.random.default_rng(0)
    params = {"hidden.weight": ag.tensor(rng.standard_normal((4, 3)), requires_grad=True),
              "hidden.bias": ag.tensor(np.zeros(4), requires_grad=True),
              "out.weight": ag.tensor(rng.standard_normal((2, 4)), requires_grad=True)}
    x = ag.tensor(rng.standard_normal((5, 3)))
    h = ag.tanh(x @ params["hidden.weight"].T + params["hidden.bias"])
    loss = ag.square(h @ params["out.weight"].T).mean()
    return loss, params


def _edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\S+) -> (\S+)", source, flags=re.M)


def _node_ids(source: str, label_start: str) -> list[str]:
    return re.findall(rf'^\s*(\S+) \[label="{re.escape(label_start)}', source, flags=re.M)


def test_every_op_and_parameter_name_appears():
    loss, params = _mlp()
    source = ag.viz.to_dot(loss, params=params).source
    for op in ("matmul", "transpose", "add", "tanh", "square", "mean"):
        assert f'label="{op}\\n' in source, op
    for name in params:
        assert f'label="{name}\\n' in source, name
    assert "(5, 4) float64" in source  # shapes and dtypes label the ops
    assert "data\\n(5, 3) float64" in source  # the batch, which needs no gradient


def test_edges_follow_the_data_from_inputs_to_the_output():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = ag.exp(x)
    z = ag.sum(y)
    source = ag.viz.to_dot(z, params={"x": x}).source
    [x_id], [exp_id], [sum_id] = (_node_ids(source, s) for s in ("x\\n", "exp\\n", "sum\\n"))
    [out_id] = _node_ids(source, "output\\n")
    edges = _edges(source)
    assert (x_id, exp_id) in edges and (exp_id, sum_id) in edges and (sum_id, out_id) in edges
    assert (exp_id, x_id) not in edges and (sum_id, exp_id) not in edges


def test_kinds_of_node_look_different():
    loss, params = _mlp()
    extra = ag.tensor([1.0], requires_grad=True)  # an unnamed input
    source = ag.viz.to_dot(loss * extra, params=params).source
    shapes = {kind: re.search(rf'label="{kind}\\n[^\]]*shape=(\w+)', source).group(1)
              for kind in ("input", "hidden.weight", "tanh", "output")}
    assert len(set(shapes.values())) == 4, shapes


def test_show_grad_labels_norms_and_leaves_grad_alone():
    loss, params = _mlp()
    w = params["out.weight"]
    source = ag.viz.to_dot(loss, params=params, show_grad=True).source
    assert all(p.grad is None for p in params.values())
    loss.backward()  # the graph is intact and gives the norms drawn
    norm = float(np.linalg.norm(w.grad.data))
    drawn = re.search(r'label="out\.weight\\n[^"]*\|grad\| = ([0-9.e+-]+)', source).group(1)
    assert float(drawn) == pytest.approx(norm, rel=1e-2)
    assert "gradient norm" in source  # the colour legend
    assert source.count("|grad| =") == 1 + 3 + 7  # output's op chain, 3 params, 7 ops


def test_show_grad_after_a_retained_backward_keeps_grad_and_hooks():
    loss, params = _mlp()
    seen = []
    hidden = params["hidden.bias"] * 1.0
    hidden.retain_grad()
    hidden.register_hook(lambda g: seen.append(g))
    loss2 = loss + hidden.sum()
    loss2.backward(retain_graph=True)
    grads = {n: p.grad.data.copy() for n, p in params.items()}
    retained = hidden.grad.data.copy()
    ag.viz.to_dot(loss2, params=params, show_grad=True)
    for n, p in params.items():
        np.testing.assert_array_equal(p.grad.data, grads[n])
    np.testing.assert_array_equal(hidden.grad.data, retained)
    assert len(seen) == 1  # the hook ran for the user's backward only


def test_vanishing_and_exploding_gradients_get_different_colours():
    a, b = ag.tensor([1.0], requires_grad=True), ag.tensor([1.0], requires_grad=True)
    out = (a * 1e-7).sum() + (b * 1e7).sum()
    source = ag.viz.to_dot(out, params={"a": a, "b": b}, show_grad=True).source
    fills = dict(re.findall(r'\|grad\| = ([0-9.e+-]+)" [^\]]*fillcolor="(#\w+)"', source))
    blue, red = fills["1e-07"], fills["1e+07"]
    assert int(blue[5:7], 16) > int(blue[1:3], 16)  # more blue than red
    assert int(red[1:3], 16) > int(red[5:7], 16)


def test_model_groups_parameters_into_clusters():
    nn = pytest.importorskip("nn")
    if not hasattr(nn, "Sequential") or not hasattr(nn, "Linear"):
        pytest.skip("nn.Sequential / nn.Linear not available")
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    out = model(ag.randn(2, 3)).sum()
    source = ag.viz.to_dot(out, model=model).source
    assert "subgraph cluster_0" in source and "subgraph cluster_1" in source
    assert 'label="0 (Linear)"' in source
    assert 'label="1.weight\\n(2, 4) float32' in source


def test_a_freed_graph_is_reported():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = ag.exp(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        ag.viz.to_dot(y)


def test_show_grad_after_a_plain_backward_says_to_draw_first():
    loss, params = _mlp()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"freed by backward\(\); draw it before"):
        ag.viz.to_dot(loss, params=params, show_grad=True)
    loss, params = _mlp()  # the documented order: draw, then train
    source = ag.viz.to_dot(loss, params=params, show_grad=True).source
    loss.backward()
    assert "|grad|" in source and all(p.grad is not None for p in params.values())


def test_max_nodes_cuts_the_graph_and_says_so():
    x = ag.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(50):
        y = ag.sin(y)
    source = ag.viz.to_dot(y, max_nodes=10).source
    assert source.count('label="sin\\n') == 10
    assert "40 more ops" in source


def test_render_dot_without_the_dot_program(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    loss, params = _mlp()
    path = tmp_path / "graph.dot"
    assert ag.viz.render(loss, path, params=params) == path
    assert path.read_text().startswith("digraph")
    assert [p.name for p in tmp_path.iterdir()] == ["graph.dot"]
    with pytest.raises(RuntimeError, match="`dot`.*apt-get install graphviz"):
        ag.viz.render(loss, tmp_path / "graph.svg", params=params)
    assert not (tmp_path / "graph.svg").exists()


def test_unknown_suffix_is_refused(tmp_path):
    loss, _ = _mlp()
    with pytest.raises(ValueError, match=r"\.svg"):
        ag.viz.render(loss, tmp_path / "graph.jpeg")


@needs_dot
def test_render_svg_is_xml_with_the_op_names(tmp_path):
    loss, params = _mlp()
    path = tmp_path / "graph.svg"
    ag.viz.render(loss, str(path), params=params, show_grad=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.svg"]  # exactly `path`
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for name in ("matmul", "tanh", "mean", "hidden.weight", "out.weight"):
        assert name in text


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_render_binary_formats(tmp_path, suffix, magic):
    loss, _ = _mlp()
    path = ag.viz.render(loss, tmp_path / f"graph{suffix}")
    assert path.read_bytes().startswith(magic)


def test_ten_thousand_nodes_export_quickly():
    x = ag.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(10_000):  # deeper than any recursion limit
        y = ag.sin(y)
    start = time.perf_counter()
    source = ag.viz.to_dot(y.sum(), params={"x": x}, show_grad=True).source
    seconds = time.perf_counter() - start
    assert source.count('label="sin\\n') == 10_000
    assert len(_edges(source)) == 10_000 + 1 + 1  # x->sin, the chain, sum, output
    assert seconds < 30, f"10,000-node export took {seconds:.1f} s"


def test_the_same_graph_gives_the_same_dot_text():
    sources = []
    for _ in range(2):
        loss, params = _mlp()
        sources.append(ag.viz.to_dot(loss, params=params, show_grad=True).source)
    assert sources[0] == sources[1]
