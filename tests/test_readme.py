"""The README's Python examples run as written, and leave the repository as they found it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def _status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                          text=True).stdout


def test_readme_has_examples():
    assert len(_blocks()) >= 3


@pytest.mark.heavy
@pytest.mark.parametrize("index", range(len(_blocks())))
def test_readme_example_runs_and_leaves_git_status_clean(index, tmp_path):
    before = _status()
    code = "import matplotlib\nmatplotlib.use('Agg')\n" + _blocks()[index]
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _status() == before
