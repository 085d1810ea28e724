"""`axpy(a, x, y)`: y += a * x in place, in one pass, for the optimizers' updates.

numpy has no fused multiply-add: ``y += a * x`` reads x, writes a temporary as
large as x and reads it back (784 x 256 float32: 39 us; BLAS axpy 28 on one
thread, the call included). numpy's PyPI wheels carry an OpenBLAS
(numpy.libs/libscipy_openblas64_*.so), already loaded for matmul; its axpy
shares numpy's BLAS threads (SciPy's OpenBLAS would bring a second pool that
fights numpy's). Where that library is not there (numpy from
conda or a Linux distribution, macOS's Accelerate) or the arrays do not suit
it, axpy is numpy's two passes.

Each element is rounded once (a fused multiply-add, as PyTorch's ``add_`` with
``alpha``) or twice (numpy's two passes), as OpenBLAS's kernel for the CPU
chooses: its Haswell kernel fuses the vector body and not the tail.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

# The ctypes call costs about 3 us: float32 on one thread, the two ways are even at
# this size (6 us); at 65,536 elements 9 against 12, at 200,704 28 against 39.
MIN_SIZE = 32_768


@functools.cache  # found once, on first use
def table() -> dict:
    """dtype -> BLAS axpy from numpy's own OpenBLAS; empty where there is none."""
    numpy_dir = Path(np.__file__).parent
    for path in sorted((numpy_dir.parent / "numpy.libs").glob("libscipy_openblas64_*")):
        try:
            library = ctypes.CDLL(str(path))  # the one numpy loaded: the same handle
            found = {}
            for dtype, letter, scalar in ((np.float32, "s", ctypes.c_float),
                                          (np.float64, "d", ctypes.c_double)):
                function = getattr(library, f"scipy_cblas_{letter}axpy64_")
                function.restype = None  # (n, a, x, incx, y, incy), 64-bit integers
                function.argtypes = [ctypes.c_int64, scalar, ctypes.c_void_p, ctypes.c_int64,
                                     ctypes.c_void_p, ctypes.c_int64]
                found[np.dtype(dtype)] = function
            return found
        except (OSError, AttributeError):
            continue
    return {}


def axpy(a: float, x: np.ndarray, y: np.ndarray) -> None:
    """y += a * x in place (x broadcasts to y, as in numpy)."""
    blas = table().get(y.dtype)
    if (blas is not None and type(x) is np.ndarray and x.size >= MIN_SIZE
            and x.dtype == y.dtype and x.shape == y.shape
            and x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable
            and (x is y or not np.may_share_memory(x, y))):
        blas(y.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
    else:
        y += a * x
