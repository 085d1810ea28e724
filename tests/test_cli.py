"""The `autograd-core` command line, run as a subprocess like a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[1])
# the checkout under test, whatever copy of the package the interpreter has installed
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}

CORRECT = '''
import autograd_core as ag

def f(x):
    return ag.tanh(x @ x.T).sum(axis=0)

def two(a, b):
    return ag.exp(a) * b

def graph():
    w = ag.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    return ag.sigmoid(w @ w).sum()

def not_a_tensor(x):
    return 3

def log(x):
    return ag.log(x).sum()

def crashes(x):
    raise ZeroDivisionError("inside the user's code")

def with_model():
    import nn
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    return model(ag.randn(2, 3)).sum(), model
'''

WRONG = '''
import autograd_core as ag

class Square(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x  # should be 2 * g * x

def f(x):
    return Square.apply(x)
'''


def run(*args: str, cwd=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograd_core.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.fixture
def user_files(tmp_path):
    (tmp_path / "good.py").write_text(textwrap.dedent(CORRECT))
    (tmp_path / "bad.py").write_text(textwrap.dedent(WRONG))
    return tmp_path


def test_gradcheck_named_ops_prints_a_table(tmp_path):
    result = run("gradcheck", "exp", "matmul", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    for op in ("exp", "matmul"):
        mine = [r for r in rows if r and r[0] == op]
        assert len(mine) == 2, result.stdout  # orders 1 and 2
        assert all(r[-1] == "PASS" for r in mine)
    assert "max abs err" in result.stdout and "mode" in result.stdout


def test_gradcheck_json_is_one_document(tmp_path):
    result = run("gradcheck", "tanh", "sum", "--order", "1", "--seed", "3", "--json",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["failed"] == 0
    assert [(r["name"], r["order"]) for r in doc["results"]] == [("tanh", 1), ("sum", 1)]
    assert {"shapes", "mode", "max_abs_error", "max_rel_error", "ok"} <= set(doc["results"][0])


def test_gradcheck_every_op(tmp_path):
    result = run("gradcheck", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    names = {r["name"] for r in json.loads(result.stdout)["results"]}
    assert {"exp", "matmul", "sum", "dot", "split"} <= names


def test_unknown_op_is_a_usage_error(tmp_path):
    result = run("gradcheck", "exp", "no_such_op", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown op 'no_such_op'" in result.stderr


def test_unknown_op_suggests_a_close_name_not_the_whole_list(tmp_path):
    result = run("gradcheck", "sigmod", cwd=tmp_path)
    assert result.returncode == 2
    assert "did you mean 'sigmoid'" in result.stderr
    assert "matmul" not in result.stderr and len(result.stderr) < 600


def test_one_check_is_singular(tmp_path):
    result = run("gradcheck", "exp", "--order", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 function, 1 check: 1 passed, 0 failed" in result.stdout
    result = run("gradcheck", "exp", "tanh", cwd=tmp_path)
    assert "2 functions, 4 checks: 4 passed" in result.stdout


def test_a_restricted_domain_is_reported_as_nan_with_the_remedy(user_files):
    result = run("gradcheck", "good.py:log", cwd=user_files)
    assert result.returncode == 1
    assert "Warning" not in result.stderr, result.stderr
    assert "0.00e+00" not in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("log ")]
    assert rows and all("nan" in r and r[-1] == "FAIL" for r in rows), result.stdout
    assert "returned nan" in result.stdout and "--domain" in result.stdout
    result = run("gradcheck", "good.py:log", "--domain", "positive", cwd=user_files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "Warning" not in result.stderr


def test_domains_are_listed_in_help_and_checked():
    result = run("gradcheck", "--help")
    for name in ("normal", "real", "positive", "nonzero", "unit", "above-1"):
        assert name in result.stdout
    assert run("gradcheck", "x.py:f", "--domain", "complex").returncode == 2
    assert run("gradcheck", "exp", "--domain", "positive").returncode == 2


def test_runtime_errors_come_without_the_usage_block(user_files):
    result = run("gradcheck", "good.py:crashes", cwd=user_files)
    assert result.returncode == 2
    assert "ZeroDivisionError: inside the user's code" in result.stderr
    assert "usage:" not in result.stderr
    result = run("gradcheck", "exp", "--shapes", "3", cwd=user_files)  # a usage error
    assert result.returncode == 2 and "usage:" in result.stderr


def test_a_closed_pipe_ends_quietly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "autograd_core.cli", "gradcheck", "exp",
                             "--order", "1", "--json"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is printed, as `| head`
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    proc.stderr.close()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert proc.returncode == 141


def test_user_function_from_a_file(user_files):
    result = run("gradcheck", "good.py:f", cwd=user_files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3x4" in result.stdout and "PASS" in result.stdout
    result = run("gradcheck", str(user_files / "good.py") + ":two", "--shapes", "2,3", "3",
                 "--json", cwd=user_files.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["results"][0]["shapes"] == [[2, 3], [3]]


def test_user_function_from_a_module(user_files):
    result = run("gradcheck", "good:f", "--order", "1", cwd=user_files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_custom_gradient_fails(user_files):
    result = run("gradcheck", "bad.py:f", cwd=user_files)
    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert "analytical" in result.stdout and "numerical" in result.stdout


@pytest.mark.parametrize("target, message", [
    ("missing.py:f", "no such file"),
    ("good.py:nope", "no function 'nope'"),
    ("good.py:not_a_tensor", "must return a Tensor"),
    ("no_such_module_xyz:f", "could not import"),
])
def test_bad_targets_are_usage_errors(user_files, target, message):
    result = run("gradcheck", target, cwd=user_files)
    assert result.returncode == 2
    assert message in result.stderr


def test_bad_options_are_usage_errors(user_files):
    assert run("gradcheck", "exp", "--shapes", "3", cwd=user_files).returncode == 2
    assert run("gradcheck", "good.py:f", "--shapes", "3,x", cwd=user_files).returncode == 2
    assert run("gradcheck", "--order", "3", cwd=user_files).returncode == 2
    assert run("graph", "good.py:graph", "--out", "g.jpeg", cwd=user_files).returncode == 2
    assert run(cwd=user_files).returncode == 2


@pytest.mark.parametrize("command", [[], ["gradcheck"], ["graph"], ["demo"],
                                     ["activations"]])
def test_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and "usage: autograd-core" in result.stdout


def test_graph_to_dot(user_files):
    result = run("graph", "good.py:graph", "--out", "g.dot", "--grad", cwd=user_files)
    assert result.returncode == 0, result.stderr
    source = (user_files / "g.dot").read_text()
    assert source.startswith("digraph") and "sigmoid" in source and "|grad|" in source


def test_graph_of_a_tensor_and_its_module_names_the_parameters(user_files):
    result = run("graph", "good.py:with_model", "--out", "m.dot", cwd=user_files)
    assert result.returncode == 0, result.stderr
    source = (user_files / "m.dot").read_text()
    assert 'label="0.weight\\n(4, 3) float32' in source
    assert "subgraph cluster_0" in source and 'label="2 (Linear)"' in source
    assert 'label="input\\n' not in source.replace("input\\n(2, 3)", "")


def test_activations_table_lists_every_activation():
    result = run("activations")
    assert result.returncode == 0, result.stderr
    from nn.activation import PROPERTIES
    for name in PROPERTIES:
        assert f"| {name} |" in result.stdout
    assert "| relu | (0, inf) | no | yes | hard/- | 1 | comparison |" in result.stdout


def test_activations_plot(tmp_path):
    pytest.importorskip("matplotlib")
    result = run("activations", "--plot", str(tmp_path / "act.png"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "act.png").read_bytes()[:4] == b"\x89PNG"
    assert run("activations", "--plot", str(tmp_path / "act.jpeg")).returncode == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not installed")
def test_graph_to_svg(user_files):
    result = run("graph", "good.py:graph", "--out", "g.svg", cwd=user_files)
    assert result.returncode == 0, result.stderr
    root = ET.parse(user_files / "g.svg").getroot()
    assert "matmul" in " ".join(t.text or "" for t in root.iter())


def test_demo_quick(tmp_path):
    start = time.perf_counter()
    result = run("demo", "--quick", "--out", str(tmp_path / "out"), timeout=180)
    seconds = time.perf_counter() - start
    assert "== summary ==" in result.stdout, result.stdout + result.stderr
    assert "gradient checks" in result.stdout and "passed" in result.stdout
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert seconds < 60, f"demo --quick took {seconds:.0f} s"
    gan = [line for line in result.stdout.splitlines() if line.strip().startswith("ring GAN")]
    assert gan and ("ok" not in gan[-1].split() or "8/8 modes" in gan[-1]), gan


def test_demo_does_not_call_a_collapsed_gan_ok(monkeypatch, capsys):
    nn_gan = pytest.importorskip("nn.gan")
    from autograd_core import demo
    monkeypatch.setattr(nn_gan, "train_ring_gan", lambda **kw: {
        "coverage": {"modes_covered": 0, "high_quality": 0.0, "per_mode": [0] * 8}})
    report = []
    demo._stage("ring GAN", lambda: demo.train_ring_gan(steps=100), report)
    [(title, status, detail)] = report
    assert status == "weak" and "0/8 modes covered" in detail
