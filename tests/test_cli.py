"""The `autograd-core` command line, run as a subprocess like a user would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import pytest

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
                          capture_output=True, text=True, timeout=timeout)


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


@pytest.mark.parametrize("command", [[], ["gradcheck"], ["graph"], ["demo"]])
def test_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and "usage: autograd-core" in result.stdout


def test_graph_to_dot(user_files):
    result = run("graph", "good.py:graph", "--out", "g.dot", "--grad", cwd=user_files)
    assert result.returncode == 0, result.stderr
    source = (user_files / "g.dot").read_text()
    assert source.startswith("digraph") and "sigmoid" in source and "|grad|" in source


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
