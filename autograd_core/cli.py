"""The `autograd-core` command: gradcheck, graph, demo and activations subcommands.

    autograd-core gradcheck [OP ...] [--order 1|2] [--seed N] [--json]
    autograd-core gradcheck FILE.py:FUNC [--shapes 3,4 5] [--domain positive]
    autograd-core graph FILE.py:FUNC --out graph.svg [--grad]
    autograd-core demo [--quick] [--out DIR]
    autograd-core activations [--plot PATH]

Exit status: 0 success, 1 a check failed (or rendering failed), 2 usage error
or a target that cannot be loaded or called; 141 (128 + SIGPIPE) when the
reader of stdout left early, as `| head` does, without a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import sampling


class UsageError(Exception):
    """Bad command line: reported with the usage line, exit status 2."""


class TargetError(UsageError):
    """A FILE.py:FUNC target that cannot be loaded or called: exit status 2, but no
    usage line, since the command line itself was fine."""


class CommandError(Exception):
    """The command ran and could not finish (a missing program or package): exit 1."""


# Input samplers for a user's function: the domains the ops declare in sampling.py.
DOMAINS = {
    "normal": ("standard normal (the default)", None),
    "real": ("uniform on [-2, 2]", sampling.REAL),
    "positive": ("uniform on [0.5, 2]: log, sqrt, reciprocal", sampling.POSITIVE),
    "nonzero": ("[-2, 2] at least 0.25 from 0: a denominator", sampling.NONZERO),
    "unit": ("uniform on [-0.8, 0.8], inside (-1, 1): arcsin, arccos", sampling.UNIT),
    "above-1": ("uniform on [-0.5, 2], above -1: log1p", sampling.ABOVE_M1),
}


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 check', '2 checks' (nouns for an irregular plural)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


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
    check.add_argument("--domain", choices=DOMAINS, default="normal", metavar="NAME",
                       help="with TARGET: where the inputs are drawn: " +
                            "; ".join(f"{k}: {v[0]}" for k, v in DOMAINS.items()))
    check.add_argument("--json", action="store_true", help="print one JSON document")

    graph = sub.add_parser(
        "graph", help="export the graph of a Tensor",
        description="Draw the graph of the Tensor that FUNC() returns; the format comes "
                    "from the suffix of --out (svg, png, pdf, dot).")
    graph.add_argument("target", metavar="TARGET",
                       help="FILE.py:FUNC or MODULE:FUNC; FUNC() returns the Tensor, or "
                            "(Tensor, module) to name parameters and group them by module")
    graph.add_argument("--out", required=True, metavar="PATH", help="file to write")
    graph.add_argument("--grad", action="store_true",
                       help="label and colour nodes by gradient norm")

    demo = sub.add_parser("demo", help="the main job, end to end",
                          description="Check every op's gradients, train the digits MLP, "
                                      "draw one training step, try the ring GAN.")
    demo.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    demo.add_argument("--out", default="out", metavar="DIR", help="output directory")

    acts = sub.add_parser(
        "activations", help="the properties of every activation",
        description="Print each activation's range, zero-centring, monotonicity, "
                    "saturation, largest slope and cost (nn.activation.describe); with "
                    "--plot, draw each curve with its derivative (computed by autograd).")
    acts.add_argument("--plot", metavar="PATH",
                      help="also draw the curves to PATH (png, svg, pdf; needs matplotlib)")
    return parser, {"gradcheck": check, "graph": graph, "demo": demo, "activations": acts}


def load_target(target: str) -> Callable:
    """FILE.py:FUNC or MODULE:FUNC -> the function."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise UsageError(f"target {target!r} must be FILE.py:FUNC or MODULE:FUNC")
    if where.endswith(".py") or os.sep in where or "/" in where:
        path = Path(where)
        if not path.is_file():
            raise TargetError(f"no such file: {where}")
        spec = importlib.util.spec_from_file_location(f"_target_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.resolve().parent))  # its own imports of neighbours
        try:
            spec.loader.exec_module(module)
        except Exception as err:
            raise TargetError(f"could not load {where}: {type(err).__name__}: {err}") from err
        finally:
            sys.path.pop(0)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` would
        try:
            module = importlib.import_module(where)
        except Exception as err:
            raise TargetError(f"could not import {where}: {type(err).__name__}: {err}") from err
    fn = getattr(module, name, None)
    if not callable(fn):
        raise TargetError(f"{where} has no function {name!r}")
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


def summary(results: list) -> str:
    """'12 functions, 24 checks: 23 passed, 1 failed', in correct numbers."""
    failed = sum(not r.ok for r in results)
    return (f"{plural(len({r.name for r in results}), 'function')}, "
            f"{plural(len(results), 'check')}: {len(results) - failed} passed, "
            f"{failed} failed")


def _report(results: list, as_json: bool) -> int:
    from .opcheck import format_table
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
    if args.shapes or args.domain != "normal":
        raise UsageError("--shapes and --domain apply only to a FILE.py:FUNC or "
                         "MODULE:FUNC target (an op draws from its own domain)")
    names = all_names()
    for name in args.targets:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3)
            hint = (f"did you mean {' or '.join(map(repr, close))}?" if close else
                    f"`autograd-core gradcheck --json` lists all {len(names)}")
            raise UsageError(f"unknown op {name!r}; {hint}")
    return _report(check_ops(args.targets or None, orders, args.seed), args.json)


def _check_target(target: str, args: argparse.Namespace, orders: Sequence[int]) -> int:
    from . import tensor as make_tensor
    from .opcheck import Result, check_function
    from .tensor import Tensor
    fn = load_target(target)
    shapes = [_parse_shape(s) for s in args.shapes or ["3,4"]]
    rng = np.random.default_rng(args.seed)
    domain = DOMAINS[args.domain][1]
    inputs = [make_tensor(rng.standard_normal(s) if domain is None else
                          sampling.values(rng, s, domain), dtype=np.float64, requires_grad=True)
              for s in shapes]
    name = target.rpartition(":")[2]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN is reported below, by name
        try:
            out = fn(*inputs)
        except Exception as err:
            raise TargetError(f"calling {target} on inputs of shapes "
                              f"{', '.join(map(str, shapes))} raised {type(err).__name__}: "
                              f"{err}") from err
        if not isinstance(out, Tensor):
            raise TargetError(f"{target} must return a Tensor, it returned "
                              f"{type(out).__name__}")
        bad = _non_finite(out)
        if bad:
            others = ", ".join(k for k in DOMAINS if k != args.domain)
            why = (f"the function returned {bad} at the sampled input (--domain "
                   f"{args.domain}); not checked: pick a --domain inside its domain "
                   f"({others})")
            nan = float("nan")
            results = [Result(name, shapes, order, "not run", nan, nan, False, [why])
                       for order in orders]
        else:
            results = [check_function(fn, inputs, order, name=name, seed=args.seed)
                       for order in orders]
    return _report(results, args.json)


def _non_finite(out) -> str:
    """'nan', 'inf' or 'nan and inf' for the values of out that are not finite; '' if none."""
    data = np.asarray(out.data)
    if data.dtype.kind not in "fc" or np.all(np.isfinite(data)):
        return ""
    kinds = [k for k, found in (("nan", np.isnan(data).any()), ("inf", np.isinf(data).any()))
             if found]
    return " and ".join(kinds)


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
        raise TargetError(f"calling {args.target}() raised {type(err).__name__}: "
                          f"{err}") from err
    model = None
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Tensor):
        out, model = out
        if not hasattr(model, "named_parameters"):
            raise TargetError(f"{args.target} returned (Tensor, {type(model).__name__}); the "
                              f"second item must be the nn.Module whose parameters to name")
    if not isinstance(out, Tensor):
        raise TargetError(f"{args.target} must return a Tensor or (Tensor, module), it "
                          f"returned {type(out).__name__}")
    try:
        path = viz.render(out, args.out, show_grad=args.grad, model=model)
    except (RuntimeError, OSError) as err:
        raise CommandError(str(err)) from err
    print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run
    return run(quick=args.quick, out=args.out)


def _activation_modules() -> dict:
    """Functional name -> the activation module at its defaults (eval mode: RReLU's
    slope is then fixed), for every activation nn.activation.describe knows."""
    import nn
    from nn.activation import PROPERTIES
    classes = {c.lower(): getattr(nn, c) for c in dir(nn) if isinstance(getattr(nn, c), type)}
    return {name: classes[name.replace("_", "")]().eval() for name in PROPERTIES}


def activation_table() -> str:
    """A markdown table of nn.activation.describe for every activation."""
    from nn.activation import describe
    number = lambda v: "inf" if v == float("inf") else "-inf" if v == -float("inf") else f"{v:.4g}"
    rows = ["| activation | range | zero-centred | monotone | saturation (left/right) "
            "| max slope | cost |", "|---|---|---|---|---|---|---|"]
    for name in _activation_modules():
        p = describe(name)
        left, right = p.saturation
        rows.append(f"| {name} | ({number(p.range[0])}, {number(p.range[1])}) | "
                    f"{'yes' if p.zero_centred else 'no'} | {'yes' if p.monotone else 'no'} | "
                    f"{left or '-'}/{right or '-'} | {number(p.max_derivative)} | {p.cost} |")
    return "\n".join(rows)


def activation_curves(path: str | Path, low: float = -5.0, high: float = 5.0) -> Path:
    """One panel per activation: h(x) and h'(x), the derivative by backward."""
    try:
        import matplotlib
    except ImportError:
        raise CommandError("--plot needs matplotlib: pip install matplotlib (or the "
                           "'examples' extra)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import tensor
    modules = _activation_modules()
    cols = 5
    rows = -(-len(modules) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
    xs = np.linspace(low, high, 401)
    for ax, (name, module) in zip(axes.flat, modules.items()):
        x = tensor(xs, dtype=np.float64, requires_grad=True)
        y = module(x)
        y.sum().backward()  # elementwise: d sum(h(x)) / dx_i = h'(x_i)
        ax.plot(xs, y.numpy(), label="h(x)", color="#1f4e99")
        ax.plot(xs, x.grad.numpy(), label="h'(x)", color="#b22222", linestyle="--")
        ax.axhline(0, color="#999999", linewidth=0.5)
        ax.axvline(0, color="#999999", linewidth=0.5)
        ax.set_title(name, fontsize=10)
        ax.set_ylim(-2.5, 5.5)
    for ax in list(axes.flat)[len(modules):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _activations(args: argparse.Namespace) -> int:
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--plot {args.plot}: the suffix must be .png, .svg or .pdf")
    print(activation_table())
    if args.plot:
        print(f"wrote {activation_curves(args.plot)}")
    return 0


COMMANDS = {"gradcheck": _gradcheck, "graph": _graph, "demo": _demo,
            "activations": _activations}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `autograd-core` console script; returns the exit status."""
    parser, subcommands = _parser()
    args = parser.parse_args(argv)
    try:
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return status
    except TargetError as err:
        print(f"autograd-core {args.command}: error: {err}", file=sys.stderr)
        return 2
    except UsageError as err:
        subcommands[args.command].print_usage(sys.stderr)
        print(f"autograd-core {args.command}: error: {err}", file=sys.stderr)
        return 2
    except CommandError as err:
        print(f"autograd-core {args.command}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader left (`| head`): stop quietly, and let the interpreter's final
        # flush of stdout go nowhere instead of raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a tool killed by the signal


if __name__ == "__main__":
    sys.exit(main())
