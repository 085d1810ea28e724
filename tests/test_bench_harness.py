"""The benchmark harness reports an engine that cannot run (an old checkout without
a workload's layers, a competitor not installed) and times the others."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _harness():
    spec = importlib.util.spec_from_file_location("harness", ROOT / "benchmarks" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["harness"] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def _missing():
    raise ImportError("not installed")


def _broken():
    raise AttributeError("an old checkout without this layer")


def test_a_case_whose_every_engine_fails_is_reported_not_raised():
    h = _harness()
    case = h.Case("nothing runs", {h.FLOOR: _missing, "autograd-core": _broken})
    outcomes = h.measure(case, repeat=3, target=0.001, settle=0)
    assert outcomes[h.FLOOR].status == "n/a"
    assert outcomes["autograd-core"].status == "error: AttributeError"
    assert outcomes["autograd-core"].samples == []


def test_the_engines_that_run_are_timed_beside_one_that_fails():
    h = _harness()
    case = h.Case("one runs", {h.FLOOR: lambda: (lambda: 1.0), "autograd-core": _missing})
    outcomes = h.measure(case, repeat=3, target=0.001, settle=0)
    assert len(outcomes[h.FLOOR].samples) == 3 and outcomes["autograd-core"].status == "n/a"
