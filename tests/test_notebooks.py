"""The example notebooks: committed in sync with notebooks/build.py, small, and executable.

Executing all three takes about 1.5-2 minutes on two cores (a dozen seeded PyMC/nutpie fits),
so the execution test is marked slow.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_quickstart", "02_pythia_noise_and_mmlu", "03_scaling_uncertainty", "04_mmlu_pro_items",
         "05_llm_judge_noise"]
MAX_BYTES = 300_000
CELL_TIMEOUT = 300


def _build_module():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(name):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is needed to read notebooks (pip install -e .[dev])")
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _errors(nb) -> list[str]:
    return [f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", []))


def test_build_lists_the_committed_notebooks():
    assert sorted(_build_module().NOTEBOOKS) == NAMES
    for name in NAMES:
        assert (NOTEBOOKS / f"{name}.ipynb").exists(), f"{name}.ipynb missing: run python notebooks/build.py {name}"


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_matches_build_and_is_executed(name):
    nb = _read(name)
    cells = _build_module().NOTEBOOKS[name]
    assert [(c.cell_type == "markdown" and "md" or "code", c.source) for c in nb.cells] == list(cells), (
        f"{name}.ipynb is out of date with notebooks/build.py: run python notebooks/build.py {name}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{name}.ipynb has cells that were never run"
    assert _errors(nb) == []
    assert _images(nb) >= 1
    text = json.dumps(nb)
    assert "TODO" not in text
    assert (NOTEBOOKS / f"{name}.ipynb").stat().st_size < MAX_BYTES


# CI re-executes the quick start (about 2 minutes); the other two (another 4) run with `-m heavy`
EXECUTED_IN_CI = ("01_quickstart",)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow if n in EXECUTED_IN_CI else pytest.mark.heavy) for n in NAMES])
def test_notebook_executes(name):
    pytest.importorskip("nbclient", reason="nbclient is needed to execute notebooks (pip install -e .[dev])")
    pytest.importorskip("ipykernel", reason="ipykernel is needed to execute notebooks (pip install -e .[dev])")
    from jupyter_client.kernelspec import NoSuchKernel, get_kernel_spec
    from nbclient import NotebookClient

    try:
        get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no 'python3' Jupyter kernel installed (python -m ipykernel install --user)")
    committed = _read(name)
    nb = _read(name)  # a fresh copy: the committed file is never written
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    assert _errors(nb) == []
    assert _images(nb) >= 1
    # every cell that shows something in the committed notebook still does
    for i, (old, new) in enumerate(zip(committed.cells, nb.cells)):
        if old.cell_type == "code" and old.outputs:
            assert new.outputs, f"{name}: cell {i} produced no output ({old.source.splitlines()[0]!r})"
