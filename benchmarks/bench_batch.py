"""Batches of variance fits serially and on a local Dask cluster (issue 16).

    nice -n 10 python benchmarks/bench_batch.py                  # writes benchmarks/results/batch.md
    python benchmarks/bench_batch.py --workers 4 --md -          # print only

1. A batch of 48 variance fits of the bundled Pythia suite (8 zero-shot tasks x 6 sizes, metric
   acc, last 5 checkpoints, 2 chains x 500 draws after 500 tuning steps, no misfit checks, as in
   ``fit_variance_many``) through :func:`snrstat.inference.fit_many`: in this process, then on a
   ``LocalCluster`` of ``--workers`` processes. Wall time of each, the cluster's start-up, the
   compilations paid (one per model shape per process), and whether every posterior array is
   identical to the bit.
2. Compile time against the number of distinct model shapes: 8 fits of one task whose
   windows (``last_n`` = 3, 4, ...) make 1, 2, 4 or 8 shapes, with cold compile caches, serially
   and on the cluster.

Timings depend on the machine and on what else runs on it; the markdown records the core count
and load average at the start.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "batch.md"
TASKS = ("arc_challenge", "arc_easy", "lambada_openai", "logiqa", "mmlu", "piqa", "sciq", "winogrande")
SIZES = ("70m", "160m", "410m", "1b", "1.4b", "2.8b")


def specs_48(sampling: dict):
    from snrstat.inference import FitSpec

    return [FitSpec(f"{t}--acc--{s}", "variance", data=t, args=(t, "acc"),
                    options={"size": s, "last_n": 5, "checks": False, **sampling})
            for s in SIZES for t in TASKS]


def specs_shapes(n_shapes: int, sampling: dict, n_fits: int = 8):
    from snrstat.inference import FitSpec

    return [FitSpec(f"piqa--acc--410m--w{i}", "variance", data="piqa", args=("piqa", "acc"),
                    options={"size": "410m", "last_n": 3 + i % n_shapes, "checks": False, **sampling})
            for i in range(n_fits)]


def cpu_seconds() -> float:
    """CPU time (user + system, every thread) of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_total(client) -> float:
    """CPU seconds of this process (with the in-process scheduler) and of every worker process."""
    return cpu_seconds() + (sum(client.run(cpu_seconds).values()) if client is not None else 0.0)


def run(specs, frame, client, seed):
    from snrstat.inference import fit_many

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c0 = cpu_total(client)
        t0 = time.perf_counter()
        out = fit_many(specs, frame, client=client, random_seed=seed, progress=False)
        wall = time.perf_counter() - t0
        cpu = cpu_total(client) - c0
    rep = out.report
    return out, {"wall_s": wall, "cpu_s": cpu, "fits": len(out), "failed": len(out.failures),
                 "compilations": int(rep["compiled"].sum()), "compile_s": float(rep["compile_s"].fillna(0).sum()),
                 "fit_s": float(rep["seconds"].sum()), "workers_used": rep["worker"].nunique()}


def clear_compile_cache() -> None:
    """Empty this process's compile cache (run on every worker with ``client.run``)."""
    from snrstat.inference import COMPILE_CACHE

    COMPILE_CACHE.clear()


def identical(a, b) -> bool:
    if list(a) != list(b) and sorted(a) != sorted(b):
        return False
    for name, fit in a.items():
        for group in ("posterior", "sample_stats"):
            x, y = getattr(fit.idata, group), getattr(b[name].idata, group)
            if sorted(x.data_vars) != sorted(y.data_vars):
                return False
            if not all(np.array_equal(x[v].values, y[v].values, equal_nan=True) for v in x.data_vars):
                return False
    return True


def table(df: pd.DataFrame) -> str:
    """A markdown table (index columns first), floats to two decimals."""
    flat = df.reset_index()
    cells = [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in row] for row in flat.itertuples(index=False)]
    lines = ["| " + " | ".join(map(str, flat.columns)) + " |", "|" + "---|" * len(flat.columns)]
    return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shapes", type=int, nargs="*", default=[1, 2, 4, 8], help="none: skip part 2")
    ap.add_argument("--md", default=str(RESULTS), help=f"markdown report ('-': none; default {RESULTS})")
    args = ap.parse_args(argv)

    import snrstat
    from distributed import Client

    from snrstat.inference import local_cluster

    sampling = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    full = snrstat.load_dataset("pythia")
    frame = {t: full[full["task"] == t] for t in TASKS}  # each fit gets (and is sent) its task's rows
    load = os.getloadavg()
    header = (f"{os.cpu_count()} cores, load average {load[0]:.1f} at the start; {args.workers} workers; "
              f"{args.chains} chains x {args.draws} draws after {args.tune} tuning steps")
    print(header, flush=True)

    # ---- 1. 48 fits: serial against the cluster
    specs = specs_48(sampling)
    serial, s_row = run(specs, frame, None, args.seed)
    print(f"serial: {s_row}", flush=True)
    t0 = time.perf_counter()
    cluster = local_cluster(args.workers)
    client = Client(cluster)
    startup = time.perf_counter() - t0
    try:
        parallel, p_row = run(specs[::-1], frame, client, args.seed)  # another order: same numbers
        print(f"{args.workers} workers: {p_row} (start-up {startup:.1f} s)", flush=True)
        same = identical(serial, parallel)
        print(f"identical to the bit: {same}", flush=True)
        batch = pd.DataFrame([{"run": "serial (this process)", **s_row},
                              {"run": f"LocalCluster, {args.workers} workers", **p_row}]).set_index("run")

        # ---- 2. compile time against the number of distinct shapes
        rows = []
        for k in args.shapes:
            for where in ("serial", "cluster"):
                if where == "serial":
                    clear_compile_cache()
                    _, row = run(specs_shapes(k, sampling), frame, None, args.seed)
                else:
                    client.run(clear_compile_cache)
                    _, row = run(specs_shapes(k, sampling), frame, client, args.seed)
                rows.append({"shapes": k, "where": where if where == "serial" else f"{args.workers} workers", **row})
                print(rows[-1], flush=True)
        shapes = pd.DataFrame(rows).set_index(["shapes", "where"]) if rows else None
    finally:
        client.close()
        cluster.close()

    speedup = s_row["wall_s"] / p_row["wall_s"]
    md = "\n".join([
        "# Batches of fits: serial against a local Dask cluster", "",
        f"`python benchmarks/bench_batch.py` ({header}; load average {os.getloadavg()[0]:.1f} at the end). "
        "The load average counts every runnable process of the machine: above the number of cores, the "
        "wall times below measure the competition for the cores as much as the batch.", "",
        f"## 48 variance fits (Pythia, {len(TASKS)} tasks x {len(SIZES)} sizes)", "",
        table(batch), "",
        f"Speed-up {speedup:.2f}x; cluster start-up {startup:.1f} s (not in the wall time). Every posterior "
        f"and sample-stats array identical to the bit between the two runs (the cluster ran the specs in "
        f"reverse order): {'yes' if same else 'NO'}. `compilations` counts model compilations over all "
        "processes (each process compiles each model shape once); `fit_s` is the sum of the fits' own times; "
        "`cpu_s` the CPU seconds of every process involved (this one, with the scheduler, and the workers).", "",
    ] + ([] if shapes is None else [
        "## Compile time against the number of distinct model shapes (8 fits, cold caches)", "",
        table(shapes), "",
    ]))
    if args.md != "-":
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(md)
        print(f"wrote {args.md}")
    else:
        print(md)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
