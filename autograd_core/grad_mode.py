"""Grad mode: whether ops record a graph. Thread-local; a new thread starts enabled."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


class _State(threading.local):
    enabled = True  # class attributes: the defaults every new thread sees
    anomaly = False  # anomaly mode: check every value, record where ops were made
    transform_depth = 0  # how many transforms (ag.grad, ...) are evaluating their function


STATE = _State()


def is_grad_enabled() -> bool:
    return STATE.enabled


class _GradMode:
    """Context manager and decorator that sets grad mode, restoring it on exit.

    Usable as ``with no_grad():``, ``@no_grad()`` and bare ``@no_grad``.
    """

    mode = True

    def __new__(cls, fn: Callable | None = None):
        self = super().__new__(cls)
        return self(fn) if callable(fn) else self

    def __init__(self, fn: Callable | None = None) -> None:
        pass

    def __enter__(self) -> None:
        self._prev = STATE.enabled
        STATE.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        STATE.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = STATE.enabled
            STATE.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.enabled = prev

        return wrapper


class no_grad(_GradMode):
    """Record no graph: ``with ag.no_grad():`` or ``@ag.no_grad()``."""

    mode = False


class enable_grad(_GradMode):
    """Record the graph again inside a ``no_grad`` region."""

    mode = True


class set_grad_enabled(_GradMode):
    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
