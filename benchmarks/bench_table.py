"""Time ``snrstat.point.table.snr_table`` against a per-group loop written the way the paper's
scripts are (boolean slicing of the frame per task and size, then per model and seed).

Synthetic frame: 24 tasks (half with 3 metrics, half with 2), 25 models, 3 seeds, 9 sizes,
5-15 checkpoints per run: about 400,000 records. Both run in this process; the script
prints wall times, their ratio, peak traced memory (tracemalloc) and checks that both give
the same signal, noise and SNR to float precision.

    python benchmarks/bench_table.py [--tasks 24] [--last-n 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

from snrstat.point.table import snr_table

SIZES = ("4M", "20M", "60M", "90M", "150M", "300M", "530M", "750M", "1B")
PARAMS = (3.7e6, 2.0e7, 5.7e7, 9.7e7, 1.5e8, 3.0e8, 5.3e8, 7.5e8, 1.2e9)


def synthetic_frame(n_tasks: int = 24, n_models: int = 25, n_seeds: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    metrics = [("acc", "bpb", "soft") if t < n_tasks // 2 else ("acc", "bpb") for t in range(n_tasks)]
    tm = [(t, m) for t in range(n_tasks) for m in metrics[t]]
    t_idx = np.array([t for t, _ in tm])
    m_name = np.array([m for _, m in tm])
    # every run: (task-metric, size, model, seed)
    grid = np.stack(np.meshgrid(np.arange(len(tm)), np.arange(len(SIZES)), np.arange(n_models),
                                np.arange(n_seeds), indexing="ij"), -1).reshape(-1, 4)
    n_ckpt = rng.integers(5, 16, size=len(grid))
    rows = np.repeat(np.arange(len(grid)), n_ckpt)
    pos = np.arange(len(rows)) - np.repeat(np.cumsum(n_ckpt) - n_ckpt, n_ckpt)
    g = grid[rows]
    metric = m_name[g[:, 0]]
    skill = rng.normal(0, 0.03, size=(n_tasks, n_models))[t_idx[g[:, 0]], g[:, 2]]
    growth = 0.02 * g[:, 1] + 0.002 * pos
    base = np.where(metric == "bpb", 1.5 - growth - skill, 0.4 + growth + skill)
    value = base + rng.normal(0, 0.01, size=len(rows))
    value = np.where(metric == "bpb", value, np.clip(value, 0.0, 1.0))
    step = (pos + 1) * 1000
    s = lambda a: pd.array(a, dtype="string")  # noqa: E731
    return pd.DataFrame({
        "task": s(np.char.add("task", t_idx[g[:, 0]].astype(str))),
        "metric": s(metric),
        "model": s(np.char.add("mix", g[:, 2].astype(str))),
        "size": s(np.array(SIZES)[g[:, 1]]),
        "params": np.array(PARAMS)[g[:, 1]],
        "seed": s(g[:, 3].astype(str)),
        "data_order": pd.array([pd.NA], dtype="string").take(np.zeros(len(rows), dtype=np.intp)),
        "step": pd.array(step, dtype="Int64"),
        "value": value.astype(float),
    })


def loop_table(df: pd.DataFrame, last_n: int, tasks=None) -> pd.DataFrame:
    """The paper's style: slice the frame per (task, metric, size), then per model and seed.
    ``tasks`` limits the outer loop (the frame sliced stays the whole frame)."""
    rows = []
    for task in sorted(df["task"].unique())[:tasks]:
        for metric in sorted(df.loc[df["task"] == task, "metric"].unique()):
            for size in SIZES:
                sub = df[(df["task"] == task) & (df["metric"] == metric) & (df["size"] == size)]
                if len(sub) == 0:
                    continue
                model_means, run_means, run_vars = [], [], []
                for model in sorted(sub["model"].unique()):
                    msub = sub[sub["model"] == model]
                    per_run = []
                    for seed in sorted(msub["seed"].unique()):
                        scores = msub[msub["seed"] == seed].sort_values("step")["value"].to_numpy()[-last_n:]
                        per_run.append(np.mean(scores))
                        if len(scores) >= 2:
                            run_vars.append(0.0 if scores.max() == scores.min() else np.var(scores))
                    run_means += per_run
                    model_means.append(np.mean(per_run))
                m = np.array(model_means)
                signal = (m.max() - m.min()) / m.mean()
                noise = np.sqrt(np.mean(run_vars)) / np.mean(run_means)
                rows.append((task, metric, size, len(m), len(run_means), signal, noise, signal / noise))
    return pd.DataFrame(rows, columns=["task", "metric", "size", "n_models", "n_runs", "signal", "noise", "snr"])


def timed(fn, repeat: int = 1):
    """Result and best wall time of ``repeat`` calls (no tracing: tracemalloc slows both)."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def peak_memory(fn) -> int:
    """Peak bytes allocated (traced by tracemalloc, which sees numpy's buffers) during ``fn``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=24)
    parser.add_argument("--last-n", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    df = synthetic_frame(args.tasks, seed=args.seed)
    print(f"frame: {len(df):,} records, {df['task'].nunique()} tasks, {df['model'].nunique()} models, "
          f"{df['seed'].nunique()} seeds, {df['size'].nunique()} sizes, "
          f"{df.groupby(['task', 'metric', 'size']).ngroups} (task, metric, size) groups")
    snr_table(df.head(1000), last_n=args.last_n)  # warm caches and imports
    fast, t_fast = timed(lambda: snr_table(df, last_n=args.last_n), repeat=3)
    slow, t_slow = timed(lambda: loop_table(df, args.last_n))
    mem_fast = peak_memory(lambda: snr_table(df, last_n=args.last_n))
    # the loop's peak is that of one iteration (masks over the whole frame), so 2 tasks show it
    mem_slow = peak_memory(lambda: loop_table(df, args.last_n, tasks=2))

    keys = ["task", "metric", "size"]
    a = fast.assign(size=fast["size"].astype(str)).sort_values(keys).reset_index(drop=True)
    b = slow.assign(size=slow["size"].astype(str)).sort_values(keys).reset_index(drop=True)
    assert a[keys].astype(str).equals(b[keys].astype(str)), "the two tables hold different groups"
    for col in ("n_models", "n_runs"):
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy())
    for col in ("signal", "noise", "snr"):
        np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-12, atol=0)
    print(f"snr_table (vectorised, best of 3): {t_fast:8.3f} s   peak memory {mem_fast / 2**20:8.1f} MiB")
    print(f"per-group loop (paper style):      {t_slow:8.3f} s   peak memory {mem_slow / 2**20:8.1f} MiB")
    print(f"speed-up: {t_slow / t_fast:.1f}x   ({len(a)} groups agree to rtol 1e-12)")
    print("peak memory is what tracemalloc sees (Python objects and numpy buffers); Arrow-backed "
          "string buffers (the masks of the loop's string comparisons) are allocated outside it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
