"""Keep freed array memory in the process between training steps (glibc only).

An autograd step allocates its intermediates and frees them at the end of
backward, every step. glibc's malloc hands blocks over 128 KiB to mmap and
gives free memory at the top of the heap back to the OS once it exceeds the
trim threshold; both thresholds grow as large blocks are freed, but only up to
the sizes seen so far. A step whose temporaries straddle those thresholds
then maps and unmaps the same pages every step, and pays a page fault per
4 KiB page touched.

`tune_malloc` sets the mmap threshold to glibc's own ceiling on 64-bit
(32 MiB: larger blocks come from the heap) and the trim threshold to 1 GiB: a
step's freed temporaries stay mapped for the next step up to that much. 64 MiB
(twice the mmap threshold, where glibc's own adjustment stops) was too little
for a small GPT's step, whose heap top was returned and faulted back every
step (15,000 minor faults a step; with 1 GiB, 3). Memory still stays flat over
a training loop; the peak is simply not returned between steps (PyTorch's CUDA
caching allocator keeps its, too).

Importing the library changes nothing: the thresholds belong to the whole
process, so tuning them is the program's decision. Call
`ag.allocator.tune_malloc()` once, at the start of a program that trains on the
CPU in a loop (a training script, a benchmark), when a profiler shows time in
page faults or `resource.getrusage(...).ru_minflt` grows every step. Leave it
out in a library or a long-running service that shares the process, where
memory given back to the OS matters more than a step's last fraction of speed.
"""

from __future__ import annotations

import ctypes
import functools
import platform

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
TRIM_THRESHOLD = 1 << 30  # a step's freed heap kept for the next one (see above)


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True if they were set,
    False (doing nothing) off glibc."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


@functools.cache  # a CDLL is a reference cycle of ctypes objects: load it once
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None
