"""The Python examples of README.md and docs/*.md run as written.

Within one file the blocks run in order, each with what the blocks before it
defined; files do not share names.
"""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = {path: re.findall(r"```python\n(.*?)```", path.read_text(), re.S) for path in FILES}
CASES = [(path, i) for path, blocks in BLOCKS.items() for i in range(len(blocks))]


def test_readme_has_examples():
    assert len(BLOCKS[ROOT / "README.md"]) >= 3


@pytest.mark.parametrize("path, i", CASES,
                         ids=[f"{p.relative_to(ROOT)}:{i}" for p, i in CASES])
def test_example_runs(path, i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a block writes stays out of the checkout
    scope: dict = {}
    blocks = BLOCKS[path]
    for j in range(i):  # the blocks before it, for the names they define
        exec(compile(blocks[j], f"{path.name} block {j}", "exec"), scope)
    exec(compile(blocks[i], f"{path.name} block {i}", "exec"), scope)
