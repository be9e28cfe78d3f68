import argparse
import json

import numpy as np
import pandas as pd
import pytest

from snrstat.commands import decide, select
from snrstat.schema import DataError


def run(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    decide.add_parser(sub)
    select.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def ladder_like(tmp_path):
    """Five models at two sizes, last checkpoints with noise; the order flips for one pair."""
    rng = np.random.default_rng(0)
    rows = []
    for size, params, shift in (("150M", 1.5e8, 0.0), ("1B", 1e9, 0.1)):
        for m, base in zip("abcde", (0.40, 0.45, 0.50, 0.52, 0.60)):
            base = base + shift + (0.05 if (size == "1B" and m == "c") else 0.0)
            for step in range(1, 9):
                rows.append({"task": "qa", "metric": "acc", "model": m, "size": size, "params": params,
                             "step": 100 * step, "value": base + rng.normal(0, 0.004)})
                rows.append({"task": "qa", "metric": "bpb", "model": m, "size": size, "params": params,
                             "step": 100 * step, "value": 1.5 - base + rng.normal(0, 0.004)})
    path = tmp_path / "scores.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_decide_json(ladder_like, capsys):
    assert run(["decide", "--data", str(ladder_like), "--task", "qa", "--fast", "--json", "--draws", "400",
                "--plan-seeds", "2", "--plan-last-n", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric"] == "acc" and (out["small"], out["target"]) == ("150M", "1B")
    da = out["decision_accuracy"]
    assert da["n_models"] == 5 and da["point"] == pytest.approx(0.9)  # c overtakes d at 1B: 1 of 10 pairs
    assert da["median"] == pytest.approx(0.9)  # checkpoint noise is tiny: the posterior agrees
    assert 0 <= da["lo"] <= da["median"] <= da["hi"] <= 1
    assert -1 <= out["rho"]["lo"] <= out["rho"]["median"] <= out["rho"]["hi"] <= 1
    assert out["planned"]["plan_seeds"] == 2 and 0.5 < out["planned"]["predicted_decision_accuracy"] <= 1


def test_decide_table_and_all_tasks(ladder_like, capsys):
    assert run(["decide", "--data", str(ladder_like), "--task", "all", "--fast", "--draws", "200"]) == 0
    text = capsys.readouterr().out
    assert "decision accuracy" in text and "150M" in text and "one run per model" in text
    assert run(["decide", "--data", str(ladder_like), "--task", "qa", "--metric", "bpb", "--fast", "--draws", "200"]) == 0
    assert "P(agree)" in capsys.readouterr().out


def test_decide_errors_name_the_problem(ladder_like):
    with pytest.raises(DataError, match="--small '7B' not among the sizes"):
        run(["decide", "--data", str(ladder_like), "--task", "qa", "--small", "7B", "--fast"])
    with pytest.raises(DataError, match="metric 'soft' not recorded"):
        run(["decide", "--data", str(ladder_like), "--task", "qa", "--metric", "soft", "--fast"])


def test_decide_on_the_bundled_ladder(capsys):
    assert run(["decide", "--data", "olmo-ladder", "--task", "arc_easy_val", "--fast", "--json", "--draws", "300"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["models"] == ["0.5xC", "10xC", "1xC", "2xC", "5xC"]
    assert (out["small"], out["target"]) == ("190M", "3B")


def test_select_json(tmp_path, capsys):
    rng = np.random.default_rng(1)
    quality = rng.normal(0, 1, 6)
    rows = []
    for s in range(5):
        effect = 0.03 * quality if s < 2 else 0.002 * rng.normal(0, 1, 6)
        for m in range(6):
            for step in range(1, 7):
                rows.append({"task": "suite", "subtask": f"s{s}", "metric": "acc", "model": f"m{m}", "size": "1B",
                             "step": step, "value": 0.5 + effect[m] + rng.normal(0, 0.01)})
    path = tmp_path / "suite.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert run(["select", "--data", str(path), "--task", "suite", "--fast", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["selected"]) == {"s0", "s1"}
    assert {a["subset"] for a in out["aggregates"]} == {"full", "posterior", "point"}
    assert run(["select", "--data", str(path), "--task", "suite", "--fast", "--k", "3"]) == 0
    assert "subtasks by posterior SNR" in capsys.readouterr().out
