"""Keep freed array memory in the process between training steps (glibc only).

An autograd step allocates its intermediates and frees them at the end of
backward, every step. glibc's malloc hands blocks over 128 KiB to mmap and
gives free memory at the top of the heap back to the OS once it exceeds the
trim threshold; both thresholds grow as large blocks are freed, but only up to
the sizes seen so far. A step whose temporaries straddle those thresholds
then maps and unmaps the same pages every step, and pays a page fault per
4 KiB page touched. Measured on the small CNN of benchmarks/cnn.py: at batch
256, 481 faults and 1.48 ms per step, against none and 0.90 ms with the
thresholds below; at batch 64 it depends on the heap's layout, so on what
else the process did before (104 faults, 403 µs against 271 µs, in the
benchmark's process until PyTorch was imported, which happened to hide it).

`tune_malloc` sets both thresholds to where glibc's own adjustment would end
after freeing one 32 MiB block (its ceiling on 64-bit): blocks up to 32 MiB
come from the heap, and up to 64 MiB of free heap stays mapped for the next
step. Memory still stays flat over a training loop; the peak is simply not
returned between steps (PyTorch's CUDA caching allocator keeps its, too).
numpy does the like at import (madvise hugepages, NUMPY_MADVISE_HUGEPAGE=0
turns it off); here AUTOGRAD_CORE_MALLOC_TUNING=0 turns this off.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # the ratio glibc's dynamic adjustment keeps


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds; True if they were set.

    Does nothing (False) off glibc, or with AUTOGRAD_CORE_MALLOC_TUNING=0.
    """
    if os.environ.get("AUTOGRAD_CORE_MALLOC_TUNING", "1") == "0":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


TUNED = tune_malloc()
