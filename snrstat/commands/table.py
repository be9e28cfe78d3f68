"""``snrstat table``: the paper's table (Heineman et al. 2025): per task, the SNR at every
scale and the decision accuracy of each smaller scale against the target scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from snrstat.commands._common import (
    add_data_argument,
    add_last_n_argument,
    console,
    esc,
    load_frame,
    print_blocks,
    print_json,
)
from snrstat.point._core import CONSTANT_REASON
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
            "undefined values (one model, one checkpoint, constant scores) as null with \"snr_infinite\": false "
            "and the reason in \"snr_undefined\". Task and metric names are never cut: other columns wrap, "
            "or use --wide."
        ),
    )
    add_data_argument(parser)
    parser.add_argument("--metric", default=None, metavar="M", help="only this metric (default: all)")
    add_last_n_argument(parser, what="checkpoints averaged per run for the SNR")
    parser.add_argument("--mode", choices=("per_run", "reference"), default="per_run",
                        help="noise: pooled within-run spread (default) or the paper's quick-start "
                             "(all scores flattened; SNR capped at sqrt(2k))")
    parser.add_argument("--wide", action="store_true", help="one line per row, however wide the terminal")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=run)


def compute(frame: pd.DataFrame, *, metric=None, last_n: int = 5, mode: str = "per_run") -> dict:
    """The numbers behind the table: ``snr`` (one row per task, metric, size), ``decision``
    (every pair of scales), ``targets`` (the target size per task and metric)."""
    from snrstat.point.table import decision_table, snr_table

    snr = snr_table(frame, last_n=last_n, mode=mode, metric=metric)
    decision = decision_table(frame, last_n=1, metric=metric)
    # the target of a task: the largest size that shares >= 2 models with a smaller one
    targets = decision.groupby(["task", "metric"], sort=False)["target"].last()
    return {"snr": snr, "decision": decision, "targets": targets, "scaling": scaling_error_rows(frame)}


def scaling_error_rows(frame: pd.DataFrame):
    """The paper's two-step scaling-law error per task and target run (Heineman et al. 2025):
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
        print_json(to_json(result, args))
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
            **({"snr_undefined": _why_undefined(r)} if np.isnan(r.snr) else {}),
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


def _why_undefined(r) -> str:
    """Why an SNR is NaN: constant scores, one model, or no run with two checkpoints."""
    if r.signal == 0 and r.noise == 0:
        return CONSTANT_REASON
    if r.n_models < 2:
        return "undefined: fewer than two models"
    if np.isnan(r.noise):
        return "undefined: no run has two checkpoints in its window, or the mean score is 0"
    return "undefined: the mean score is 0"


def _fmt_snr(v: float, constant: bool = False) -> str:
    if np.isinf(v):
        return "inf"
    if constant:
        return "undef"
    return "–" if np.isnan(v) else f"{v:.1f}"


def render(result: dict, args) -> None:
    snr, decision, targets = result["snr"], result["decision"], result["targets"]
    snr = snr.assign(size=snr["size"].fillna("-"))
    by_size = snr.groupby("size", sort=False)["params"].median()
    sizes = list(by_size.index[np.argsort(size_rank(by_size.index, by_size.to_numpy()))])
    # decision accuracy against each task's target: the rows whose target is that target
    last = decision[decision["target"].to_numpy() == decision.groupby(
        ["task", "metric"])["target"].transform("last").to_numpy()]
    smalls = [s for s in sizes if s in set(last["small"])]

    scaling = result["scaling"]
    scaling_targets = [] if scaling is None else list(dict.fromkeys(scaling["target"]))
    law_err = {} if scaling is None else {
        (r.task, r.metric, r.target): r.rel_error for r in scaling.itertuples(index=False)}
    snr_wide = snr.pivot(index=["task", "metric"], columns="size", values="snr")
    constant = snr.assign(c=(snr["signal"] == 0) & (snr["noise"] == 0)).pivot(
        index=["task", "metric"], columns="size", values="c")
    da_wide = last.pivot(index=["task", "metric"], columns="small", values="decision_accuracy")
    keys = list(snr_wide.index)
    columns = []
    for s in sizes:
        columns.append((f"SNR\n{esc(s)}", [
            _fmt_snr(snr_wide.at[k, s], bool(constant.at[k, s] == True)) if s in snr_wide.columns else "–"  # noqa: E712
            for k in keys]))
    for s in smalls:
        cells = []
        for k in keys:
            v = da_wide.at[k, s] if k in da_wide.index and s in da_wide.columns else np.nan
            cells.append("–" if pd.isna(v) else f"{100 * v:.0f}%")
        columns.append((f"DA\n{esc(s)}", cells))
    columns.append(("target", [esc(targets.get(k, "–")) for k in keys]))
    for target in scaling_targets:
        columns.append((f"law err\n{esc(target)}", [
            "–" if pd.isna(e := law_err.get((*k, target), np.nan)) else f"{100 * e:.1f}%" for k in keys]))
    out = console(args)
    print_blocks(out, f"Signal and noise ({esc(args.data)}; last {args.last_n} checkpoints, noise: {args.mode})",
                 [("task", [k[0] for k in keys]), ("metric", [k[1] for k in keys])], columns,
                 wide=bool(getattr(args, "wide", False)))
    shared = f" (here {int(last['n_models'].min())}-{int(last['n_models'].max())} models)" if len(last) else ""
    out.print(
        "SNR = signal / noise (Heineman et al. 2025); '–' = undefined (one model, or no run with two "
        "checkpoints); 'undef' = constant scores (signal and noise both 0). DA = decision accuracy against the target size: final checkpoints, seeds averaged, "
        f"over the models present at both sizes{shared}; --json gives n_models per pair."
        + ("" if scaling is None else " law err = |predicted - actual| / actual of the paper's two-step "
           "scaling law (bpb -> accuracy) fitted on the ladder runs 190M-3B, at the target run's "
           "final checkpoint.")
    )
