"""``snrstat report``: one page that says which benchmarks to trust and how sure to be.

The report is assembled from sections, each a function of a :class:`Context` (the data and
the options). Sections only read results (point tables, fits); they never change them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd
from rich.console import Console

from snrstat.datasets import summarize
from snrstat.report.document import Document, Section


@dataclass
class Settings:
    """What the report fits and how hard. ``fast`` trades draws and tasks for time."""

    fast: bool = False
    metric: str | None = None
    last_n: int = 5
    random_seed: int = 0
    max_tasks: int | None = None
    quiet: bool = False
    #: folder where fits of data without saved reference fits are saved and reused (data hash checked)
    store: Path | None = None

    @property
    def draws(self) -> int:
        return 500 if self.fast else 1000

    @property
    def tune(self) -> int:
        return 500 if self.fast else 1000

    @property
    def chains(self) -> int:
        return 2 if self.fast else 4


@dataclass
class Context:
    name: str
    frame: pd.DataFrame
    settings: Settings
    console: Console = field(default_factory=lambda: Console(stderr=True))
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: Bayesian fits behind the page: (section, fits sampled now, fits reused from disk, seconds)
    fitted: list[tuple[str, int, int, float]] = field(default_factory=list)

    def record_fits(self, section: str, sampled: int, reused: int, seconds: float) -> None:
        """Say what a section fitted (or reused), so the page never claims diagnostics it did not run."""
        self.fitted.append((section, int(sampled), int(reused), float(seconds)))

    def step(self, label: str):
        return _Timer(self, label)


class _Timer:
    def __init__(self, ctx: Context, label: str):
        self.ctx, self.label = ctx, label

    def __enter__(self):
        self.start = time.perf_counter()
        self.ctx.console.print(f"[bold cyan]report[/]: {self.label} ...")
        return self

    def __exit__(self, *exc):
        self.ctx.timings[self.label] = time.perf_counter() - self.start
        return False


def build_report(name: str, frame: pd.DataFrame, settings: Settings, sections) -> Document:
    """Run every section builder; failing sampler diagnostics are flagged at the top."""
    ctx = Context(name=name, frame=frame, settings=settings, console=Console(stderr=True, quiet=settings.quiet))
    doc = Document(title=f"snrstat report: {name}")
    body, lead = [], []
    for builder in sections:
        with ctx.step(builder.__doc__.splitlines()[0] if builder.__doc__ else builder.__name__):
            section = builder(ctx)
        if section is not None:
            (lead if getattr(builder, "lead", False) else body).append(section)
    counts = summarize(frame)
    held = (f"{counts['records']:,} judgments, {counts['judges']} judges, {counts['strategies']} strategies, "
            f"{counts['items']:,} items" if "judges" in counts else
            f"{counts['records']:,} evaluation records, {counts['runs']} runs, {counts['models']} models, "
            f"{counts['sizes']} sizes, {counts['tasks']} tasks")
    intro = (
        f"Data: {name}: {held}. "
        f"Settings: {'fast' if settings.fast else 'full'} "
        f"(last {settings.last_n} checkpoints, seed {settings.random_seed})."
    )
    doc.intro = intro
    n_fits = sum(sampled + reused for _, sampled, reused, _ in ctx.fitted)
    fitted = "; ".join(f"{section}: {sampled} fitted now, {reused} reused from saved fits, {seconds:.0f} s"
                       for section, sampled, reused, seconds in ctx.fitted)
    if ctx.failures:
        doc.add(Section("Fits that need attention", alert="\n\n".join(ctx.failures)
                        + (f"\n\nFits in this report: {fitted}." if fitted else "")))
    elif n_fits:
        doc.add(Section("Sampler health", ok=f"All {n_fits} Bayesian fits passed their diagnostics "
                        "(R-hat <= 1.01, bulk and tail ESS >= 400, no divergences, BFMI > 0.3). "
                        f"Fits in this report: {fitted}."))
    else:
        doc.add(Section("Sampler health", text="No Bayesian fit was run or loaded for this report, so there "
                        "are no sampler diagnostics to report; the sections below are point estimates only."))
    for section in lead + body:
        doc.add(section)
    timing = pd.DataFrame({"seconds": ctx.timings}).rename_axis("step")
    doc.add(Section("Run time", tables=[("", timing)]))
    return doc
