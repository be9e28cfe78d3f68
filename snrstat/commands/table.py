"""``snrstat table``: the paper's table (Heineman et al. 2025): per task, the SNR at every
scale and the decision accuracy of each smaller scale against the target scale."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from snrstat.commands._common import add_data_argument, load_frame
from snrstat.point._frame import size_rank
from snrstat.schema import DataError


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "table",
        help="signal, noise, SNR per task and scale, and decision accuracy between scales",
        description=(
            "Point estimates of the signal-and-noise paper for every task, metric and size. SNR: each "
            "run scored by the mean of its last N checkpoints, noise per --mode. Decision accuracy: each "
            "run's final checkpoint, seeds averaged per model, against the largest scale sharing >= 2 "
            "models. With --json, infinite SNRs are written as null with \"snr_infinite\": true, and "
            "undefined values (one model, one checkpoint) as null with \"snr_infinite\": false."
        ),
    )
    add_data_argument(parser)
    parser.add_argument("--metric", default=None, metavar="M", help="only this metric (default: all)")
    parser.add_argument("--last-n", type=int, default=5, metavar="N",
                        help="checkpoints averaged per run for the SNR (default 5)")
    parser.add_argument("--mode", choices=("per_run", "reference"), default="per_run",
                        help="noise: pooled within-run spread (default) or the paper's quick-start "
                             "(all scores flattened; SNR capped at sqrt(2k))")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def compute(frame: pd.DataFrame, *, metric=None, last_n: int = 5, mode: str = "per_run") -> dict:
    """The numbers behind the table: ``snr`` (one row per task, metric, size), ``decision``
    (every pair of scales), ``targets`` (the target size per task and metric)."""
    from snrstat.table import decision_table, snr_table

    snr = snr_table(frame, last_n=last_n, mode=mode, metric=metric)
    decision = decision_table(frame, last_n=1, metric=metric)
    # the target of a task: the largest size that shares >= 2 models with a smaller one
    targets = decision.groupby(["task", "metric"], sort=False)["target"].last()
    return {"snr": snr, "decision": decision, "targets": targets, "scaling": scaling_error_rows(frame)}


def scaling_error_rows(frame: pd.DataFrame):
    """The paper's two-step scaling-law error per task and target run (science.md section 2):
    columns task, metric (the accuracy metric), target, predicted, actual, rel_error.

    ``None`` when the data hold no ladder (no bpb, or no target runs of the OLMo ladder):
    the table then simply has no scaling columns.
    """
    from snrstat.scaling import ladder_point_table

    if "bpb" not in set(frame["metric"].dropna()):
        return None
    try:
        rows = ladder_point_table(frame)
    except DataError:
        return None
    rows = rows.rename(columns={"acc_metric": "metric"})
    return rows[["task", "metric", "target", "predicted", "actual", "rel_error"]]


def run(args) -> int:
    frame = load_frame(args.data)
    result = compute(frame, metric=args.metric, last_n=args.last_n, mode=args.mode)
    if args.json:
        print(json.dumps(to_json(result, args), indent=2))
    else:
        render(result, args)
    return 0


def _num(value):
    """JSON-safe float: NaN and inf become None (flags say which)."""
    value = float(value)
    return value if math.isfinite(value) else None


def to_json(result: dict, args) -> dict:
    snr_rows = [
        {
            "task": r.task, "metric": r.metric, "size": None if pd.isna(r.size) else r.size,
            "n_models": int(r.n_models), "n_runs": int(r.n_runs),
            "signal": _num(r.signal), "noise": _num(r.noise), "snr": _num(r.snr),
            "snr_infinite": bool(np.isinf(r.snr)),
        }
        for r in result["snr"].itertuples(index=False)
    ]
    decision_rows = [
        {"task": r.task, "metric": r.metric, "small": r.small, "target": r.target,
         "n_models": int(r.n_models), "decision_accuracy": _num(r.decision_accuracy)}
        for r in result["decision"].itertuples(index=False)
    ]
    out = {
        "data": args.data, "metric": args.metric, "last_n": args.last_n, "mode": args.mode,
        "encoding": "non-finite numbers are null; snr_infinite=true marks SNR = +inf (noise 0)",
        "snr": snr_rows, "decision": decision_rows,
    }
    if result["scaling"] is not None:  # HOOK(lead): scaling-law error rows
        out["scaling"] = [
            {k: (_num(v) if isinstance(v, float) else v) for k, v in row.items()}
            for row in result["scaling"].to_dict("records")
        ]
    return out


def _fmt_snr(v: float) -> str:
    if np.isinf(v):
        return "inf"
    return "–" if np.isnan(v) else f"{v:.1f}"


def render(result: dict, args) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    snr, decision, targets = result["snr"], result["decision"], result["targets"]
    snr = snr.assign(size=snr["size"].fillna("-"))
    by_size = snr.groupby("size", sort=False)["params"].median()
    sizes = list(by_size.index[np.argsort(size_rank(by_size.index, by_size.to_numpy()))])
    # decision accuracy against each task's target: the rows whose target is that target
    last = decision[decision["target"].to_numpy() == decision.groupby(
        ["task", "metric"])["target"].transform("last").to_numpy()]
    smalls = [s for s in sizes if s in set(last["small"])]

    table = Table(title=f"Signal and noise ({args.data}; last {args.last_n} checkpoints, noise: {args.mode})",
                  box=box.SIMPLE_HEAD)
    table.add_column("task", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    for s in sizes:
        table.add_column(f"SNR\n{s}", justify="right")
    for s in smalls:
        table.add_column(f"DA\n{s}", justify="right")
    table.add_column("target", justify="right")
    scaling = result["scaling"]
    scaling_targets = [] if scaling is None else list(dict.fromkeys(scaling["target"]))
    for target in scaling_targets:
        table.add_column(f"law err\n{target}", justify="right")
    law_err = {} if scaling is None else {
        (r.task, r.metric, r.target): r.rel_error for r in scaling.itertuples(index=False)}

    snr_wide = snr.pivot(index=["task", "metric"], columns="size", values="snr")
    da_wide = last.pivot(index=["task", "metric"], columns="small", values="decision_accuracy")
    for (task, metric) in snr_wide.index:
        cells = [task, metric]
        cells += [_fmt_snr(snr_wide.at[(task, metric), s]) if s in snr_wide.columns else "–" for s in sizes]
        for s in smalls:
            v = da_wide.at[(task, metric), s] if (task, metric) in da_wide.index and s in da_wide.columns else np.nan
            cells.append("–" if pd.isna(v) else f"{100 * v:.0f}%")
        cells.append(str(targets.get((task, metric), "–")))
        for target in scaling_targets:
            err = law_err.get((task, metric, target), np.nan)
            cells.append("–" if pd.isna(err) else f"{100 * err:.1f}%")
        table.add_row(*cells)
    console = Console()
    if not console.is_terminal:  # redirected output: print the whole table, not an 80-column squeeze
        console = Console(width=max(120, 14 * (len(sizes) + len(smalls)) + 40))
    console.print(table)
    shared = f" (here {int(last['n_models'].min())}-{int(last['n_models'].max())} models)" if len(last) else ""
    console.print(
        "SNR = signal / noise (Heineman et al. 2025); '–' = undefined (one model, or no run with two "
        "checkpoints). DA = decision accuracy against the target size: final checkpoints, seeds averaged, "
        f"over the models present at both sizes{shared}; --json gives n_models per pair."
        + ("" if scaling is None else " law err = |predicted - actual| / actual of the paper's two-step "
           "scaling law (bpb -> accuracy) fitted on the ladder runs 190M-3B, at the target run's "
           "final checkpoint.")
    )
