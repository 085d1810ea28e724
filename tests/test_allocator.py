"""glibc's malloc thresholds: training steps reuse memory instead of faulting it in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from autograd_core import allocator

# The small CNN of benchmarks/cnn.py at batch 256, in a fresh process: with glibc's
# default thresholds this step faulted 481 pages in per step (2.36 here).
STEPS = """
import resource
import numpy as np
import autograd_core as ag, nn, optim
from nn import functional as F
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
print(ag.allocator.TUNED, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 100)
"""


def _run(tuning: str) -> tuple[bool, float]:
    env = dict(os.environ, AUTOGRAD_CORE_MALLOC_TUNING=tuning)
    out = subprocess.run([sys.executable, "-c", STEPS], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == "True", float(out[1])


@pytest.mark.skipif(not allocator.TUNED, reason="mallopt thresholds are glibc's")
def test_training_steps_do_not_fault_memory_in():
    tuned, faults = _run("1")
    assert tuned
    assert faults < 2, f"{faults} page faults per step"


def test_the_environment_turns_it_off():
    tuned, _ = _run("0")
    assert not tuned
