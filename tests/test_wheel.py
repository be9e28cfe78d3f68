"""The wheel carries the package, its bundled data and the saved reference fits: built, installed
apart from the checkout, and the main job run from there."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp.glob("snrstat-*.whl"))
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    return wheel, target


def _env(target: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SNRSTAT_MODELS"}
    env["PYTHONPATH"] = str(target)
    return env


def test_wheel_holds_data_and_reference_fits(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "snrstat/data/olmo_ladder.parquet" in names
    fits = [n for n in names if n.startswith("snrstat/reference_models/") and n.endswith(".nc")]
    assert len(fits) == len(list((ROOT / "models").glob("**/*.nc"))) > 0


@pytest.mark.slow
def test_installed_wheel_finds_fits_and_runs_the_report(installed, tmp_path):
    _, target = installed
    code = ("import snrstat, snrstat.reference as r; print(snrstat.__file__); print(r.models_dir()); "
            "print(type(snrstat.load_fit('olmo-ladder/hellaswag_val/len_norm/3B')).__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(target), capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0].startswith(str(target)) and out[1].startswith(str(target)) and out[2] == "VarianceFit"
    run = subprocess.run([sys.executable, "-m", "snrstat.cli", "report", "--data", "olmo-ladder", "--fast",
                          "--max-tasks", "2", "--out", str(tmp_path / "report")], cwd=tmp_path, env=_env(target),
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "report" / "report.html").exists()
