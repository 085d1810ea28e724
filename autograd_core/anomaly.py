"""Anomaly mode: stop at the first op whose forward or backward makes NaN or inf.

Only in anomaly mode does an op record where the user created it, so normal
runs pay nothing but one flag test per recorded op.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from .grad_mode import STATE

# Frames from these packages are ours; the first frame outside them is the user's.
_OURS = tuple(os.path.dirname(os.path.abspath(p)) + os.sep for p in (
    __file__, os.path.join(os.path.dirname(__file__), "..", "nn", "x"),
    os.path.join(os.path.dirname(__file__), "..", "optim", "x")))


def user_site() -> str:
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_OURS) and "importlib" not in path:
            return f"{path}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _bad(a) -> str | None:
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    return "NaN" if np.isnan(a).any() else "inf"


def check_forward(node) -> None:
    node.site = user_site()
    _check_output(node.op, node.args, node.ans, node.site)


def check_unrecorded(op, args, ans) -> None:
    """An op that records no graph (no input requires grad, or grad mode is off)."""
    if _bad(ans):
        _check_output(op, args, ans, user_site())


def _check_output(op, args, ans, site: str) -> None:
    bad = _bad(ans)
    if bad:
        inputs_bad = any(_bad(a) for a in args if isinstance(a, np.ndarray))
        why = "received non-finite inputs and returned" if inputs_bad else "produced"
        raise RuntimeError(f"anomaly: op '{op.name}' {why} {bad} in its forward "
                           f"(output shape {ans.shape}), created at {site}")


def check_backward(node, i: int, g) -> None:
    bad = _bad(g.data if hasattr(g, "_node") else g)
    if bad:
        site = node.site or "an unknown place (the graph was recorded outside detect_anomaly)"
        raise RuntimeError(f"anomaly: the backward of op '{node.op.name}' produced {bad} "
                           f"in the gradient of input {i}; the op was created at {site}")


def is_anomaly_enabled() -> bool:
    return STATE.anomaly


class detect_anomaly:
    """`with ag.detect_anomaly():` check every op's forward and backward for NaN/inf."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        self._prev = STATE.anomaly
        STATE.anomaly = self.mode

    def __exit__(self, *exc) -> None:
        STATE.anomaly = self._prev


def set_detect_anomaly(mode: bool) -> None:
    STATE.anomaly = bool(mode)
