"""snrstat.point.table (vectorised tables) against a per-group numpy reference, and ``snrstat table``."""

import argparse
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import snrstat
from hypothesis import given, settings
from hypothesis import strategies as st

from snrstat import point
from snrstat.commands import table as table_cmd
from snrstat.point import InfiniteSNRWarning
from snrstat.schema import DataError, validate
from snrstat.point.table import decision_table, snr_table

FAST = settings(max_examples=30, deadline=None, derandomize=True)
SIZES = {"60M": 6e7, "150M": 1.5e8, "1B": 1.2e9}


def random_frame(seed: int, coarse: bool = False) -> pd.DataFrame:
    """Tasks x metrics x sizes, 1-4 models with 1-3 seeds, 1-7 checkpoints per run at random
    steps; ``coarse`` rounds scores so that ties and constant windows occur."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in ["arc", "hella"][: rng.integers(1, 3)]:
        for metric in ["acc", "bpb"][: rng.integers(1, 3)]:
            sizes = list(SIZES)[: rng.integers(1, 4)]
            models = [f"mix{i}" for i in range(rng.integers(1, 5))]
            for size in sizes:
                for model in models:
                    for seed_label in [str(s) for s in range(rng.integers(1, 4))]:
                        n = int(rng.integers(1, 8))
                        steps = np.sort(rng.choice(np.arange(1, 100), size=n, replace=False)) * 100
                        level = 0.3 + 0.1 * int(model[-1]) + 0.05 * list(SIZES).index(size)
                        vals = level + rng.normal(0, 0.03, size=n)
                        if coarse:
                            vals = np.round(vals, 1)
                        for step, v in zip(steps, vals):
                            rows.append((task, metric, size, SIZES[size], model, seed_label, int(step), float(v)))
    frame = pd.DataFrame(rows, columns=["task", "metric", "size", "params", "model", "seed", "step", "value"])
    return validate(frame.sample(frac=1, random_state=seed))


def reference_table(frame: pd.DataFrame, last_n: int, mode: str) -> pd.DataFrame:
    """Straightforward per-group numpy, run by run."""
    rows = []
    for (task, metric, size), g in frame.groupby(["task", "metric", "size"]):
        windows = {}
        for (model, seed), r in g.groupby(["model", "seed"]):
            windows[(model, seed)] = r.sort_values("step")["value"].to_numpy()[-last_n:]
        models = sorted({m for m, _ in windows})
        means = np.array([np.mean([np.mean(v) for (m, _), v in windows.items() if m == mm]) for mm in models])
        sig = (means.max() - means.min()) / means.mean() if len(means) > 1 else np.nan
        if mode == "per_run":
            usable = [v for v in windows.values() if len(v) >= 2]
            var = [0.0 if v.max() == v.min() else np.var(v) for v in usable]
            grand = np.mean([np.mean(v) for v in windows.values()])
            noi = np.sqrt(np.mean(var)) / grand if usable else np.nan
        else:
            flat = np.concatenate(list(windows.values()))
            noi = (0.0 if flat.max() == flat.min() else np.std(flat)) / flat.mean() if len(flat) > 1 else np.nan
        snr = np.inf if noi == 0 and not np.isnan(sig) else sig / noi
        rows.append((task, metric, size, len(models), len(windows), sig, noi, snr))
    return pd.DataFrame(rows, columns=["task", "metric", "size", "n_models", "n_runs", "signal", "noise", "snr"])


def _by_key(table):
    t = table.assign(size=table["size"].astype(str), task=table["task"].astype(str), metric=table["metric"].astype(str))
    return t.sort_values(["task", "metric", "size"]).reset_index(drop=True)


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.sampled_from(["per_run", "reference"]), st.booleans())
def test_snr_table_matches_per_group_reference(seed, last_n, mode, coarse):
    frame = random_frame(seed, coarse)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InfiniteSNRWarning)
        got = _by_key(snr_table(frame, last_n=last_n, mode=mode))
    ref = _by_key(reference_table(frame, last_n, mode))
    assert got[["task", "metric", "size"]].equals(ref[["task", "metric", "size"]])
    np.testing.assert_array_equal(got["n_models"], ref["n_models"])
    np.testing.assert_array_equal(got["n_runs"], ref["n_runs"])
    for col in ("signal", "noise", "snr"):
        np.testing.assert_allclose(got[col].to_numpy(), ref[col].to_numpy(), rtol=1e-12, atol=0)


@FAST
@given(st.integers(0, 2**32 - 1))
def test_each_row_is_small_scale_snr(seed):
    frame = random_frame(seed)
    table = snr_table(frame, last_n=3)
    for row in table.itertuples():
        if row.n_models < 2 or np.isnan(row.noise):
            continue
        one = frame[(frame["task"] == row.task) & (frame["metric"] == row.metric) & (frame["size"] == row.size)]
        assert point.small_scale_snr(one, last_n=3).snr == pytest.approx(row.snr, rel=1e-12)


@pytest.mark.parametrize("kind", ["range", "rel_std", "range_raw", "std_raw"])
def test_signal_kinds_in_table(kind):
    frame = random_frame(21)
    table = snr_table(frame, last_n=2, kind=kind)
    for row in table.itertuples():
        if row.n_models < 2:
            continue
        g = frame[(frame["task"] == row.task) & (frame["metric"] == row.metric) & (frame["size"] == row.size)]
        runs = g.sort_values("step").groupby(["model", "seed"])["value"].apply(lambda v: v.to_numpy()[-2:].mean())
        means = runs.groupby(level="model").mean()
        assert row.signal == pytest.approx(point.signal(means, kind), rel=1e-12)


def test_table_columns_order_and_undefined_values():
    frame = random_frame(7)
    table = snr_table(frame)
    assert list(table.columns) == ["task", "metric", "size", "params", "n_models", "n_runs", "signal", "noise", "snr"]
    for _, g in table.groupby(["task", "metric"]):
        assert list(g["params"]) == sorted(g["params"])  # sizes small to large
    one_model = frame[frame["model"] == "mix0"]
    t = snr_table(one_model)
    assert t["signal"].isna().all() and t["snr"].isna().all()


def test_sizes_ordered_by_label_without_params():
    rng = np.random.default_rng(0)
    rows = [("t", "acc", size, m, step, float(rng.uniform(0.3, 0.6)))
            for size in ["1.4b", "70m", "12b", "410m"] for m in "ab" for step in (1, 2, 3)]
    frame = pd.DataFrame(rows, columns=["task", "metric", "size", "model", "step", "value"])
    assert list(snr_table(frame)["size"]) == ["70m", "410m", "1.4b", "12b"]


def test_zero_noise_gives_inf_and_one_warning():
    rows = [("t", "acc", "1B", m, step, v) for m, v in (("a", 0.4), ("b", 0.6)) for step in (1, 2, 3)]
    frame = pd.DataFrame(rows, columns=["task", "metric", "size", "model", "step", "value"])
    with pytest.warns(InfiniteSNRWarning, match="1 group"):
        table = snr_table(frame)
    assert table["snr"].iloc[0] == math.inf and table["noise"].iloc[0] == 0.0


def test_table_refuses_ambiguous_records():
    frame = random_frame(3)
    dup = pd.concat([frame, frame.iloc[[0]].assign(value=0.01)], ignore_index=True)
    with pytest.raises(DataError, match="several records at the same step"):
        snr_table(dup)
    with pytest.raises(DataError, match="several records at the same step"):
        decision_table(dup)
    nostep = frame.assign(step=pd.array([pd.NA] * len(frame), dtype="Int64"))
    if (frame.groupby(["task", "metric", "size", "model", "seed"]).size() > 1).any():
        with pytest.raises(DataError, match="missing step"):
            snr_table(nostep)
    with pytest.raises(DataError, match="not in column 'metric'"):
        snr_table(frame, metric="f1")
    with pytest.raises(DataError, match="last_n"):
        snr_table(frame, last_n=0)


def test_subtasks_are_averaged_or_kept():
    rng = np.random.default_rng(2)
    rows = [("mmlu", sub, "acc", "1B", m, step, float(rng.uniform(0.2, 0.8)))
            for sub in ("algebra", "law") for m in "abc" for step in (1, 2, 3, 4)]
    frame = pd.DataFrame(rows, columns=["task", "subtask", "metric", "size", "model", "step", "value"])
    mean = frame.groupby(["task", "metric", "size", "model", "step"], as_index=False)["value"].mean()
    np.testing.assert_allclose(snr_table(frame)["snr"], snr_table(mean)["snr"], rtol=1e-12)
    separate = snr_table(frame, subtasks="separate")
    assert list(separate["subtask"]) == ["algebra", "law"]
    with pytest.raises(DataError, match="subtasks of its task"):
        snr_table(frame.iloc[1:])
    mixed = pd.concat([frame, mean.assign(subtask=pd.NA)])
    with pytest.raises(DataError, match="mix rows with and without a subtask"):
        snr_table(mixed)


# --------------------------------------------------------------------------- decision table

def final_scores(frame: pd.DataFrame, task, metric, size) -> pd.Series:
    sub = frame[(frame["task"] == task) & (frame["metric"] == metric) & (frame["size"] == size)]
    final = sub.sort_values("step").groupby(["model", "seed"])["value"].last()
    return final.groupby(level="model").mean()  # seeds averaged, each run equally


@FAST
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_decision_table_matches_decision_accuracy(seed, coarse):
    frame = random_frame(seed, coarse)
    # drop a model at one size so that the model sets differ between scales
    frame = frame[~((frame["model"] == "mix1") & (frame["size"] == "60M"))]
    table = decision_table(frame)
    expected = 0
    for (task, metric), g in frame.groupby(["task", "metric"]):
        sizes = sorted(g["size"].unique(), key=SIZES.get)
        for a, small in enumerate(sizes):
            for target in sizes[a + 1:]:
                s, t = final_scores(frame, task, metric, small), final_scores(frame, task, metric, target)
                common = sorted(set(s.index) & set(t.index))
                if len(common) < 2:
                    continue
                expected += 1
                row = table[(table["task"] == task) & (table["metric"] == metric)
                            & (table["small"] == small) & (table["target"] == target)]
                assert len(row) == 1
                assert row["n_models"].iloc[0] == len(common)
                assert row["decision_accuracy"].iloc[0] == pytest.approx(
                    point.decision_accuracy(s[common], t[common]), abs=1e-15)
    assert len(table) == expected


def full_frame(seed: int) -> pd.DataFrame:
    """Every task, metric, size, model (4) and seed (2), 4 checkpoints per run."""
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product(
        [["arc", "hella"], ["acc", "bpb"], list(SIZES), [f"mix{i}" for i in range(4)], ["0", "1"], [1, 2, 3, 4]],
        names=["task", "metric", "size", "model", "seed", "step"],
    ).to_frame(index=False)
    idx["params"] = idx["size"].map(SIZES)
    idx["value"] = rng.uniform(0.2, 0.8, size=len(idx))
    return validate(idx)


def test_decision_table_small_target_and_last_n():
    frame = full_frame(11)
    full = decision_table(frame)
    assert len(full) == 2 * 2 * 3 and (full["n_models"] == 4).all()
    only = decision_table(frame, small="60M", target="1B")
    assert set(only["small"]) == {"60M"} and set(only["target"]) == {"1B"}
    merged = only.merge(full, on=["task", "metric", "small", "target"])
    np.testing.assert_array_equal(merged["decision_accuracy_x"], merged["decision_accuracy_y"])
    reverse = decision_table(frame, small="1B", target="60M")
    assert set(reverse["small"]) == {"1B"}
    with pytest.raises(DataError, match="not in column 'size'"):
        decision_table(frame, target="7B")
    assert len(decision_table(frame, last_n=3)) == len(full)


# --------------------------------------------------------------------------- CLI

def _args(**over):
    parser = argparse.ArgumentParser()
    table_cmd.add_parser(parser.add_subparsers())
    argv = ["table"]
    for key, value in over.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return parser.parse_args(argv)


@pytest.fixture
def tidy_csv(tmp_path):
    frame = random_frame(5)
    rows = [("flat", "acc", "1B", 1.2e9, m, "0", s, v) for m, v in (("mix0", 0.4), ("mix1", 0.6)) for s in (1, 2, 3)]
    flat = pd.DataFrame(rows, columns=["task", "metric", "size", "params", "model", "seed", "step", "value"])
    path = tmp_path / "tidy.csv"
    pd.concat([frame, flat]).to_csv(path, index=False)
    return path


def test_cli_json(tidy_csv, capsys):
    with pytest.warns(InfiniteSNRWarning):
        assert table_cmd.run(_args(data=tidy_csv, json=True, last_n=3)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["last_n"] == 3 and out["mode"] == "per_run"
    flat = [r for r in out["snr"] if r["task"] == "flat"]
    assert flat[0]["snr"] is None and flat[0]["snr_infinite"] is True
    with pytest.warns(InfiniteSNRWarning):
        expected = snr_table(validate(pd.read_csv(tidy_csv)), last_n=3)
    finite = expected[np.isfinite(expected["snr"])]
    got = {(r["task"], r["metric"], r["size"]): r["snr"] for r in out["snr"]}
    for row in finite.itertuples():
        assert got[(row.task, row.metric, row.size)] == pytest.approx(row.snr, rel=1e-12)
    assert all(set(r) == {"task", "metric", "small", "target", "n_models", "decision_accuracy"} for r in out["decision"])


def test_cli_rich_table(tidy_csv, capsys):
    with pytest.warns(InfiniteSNRWarning):
        assert table_cmd.run(_args(data=tidy_csv)) == 0
    text = capsys.readouterr().out
    assert "Signal and noise" in text and "arc" in text and "inf" in text and "SNR" in text
    # reference mode: the flat task's two models at 0.4 and 0.6 sit exactly at the sqrt(2k) = 2 ceiling
    assert table_cmd.run(_args(data=tidy_csv, mode="reference", metric="acc")) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("flat")]
    assert len(lines) == 1 and "2.0" in lines[0]


def test_cli_bundled_olmo_ladder(capsys):
    assert table_cmd.run(_args(metric="bpb", json=True)) == 0
    out = json.loads(capsys.readouterr().out)
    ladder = [r for r in out["snr"] if r["size"] in ("190M", "370M", "760M", "3B")]
    assert ladder and all(r["n_models"] == 5 and r["n_runs"] == 6 and r["snr"] > 0 for r in ladder)
    assert {r["target"] for r in out["decision"]} >= {"3B"}


def test_cli_scaling_law_error_matches_the_point_fit(capsys):
    """The table's law-error columns are the two-step point fit's relative errors, per target."""
    from snrstat.scaling import fit_ladder_point

    assert table_cmd.run(_args(metric="len_norm", json=True)) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {(r["task"], r["target"]): r for r in out["scaling"]}
    assert {t for _, t in rows} == {"peteish7", "peteish13"}
    fit = fit_ladder_point(snrstat.load_dataset("olmo-ladder"), "hellaswag_val")
    for r in fit.predictions.itertuples():
        row = rows[("hellaswag_val", r.target)]
        assert row["metric"] == "len_norm"
        assert row["rel_error"] == pytest.approx(abs(r.predicted - r.actual) / r.actual, rel=1e-9)


def test_cli_no_scaling_columns_without_a_ladder(tidy_csv, capsys):
    assert table_cmd.run(_args(data=tidy_csv, json=True, last_n=3)) == 0
    assert "scaling" not in json.loads(capsys.readouterr().out)
