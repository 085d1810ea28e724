"""glibc's malloc thresholds: a program that calls ag.allocator.tune_malloc() trains
without faulting memory in every step; importing the library leaves them alone."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# The small CNN of benchmarks/cnn.py at batch 256, in a fresh process: with glibc's
# default thresholds this step faulted hundreds of pages in per step.
STEPS = """
import resource, sys
import numpy as np
import autograd_core as ag, nn, optim
from nn import functional as F
tuned = ag.allocator.tune_malloc() if sys.argv[1] == "tune" else None
ag.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(128, 10))
opt = optim.SGD(model.parameters(), lr=0.01)
rng = np.random.default_rng(0)
x = ag.as_tensor(rng.standard_normal((256, 1, 8, 8)).astype(np.float32))
y = ag.as_tensor(rng.integers(0, 10, 256))
def step():
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
for _ in range(20):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(100):
    step()
print(tuned, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 100)
"""

# Every mallopt call the process makes through ctypes, while the library is imported.
IMPORT = """
import ctypes
calls = []
class Spy(ctypes.CDLL):
    def __getattr__(self, name):
        if name == "mallopt":
            calls.append(name)
        return super().__getattr__(name)
ctypes.CDLL = Spy
import autograd_core, nn, optim
print(len(calls))
"""


def _run(code: str, *args: str) -> list[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, check=True).stdout.split()


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are glibc's")
def test_training_steps_do_not_fault_memory_in_once_tuned():
    tuned, faults = _run(STEPS, "tune")
    assert tuned == "True"
    assert float(faults) < 2, f"{faults} page faults per step"


def test_importing_the_library_leaves_malloc_alone():
    assert _run(IMPORT) == ["0"]
    assert _run(STEPS, "leave")[0] == "None"


@pytest.mark.skipif(GLIBC, reason="off glibc only")
def test_tune_malloc_does_nothing_off_glibc():
    from autograd_core import allocator

    assert allocator.tune_malloc() is False


def test_tune_malloc_twice_leaves_no_reference_cycle():
    """A program (or a benchmark) may call it per model: each call must not leave a
    ctypes library object for the cycle collector."""
    import gc

    from autograd_core import allocator

    allocator.tune_malloc()
    gc.collect()
    allocator.tune_malloc()
    assert gc.collect() == 0
