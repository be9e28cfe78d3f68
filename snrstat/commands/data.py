"""``snrstat data``: what the bundled data sets (or your own results) hold: counts, then every
task with its metrics, sizes, models and runs, so the names can be copied into other commands."""

from __future__ import annotations

from snrstat.commands._common import add_data_argument, console, esc, load_frame, name_column, print_json


def add_parser(sub) -> None:
    parser = sub.add_parser("data", help="what a data set holds: tasks, metrics, sizes, models, runs")
    add_data_argument(parser, default=None, help_extra=" (default: every bundled set)")
    parser.add_argument("--wide", action="store_true", help="one line per row, however wide the terminal")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def contents(frame) -> dict:
    """Per task: metrics, sizes (small to large), subtasks, models and runs; and the runs per size."""
    from snrstat.schema import run_ids, size_order

    params = frame.groupby("size")["params"].median().to_dict() if frame["size"].notna().any() else {}
    runs = run_ids(frame)
    tasks = {}
    for task, rows in frame.groupby("task", sort=True):
        sizes = size_order(rows["size"].dropna().unique(), params)
        tasks[str(task)] = {
            "metrics": sorted(map(str, rows["metric"].dropna().unique())),
            "sizes": [str(s) for s in sizes],
            "subtasks": int(rows["subtask"].nunique()),
            "models": int(rows["model"].nunique()),
            "runs": int(runs[rows.index].nunique()),
        }
    sizes = size_order(frame["size"].dropna().unique(), params)
    by_size = {str(s): {"models": sorted(map(str, frame.loc[frame["size"] == s, "model"].unique())),
                        "runs": int(runs[frame["size"] == s].nunique())} for s in sizes}
    if frame["size"].isna().any():
        rows = frame["size"].isna()
        by_size["(no size)"] = {"models": sorted(map(str, frame.loc[rows, "model"].unique())),
                                "runs": int(runs[rows].nunique())}
    return {"tasks": tasks, "sizes": by_size}


def run(args) -> int:
    from rich.table import Table

    from snrstat.datasets import DATASETS, summarize

    names = [args.data] if args.data else list(DATASETS)
    frames = {name: load_frame(name) for name in names}
    summaries = {name: summarize(frame) for name, frame in frames.items()}
    judged = [name for name in names if "judge" in frames[name].columns]
    details = {name: contents(frame) for name, frame in frames.items() if name not in judged}
    if args.json:
        print_json({name: {**summaries[name], **details.get(name, {})} for name in names})
        return 0
    out = console(args)
    for group, title in (([n for n in names if n not in judged], "snrstat data: evaluation records"),
                         (judged, "snrstat data: judgments (snrstat judge)")):
        if not group:
            continue
        table = Table(title=title)
        table.add_column("")
        for name in group:
            table.add_column(esc(name), justify="right")
        for key in summaries[group[0]]:
            cells = (summaries[name][key] for name in group)
            table.add_row(key, *(f"{c:,}" if isinstance(c, int) else f"{c:g}" for c in cells))
        out.print(table)
    for name in judged:
        info = DATASETS.get(name)
        if info:
            out.print(f"[bold]{esc(name)}[/]: {esc(info.description)}\n  source: {esc(info.source)}; "
                      f"{esc(info.licence)}")
    for name in details:
        info = DATASETS.get(name)
        if info:
            out.print(f"[bold]{esc(name)}[/]: {esc(info.description)}\n  varies: {esc(info.varies)}\n"
                      f"  source: {esc(info.source)}; {esc(info.licence)}")
        tasks = Table(title=f"{esc(name)}: tasks (use with --task, --metric, --size)")
        name_column(tasks, "task", details[name]["tasks"])
        tasks.add_column("metrics")
        tasks.add_column("sizes")
        for col in ("subtasks", "models", "runs"):
            tasks.add_column(col, justify="right")
        for task, row in details[name]["tasks"].items():
            tasks.add_row(esc(task), esc(", ".join(row["metrics"])), esc(", ".join(row["sizes"])),
                          str(row["subtasks"] or ""), str(row["models"]), str(row["runs"]))
        out.print(tasks)
        sizes = Table(title=f"{esc(name)}: models and runs per size")
        name_column(sizes, "size")
        sizes.add_column("runs", justify="right")
        sizes.add_column("models")
        for size, row in details[name]["sizes"].items():
            shown = ", ".join(row["models"][:12]) + (f" ... ({len(row['models'])} models)" if len(row["models"]) > 12 else "")
            sizes.add_row(esc(size), str(row["runs"]), esc(shown))
        out.print(sizes)
    return 0
