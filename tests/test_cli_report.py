"""`snrstat report` on a user's own data: it fits what it needs, says what it fitted and how long
it took, reuses its saved fits on a rerun, and never claims diagnostics for fits that did not run."""

import pandas as pd
import pytest

import snrstat
from snrstat.cli import main


def test_report_without_any_fit_claims_no_diagnostics(tmp_path, capsys):
    # one model per size: nothing to decompose, so no Bayesian fit runs
    frame = pd.DataFrame([{"task": "qa", "metric": "acc", "model": "only", "size": s, "step": step,
                           "value": 0.4 + 0.01 * step} for s in ("1B", "7B") for step in range(1, 7)])
    path = tmp_path / "one.csv"
    frame.to_csv(path, index=False)
    assert main(["report", "--data", str(path), "--out", str(tmp_path / "out"), "--fast", "--quiet"]) == 0
    md = (tmp_path / "out" / "report.md").read_text()
    assert "No Bayesian fit was run or loaded" in md
    assert "passed their diagnostics" not in md and "passed its diagnostics" not in md


@pytest.mark.slow
def test_report_on_a_cut_of_the_ladder_fits_and_then_reuses(tmp_path, capsys):
    ladder = snrstat.load_dataset("olmo-ladder")
    cut = ladder[ladder["task"].isin(["hellaswag_val", "arc_easy_val"]) & ladder["size"].isin(["190M", "1B"])
                 & ladder["model"].isin(["0.5xC", "1xC", "2xC", "5xC", "10xC"])]
    path = tmp_path / "mydata.csv"
    cut.to_csv(path, index=False)
    out = tmp_path / "out"
    argv = ["report", "--data", str(path), "--out", str(out), "--fast", "--max-tasks", "1", "--quiet"]
    assert main(argv) == 0
    md = (out / "report.md").read_text()
    for title in ("## Which benchmarks to trust", "## Variance decomposition and posterior SNR",
                  "## Decision accuracy with credible intervals", "## Sampler diagnostics", "## Run time"):
        assert title in md, title
    assert "variance decomposition: 2 fitted now, 0 reused" in md
    assert sorted(p.name for p in (out / "fits").glob("*.nc")) == [
        "arc_easy_val--len_norm--190M.nc", "arc_easy_val--len_norm--1B.nc"]
    assert main(argv) == 0
    assert "variance decomposition: 0 fitted now, 2 reused" in (out / "report.md").read_text()


def test_html_report_shows_every_figure_in_headless_chromium(tmp_path):
    import shutil
    import subprocess

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snrstat.report.document import Document, Figure, Section

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium package)")
    figures = []
    for i in range(3):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [i, i + 1])
        figures.append(Figure(fig, f"figure {i} <&>", f"f{i}"))
    doc = Document("report <test>")
    doc.add(Section("s", text="**bold** <script>alert(1)</script>",
                    tables=[("", pd.DataFrame({"task": ["[red]x"], "v": [1.0]}))], figures=figures))
    html, _ = doc.write(tmp_path)
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert proc.stdout.count('data-shown="yes"') == 3  # every figure decoded and shown
    assert "alert(1)</script>" not in proc.stdout.split("<script>window")[0]  # user text is escaped
