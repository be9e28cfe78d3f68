"""Inspect AI logs: real .eval archives and a .json log from inspect_ai's own test fixtures
(../shared/data/inspect-logs), and small logs of both formats written here."""

import json
import zipfile

import pytest

from snrstat.io.detect import detect_format, read_any
from snrstat.io.inspect import InspectLogWarning, read_inspect, score_value


def _log_eval(path, samples, *, reductions=None, status="success", task="inspect_evals/demo", model="org/m"):
    header = {"version": 2, "status": status, "eval": {"task": task, "model": model, "dataset": {"samples": 3}},
              "results": {"total_samples": 3, "completed_samples": 3, "scores": [
                  {"name": "match", "scorer": "match", "metrics": {
                      "accuracy": {"name": "accuracy", "value": 0.5}, "stderr": {"name": "stderr", "value": 0.1}}}]}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps(header))
        for s in samples:
            z.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))
        if reductions is not None:
            z.writestr("reductions.json", json.dumps(reductions))
    return path


def test_real_logs_items_and_task_scores(shared_data):
    folder = shared_data / "inspect-logs"
    with pytest.warns(InspectLogWarning):  # one cancelled log, one log whose scorer never ran
        items = read_inspect(folder)
    mini = items[(items["model"] == "openai/gpt-4o-mini") & items["log"].str.contains("mj7khqpMM4")]
    assert len(mini) == 10 and set(mini["metric"]) == {"match"} and mini["value"].mean() == pytest.approx(0.8)
    assert set(items["task"]) == {"popularity", "mmlu_0_shot"}  # registry prefix dropped
    assert set(items.loc[items["task"] == "mmlu_0_shot", "task_full"]) == {"inspect_evals/mmlu_0_shot"}
    assert (items["n_items"] == 1).all() and items["item"].notna().all()
    with pytest.warns(InspectLogWarning):
        tasks = read_inspect(folder, level="task")
    row = tasks[tasks["log"].str.contains("mj7khqpMM4")].iloc[0]
    assert (row["metric"], row["value"], row["n_items"]) == ("match_accuracy", 0.8, 10)
    assert row["stderr"] == pytest.approx(0.13333333333333333)


def test_real_json_log_matches_its_reductions(shared_data):
    path = shared_data / "inspect-logs" / "2025-05-12T20-28-13-04-00_popularity.json"
    with pytest.warns(InspectLogWarning, match="cancelled"):
        items = read_inspect(path)
    with pytest.warns(InspectLogWarning):
        reduced = read_inspect(path, reduced=True)
    assert items.sort_values("item")["value"].tolist() == reduced.sort_values("item")["value"].tolist() == [1, 1, 0]


def test_epochs_are_repeats_of_an_item(tmp_path):
    samples = [{"id": i, "epoch": e, "scores": {"match": {"value": v}}}
               for i, values in ((1, "CCI"), (2, "IIP")) for e, v in enumerate(values, 1)]
    frame = read_inspect(_log_eval(tmp_path / "a.eval", samples))
    assert len(frame) == 6 and sorted(frame["epoch"].unique()) == [1, 2, 3]
    means = frame.groupby("item")["value"].mean()
    assert means["1"] == pytest.approx(2 / 3) and means["2"] == pytest.approx(0.5 / 3)


def test_dict_scores_and_value_words(tmp_path):
    samples = [{"id": 1, "epoch": 1, "scores": {"judge": {"value": {"helpful": "yes", "harmless": 0.25}}}}]
    frame = read_inspect(_log_eval(tmp_path / "a.eval", samples))
    assert dict(zip(frame["metric"], frame["value"])) == {"judge_helpful": 1.0, "judge_harmless": 0.25}
    assert [score_value(v) for v in ("C", "I", "P", "N", True, "no", "0.75", "maybe", None)] == \
        [1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 0.75, None, None]


def test_log_without_samples_uses_reductions(tmp_path):
    reductions = [{"scorer": "match", "samples": [{"sample_id": 1, "value": 1.0}, {"sample_id": 2, "value": 0}]}]
    frame = read_inspect(_log_eval(tmp_path / "a.eval", [], reductions=reductions))
    assert frame["epoch"].isna().all() and frame["value"].tolist() == [1.0, 0.0]


def test_two_logs_of_one_model_stay_apart(tmp_path):
    for name in ("a.eval", "b.eval"):
        _log_eval(tmp_path / name, [{"id": 1, "epoch": 1, "scores": {"match": {"value": "C" if name == "a.eval" else "I"}}}])
    frame = read_inspect(tmp_path)
    assert len(frame) == 2 and set(frame["log"]) == {"a.eval", "b.eval"}


def test_detected_as_inspect(tmp_path, shared_data):
    assert detect_format(shared_data / "inspect-logs") == "inspect"
    _log_eval(tmp_path / "a.eval", [{"id": 1, "epoch": 1, "scores": {"match": {"value": "C"}}}])
    frame, kind = read_any(tmp_path)
    assert kind == "inspect" and frame["value"].tolist() == [1.0]
