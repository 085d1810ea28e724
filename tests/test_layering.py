"""The core holds the math ops; nn.functional registers the neural-network ops.

nn and optim use only the core's public names, the core never imports them, and
the command line still checks every op, nn's included, from a fresh process.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NN_OPS = ("conv2d", "unfold", "fold", "window_sum", "window_spread", "max_pool2d",
          "avg_pool2d", "relu_max_pool2d", "linear", "linear_relu", "flatten_linear",
          "bce", "softmax_cross_entropy")


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout.strip()


def test_the_core_registers_only_its_math_ops_and_nn_functional_the_rest():
    out = _fresh("import autograd_core.registry as r, autograd_core; "
                 f"before = [n for n in {NN_OPS!r} if n in r.REGISTRY]; "
                 "import nn.functional; "
                 f"after = [n for n in {NN_OPS!r} if n in r.REGISTRY]; "
                 "print(before, len(after))")
    assert out == f"[] {len(NN_OPS)}"


def test_nn_and_optim_import_no_private_name_of_the_core():
    private = []
    for path in sorted((ROOT / "nn").rglob("*.py")) + sorted((ROOT / "optim").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and \
                    (node.module or "").split(".")[0] == "autograd_core":
                private += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}"
                            for a in node.names if a.name.startswith("_")]
    assert private == []


def test_no_core_module_imports_nn_or_optim_at_import_time():
    """Only tools (the command line, the demo) may import nn, inside a function."""
    found = []
    for path in sorted((ROOT / "autograd_core").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:  # module-level statements only
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and
                     node.level == 0 else [])
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names
                      if n.split(".")[0] in ("nn", "optim")]
    assert found == []


def test_the_command_line_checks_nn_ops_from_a_fresh_process():
    out = subprocess.run([sys.executable, "-m", "autograd_core.cli", "gradcheck", "conv2d",
                          "max_pool2d", "--order", "1"], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "conv2d" in out.stdout and "max_pool2d" in out.stdout
    assert "2 functions, 2 checks: 2 passed" in out.stdout


def test_no_op_reads_grad_mode():
    """A forward or rule is a function of its inputs and parameters: grad mode is the
    engine's (apply tells a `saves` forward whether its node is recorded: keep=)."""
    readers = []
    paths = sorted((ROOT / "autograd_core" / "ops").glob("*.py")) + \
        sorted((ROOT / "nn" / "functional").glob("*.py"))
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if "STATE" in names or isinstance(node, ast.Name) and node.id == "STATE" or \
                    isinstance(node, ast.Attribute) and node.attr == "is_grad_enabled":
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == []
