"""`axpy(a, x, y)`: y += a * x in place, in one pass and with one rounding.

This is PyTorch's `y.add_(x, alpha=a)`, the update at the heart of SGD. numpy
has no fused multiply-add: `y += a * x` writes a temporary and reads it back
(five passes over memory instead of three). BLAS axpy makes one pass, and
SciPy exposes it; with SciPy installed (the optional `fast` extra) SGD uses it.
Whether each element is then rounded once (a fused multiply-add, as PyTorch's
vectorised add_ with alpha) or twice (as numpy) is the BLAS kernel's choice,
which OpenBLAS makes per CPU: on one machine it fused every element (SGD then
equalled PyTorch bit for bit); on an AMD EPYC (its Haswell kernel, OpenBLAS
0.3.31) some elements and not others. So updates agree with PyTorch's to a
rounding, and bit for bit only where the kernel fuses. Without SciPy, with
`fused=False`, or with AUTOGRAD_CORE_BLAS=0 in the environment, numpy's two
passes give the same values to within a rounding.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["axpy", "use_blas", "blas_table"]

_TABLE: dict | None = None  # dtype -> SciPy's BLAS axpy, loaded on first use


def blas_table() -> dict:
    """dtype -> SciPy's BLAS axpy; empty without SciPy or with AUTOGRAD_CORE_BLAS=0.
    Loaded on first use: importing SciPy's linalg takes about 0.1 s."""
    global _TABLE
    if _TABLE is None:
        _TABLE = {}
        if os.environ.get("AUTOGRAD_CORE_BLAS", "1") != "0":
            try:
                from scipy.linalg import blas
            except ImportError:
                pass
            else:
                _TABLE = {np.dtype(np.float32): blas.saxpy, np.dtype(np.float64): blas.daxpy}
    return _TABLE


# OpenBLAS hands an axpy of over 10,000 elements to its thread pool. SciPy's pool
# is not numpy's, and two pools of spinning threads fight over the cores: with
# two threads each, an MLP step measured 20x slower. Chunks this long stay on the
# calling thread, in one BLAS call each.
CHUNK = 10_000


def use_blas(fused: bool | None, who: str) -> bool:
    """An optimizer's `fused` option: None means 'when SciPy's BLAS is there'."""
    table = blas_table()
    if fused is None:
        return bool(table)
    if fused and not table:
        raise RuntimeError(f"{who}(fused=True) needs SciPy's BLAS: pip install scipy "
                           "(the 'fast' extra), and AUTOGRAD_CORE_BLAS not set to 0")
    return bool(fused)


def axpy(a: float, x: np.ndarray, y: np.ndarray, fused: bool = True) -> None:
    """y += a * x, in place, for x of y's shape; one BLAS pass when `fused` can be."""
    blas = (_TABLE if _TABLE is not None else blas_table()).get(y.dtype) if fused else None
    # BLAS walks both arrays as one flat vector: they must be numpy's (another
    # array library's would be copied, and y left as it was), laid out alike, and
    # y writeable and contiguous (then ravel is a view, and BLAS writes into y
    # itself; x, strided as y, is contiguous too). One flags read for all of y's
    # checks: an SGD step calls this once a parameter, where microseconds show.
    order = None
    if (blas is not None and type(y) is np.ndarray and type(x) is np.ndarray
            and x.dtype == y.dtype and x.strides == y.strides):
        flags = y.flags
        if flags.writeable and flags.aligned:
            order = "C" if flags.c_contiguous else "F" if flags.f_contiguous else None
    if order is None:
        y += a * x
        return
    # (ravel() without an order is the cheaper call: parsing "C" shows in a step)
    xs, ys = (x.ravel(), y.ravel()) if order == "C" else (x.ravel("F"), y.ravel("F"))
    if ys.size <= CHUNK:
        blas(xs, ys, a=a)
        return
    for i in range(0, ys.size, CHUNK):
        blas(xs[i:i + CHUNK], ys[i:i + CHUNK], a=a)
