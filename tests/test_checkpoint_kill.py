"""nn.save killed mid-write: the target stays the old or the new complete checkpoint,
and the next save removes the killed saves' temporary files (and only those)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nn

ROOT = Path(__file__).resolve().parents[1]

# Saves step 1, 2, 3, ... to argv[1]; each a few MB, so a kill often lands mid-write.
SAVER = """
import sys
import numpy as np
import nn
path, i = sys.argv[1], 0
while True:
    i += 1
    nn.save({"step": i, "w": np.full((512, 1024), i, np.float32),
             "optim": {"state": {0: {"exp_avg": np.full(1000, -i)}}}}, path)
    print(i, flush=True)
"""


def temporaries(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def check_complete(path):
    got = nn.load(path)
    i = got["step"]
    assert got["w"].shape == (512, 1024) and np.all(got["w"] == i)
    assert np.all(got["optim"]["state"][0]["exp_avg"] == -i)
    return i


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_saves_killed_at_random_moments(tmp_path):
    path = tmp_path / "model.npz"
    rng = np.random.default_rng(0)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    steps = []
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip()  # one complete save, then a random moment
            time.sleep(float(rng.uniform(0, 0.15)))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        steps.append(check_complete(path))
    assert all(s >= 1 for s in steps)
    # Most runs leave one or more temporary files (a kill mid-write); the killed
    # savers are gone, so the next save removes them.
    nn.save({"step": 0}, path)
    assert temporaries(tmp_path) == []
    assert nn.load(path) == {"step": 0}


def test_the_next_save_removes_only_stale_temporaries_of_its_target(tmp_path):
    path = tmp_path / "model.npz"
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(done.stdout)  # a process that has exited
    alive = os.getppid()
    names = {
        f".model.npz.{dead}.0123456789ab.tmp": False,         # killed saver: removed
        f".model.npz.{os.getpid()}.0123456789ab.tmp": False,  # ours, not in flight: removed
        f".model.npz.{alive}.0123456789ab.tmp": True,         # a save running now: kept
        f".other.npz.{dead}.0123456789ab.tmp": True,          # another target's: kept
        f".model.npz.{dead}.0123456789ab.tmp.bak": True,      # not our pattern: kept
        f"model.npz.{dead}.0123456789ab.tmp": True,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"partial")
    nn.save({"w": np.ones(2)}, path)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["model.npz", *(name for name, kept in names.items() if kept)])
