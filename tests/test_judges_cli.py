"""``snrstat judge``: registration, the counts-only path and data errors (no sampling here)."""

import json

import pytest

from snrstat.cli import build_parser, main


def test_registered():
    args = build_parser().parse_args(["judge", "--counts-only"])
    assert args.command == "judge" and args.data == "llmbar"


def test_counts_only_json(capsys):
    assert main(["judge", "--data", "llmbar", "--counts-only", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["selection"]["strategies"] == ["Vanilla", "Vanilla_NoRules", "Rating", "Rating_NoRules"]
    rows = {(r["judge"], r["strategy"]): r for r in out["counts"]}
    assert rows[("GPT-4", "Vanilla")]["flip_rate"] == pytest.approx(0.072, abs=0.001)
    assert rows[("Falcon", "Vanilla")]["flip_rate"] == pytest.approx(0.585, abs=0.001)
    assert {r["judge"] for r in out["mode_comparison_counts"]} == {"GPT-4", "ChatGPT"}


def test_counts_only_table(capsys):
    assert main(["judge", "--counts-only", "--judges", "GPT-4", "--strategies", "Vanilla"]) == 0
    text = capsys.readouterr().out
    assert "GPT-4" in text and "0.072" in text and "Falcon" not in text


def test_errors(capsys, tmp_path):
    assert main(["judge", "--data", "olmo-ladder", "--counts-only"]) == 2
    assert "holds evaluation records, not judgments" in capsys.readouterr().err
    assert main(["judge", "--data", str(tmp_path / "none.csv"), "--counts-only"]) == 2
    assert main(["judge", "--counts-only", "--strategies", "Nope"]) == 2
    assert "strategy 'Nope' not in the judgments" in capsys.readouterr().err


def test_judgment_file(tmp_path, capsys):
    path = tmp_path / "j.csv"
    path.write_text("item,judge,swap,winner,label\na,J,False,1,1\na,J,True,2,1\nb,J,False,2,2\nb,J,True,2,2\n")
    assert main(["judge", "--data", str(path), "--counts-only", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"][0]["flip_rate"] == 0.5 and out["counts"][0]["accuracy"] == 0.75


@pytest.mark.slow
def test_fit_on_a_users_judgment_file_prints_model_and_checks(tmp_path, capsys):
    """The whole `snrstat judge` path on a simulated judgment CSV: model table, diagnostics line,
    and a model-check line for a judge whose verdicts on one order were overwritten."""
    from snrstat.judges.simulate import simulate_judgments

    frame, _ = simulate_judgments(30, judges=("J1", "J2"), rating=(), n_subsets=1, random_seed=4)
    bent = frame.copy()
    # J1 picks gold in the original order and the other answer when swapped: it always flips, yet
    # favours neither position, which no discrimination and position bias can produce
    j1 = bent["judge"] == "J1"
    gold = bent["label"].astype(int)
    bent.loc[j1 & ~bent["swap"], "winner"] = gold[j1 & ~bent["swap"]]
    bent.loc[j1 & bent["swap"], "winner"] = 3 - gold[j1 & bent["swap"]]
    path = tmp_path / "judgments.csv"
    bent.to_csv(path, index=False)
    assert main(["judge", "--data", str(path), "--draws", "200", "--tune", "200", "--chains", "2"]) == 0
    out = capsys.readouterr().out
    assert "Judge model" in out and "sampler diagnostics" in out
    assert "model check" in out and "J1|" in out


def test_report_intro_on_judgments():
    """A judgment table has no runs or sizes: the report's data line counts judges and items."""
    import snrstat
    from snrstat.report.build import Settings, build_report

    frame = snrstat.load_dataset("llmbar")
    doc = build_report("llmbar", frame, Settings(fast=True, quiet=True), sections=[])
    assert doc.intro.startswith("Data: llmbar: 88,912 judgments, 6 judges, 15 strategies, ")
