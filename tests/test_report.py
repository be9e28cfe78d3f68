"""The report renders, holds every task and figure, surfaces failing fits, and opens in Chromium."""

import re
import shutil
import subprocess

import pytest

import snrstat
from snrstat.cli import main
from snrstat.reference import REFERENCE_SETS
from snrstat.report import SECTIONS, Settings, build_report


@pytest.fixture(scope="module")
def pythia_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    frame = snrstat.load_dataset("pythia")
    doc = build_report("pythia", frame, Settings(fast=True, max_tasks=2), SECTIONS)
    html, md = doc.write(out)
    return doc, html, md, frame


def test_every_task_and_figure_present(pythia_report):
    doc, html, md, frame = pythia_report
    page = html.read_text()
    tasks = sorted(REFERENCE_SETS["pythia"].metrics(frame))
    for task in tasks:  # the point-estimate table covers every task
        assert f">{task}<" in page
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    n_figures = sum(len(s.figures) for s in doc.sections)
    assert len(images) == n_figures >= 6
    assert all(len(img) > 2000 for img in images)  # none is an empty canvas
    assert "Variance decomposition" in page and "Sampler diagnostics" in page
    text = md.read_text()
    assert text.count("![") == n_figures and "## The paper's point estimates" in text


def test_failing_diagnostics_surface_at_the_top(pythia_report):
    doc, html, md, frame = pythia_report
    titles = [s.title for s in doc.sections]
    fits_failed = any(s.title == "Fits that need attention" for s in doc.sections)
    diag = next(s for s in doc.sections if s.title == "Sampler diagnostics")
    table = diag.tables[0][1]
    assert fits_failed == (table["ok"] == "FAILED").any()
    assert titles[0] in ("Fits that need attention", "Sampler health")


def test_html_opens_in_headless_chromium_without_console_errors(pythia_report, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    _, html, _, _ = pythia_report
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert proc.stdout.count("<img") == html.read_text().count("<img")


def test_cli_report_writes_both_files(tmp_path, capsys):
    assert main(["report", "--data", "pythia", "--out", str(tmp_path), "--fast", "--max-tasks", "1"]) == 0
    assert (tmp_path / "report.html").stat().st_size > 50_000 and (tmp_path / "report.md").exists()
