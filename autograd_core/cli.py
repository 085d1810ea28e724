"""The `autograd-core` command: gradcheck, graph and demo subcommands.

    autograd-core gradcheck [OP ...] [--order 1|2] [--seed N] [--json]
    autograd-core gradcheck FILE.py:FUNC [--shapes 3,4 5]
    autograd-core graph FILE.py:FUNC --out graph.svg [--grad]
    autograd-core demo [--quick] [--out DIR]

Exit status: 0 success, 1 a check failed (or rendering failed), 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


class UsageError(Exception):
    """Bad command line: reported with the usage line, exit status 2."""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="autograd-core", description="Tools for the autograd_core engine.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser(
        "gradcheck", help="check gradients against numerical differentiation",
        description="Check every registered op (or the named ones) against central "
                    "differences, or a user function given as FILE.py:FUNC or MODULE:FUNC.")
    check.add_argument("targets", nargs="*", metavar="OP|TARGET",
                       help="op names, or one FILE.py:FUNC / MODULE:FUNC (default: every op)")
    check.add_argument("--order", type=int, choices=(1, 2), default=2,
                       help="1: first derivatives; 2: first and second (default 2)")
    check.add_argument("--seed", type=int, default=0, help="seed of the sampled inputs")
    check.add_argument("--shapes", nargs="+", metavar="SHAPE",
                       help="with TARGET: one input per shape, e.g. --shapes 3,4 5 "
                            "(default: one input of shape 3,4)")
    check.add_argument("--json", action="store_true", help="print one JSON document")

    graph = sub.add_parser(
        "graph", help="export the graph of a Tensor",
        description="Draw the graph of the Tensor that FUNC() returns; the format comes "
                    "from the suffix of --out (svg, png, pdf, dot).")
    graph.add_argument("target", metavar="TARGET", help="FILE.py:FUNC or MODULE:FUNC")
    graph.add_argument("--out", required=True, metavar="PATH", help="file to write")
    graph.add_argument("--grad", action="store_true",
                       help="label and colour nodes by gradient norm")

    demo = sub.add_parser("demo", help="the main job, end to end",
                          description="Check every op's gradients, train the digits MLP, "
                                      "draw one training step, try the ring GAN.")
    demo.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    demo.add_argument("--out", default="out", metavar="DIR", help="output directory")
    return parser, {"gradcheck": check, "graph": graph, "demo": demo}


def load_target(target: str) -> Callable:
    """FILE.py:FUNC or MODULE:FUNC -> the function."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise UsageError(f"target {target!r} must be FILE.py:FUNC or MODULE:FUNC")
    if where.endswith(".py") or os.sep in where or "/" in where:
        path = Path(where)
        if not path.is_file():
            raise UsageError(f"no such file: {where}")
        spec = importlib.util.spec_from_file_location(f"_target_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.resolve().parent))  # its own imports of neighbours
        try:
            spec.loader.exec_module(module)
        except Exception as err:
            raise UsageError(f"could not load {where}: {type(err).__name__}: {err}") from err
        finally:
            sys.path.pop(0)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` would
        try:
            module = importlib.import_module(where)
        except Exception as err:
            raise UsageError(f"could not import {where}: {type(err).__name__}: {err}") from err
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UsageError(f"{where} has no function {name!r}")
    return fn


def _parse_shape(text: str) -> tuple[int, ...]:
    text = text.strip().strip("()")
    try:
        shape = tuple(int(n) for n in text.split(",") if n.strip())
    except ValueError:
        raise UsageError(f"bad shape {text!r}: write it as 3,4 (or () for a scalar)") from None
    if any(n < 0 for n in shape):
        raise UsageError(f"bad shape {text!r}: sizes must be >= 0")
    return shape


def _report(results: list, as_json: bool) -> int:
    from .opcheck import format_table, summary
    ok = all(r.ok for r in results)
    if as_json:
        doc = {"ok": ok, "passed": sum(r.ok for r in results),
               "failed": sum(not r.ok for r in results),
               "results": [r.as_dict() for r in results]}
        print(json.dumps(doc, indent=2, default=float))
    else:
        print(format_table(results))
        print(summary(results))
    return 0 if ok else 1


def _gradcheck(args: argparse.Namespace) -> int:
    from .opcheck import all_names, check_ops
    orders = (1, 2) if args.order == 2 else (1,)
    targets = [t for t in args.targets if ":" in t]
    if targets:
        if len(args.targets) != 1:
            raise UsageError("give either op names or one FILE.py:FUNC / MODULE:FUNC target")
        return _check_target(targets[0], args, orders)
    if args.shapes:
        raise UsageError("--shapes applies only to a FILE.py:FUNC or MODULE:FUNC target")
    names = all_names()
    unknown = [t for t in args.targets if t not in names]
    if unknown:
        raise UsageError(f"unknown op {', '.join(map(repr, unknown))}; registered: "
                         f"{', '.join(names)}")
    return _report(check_ops(args.targets or None, orders, args.seed), args.json)


def _check_target(target: str, args: argparse.Namespace, orders: Sequence[int]) -> int:
    from . import tensor as make_tensor
    from .opcheck import check_function
    from .tensor import Tensor
    fn = load_target(target)
    shapes = [_parse_shape(s) for s in args.shapes or ["3,4"]]
    rng = np.random.default_rng(args.seed)
    inputs = [make_tensor(rng.standard_normal(s), dtype=np.float64, requires_grad=True)
              for s in shapes]
    try:
        out = fn(*inputs)
    except Exception as err:
        raise UsageError(f"calling {target} on inputs of shapes "
                         f"{', '.join(map(str, shapes))} raised {type(err).__name__}: "
                         f"{err}") from err
    if not isinstance(out, Tensor):
        raise UsageError(f"{target} must return a Tensor, it returned {type(out).__name__}")
    name = target.rpartition(":")[2]
    results = [check_function(fn, inputs, order, name=name, seed=args.seed) for order in orders]
    return _report(results, args.json)


def _graph(args: argparse.Namespace) -> int:
    from . import viz
    from .tensor import Tensor
    suffix = Path(args.out).suffix.lower().lstrip(".")
    if suffix not in viz.FORMATS + ("gv",):
        raise UsageError(f"--out {args.out}: the suffix must be one of "
                         f"{', '.join('.' + f for f in viz.FORMATS)}")
    fn = load_target(args.target)
    try:
        out = fn()
    except Exception as err:
        raise UsageError(f"calling {args.target}() raised {type(err).__name__}: {err}") from err
    if not isinstance(out, Tensor):
        raise UsageError(f"{args.target} must return a Tensor, it returned "
                         f"{type(out).__name__}")
    try:
        path = viz.render(out, args.out, show_grad=args.grad)
    except (RuntimeError, OSError) as err:
        print(f"autograd-core graph: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run
    return run(quick=args.quick, out=args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `autograd-core` console script; returns the exit status."""
    parser, subcommands = _parser()
    args = parser.parse_args(argv)
    command = {"gradcheck": _gradcheck, "graph": _graph, "demo": _demo}[args.command]
    try:
        return command(args)
    except UsageError as err:
        subcommands[args.command].print_usage(sys.stderr)
        print(f"autograd-core {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
