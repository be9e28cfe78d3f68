"""Bad input gets a clear error and nothing is lost: a matrix over importers, validate, the point
estimates, saving/loading and every CLI command (issue 12).

Each case writes its own small input, runs one call and checks the outcome: a DataError (or a
one-line CLI error with exit code 2) whose message says what is wrong, or a warning that names
the file and counts what was left out. No case samples a posterior except the save/load ones,
which share one tiny fit."""

from __future__ import annotations

import json
import math
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import snrstat
from snrstat.cli import main
from snrstat.schema import DataError


# --------------------------------------------------------------------------- helpers

def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def results_json(path: Path, results, config=None, **extra) -> Path:
    data = {"results": results, **({"config": config} if config is not None else {}), **extra}
    return write(path, json.dumps(data, allow_nan=True))


def tidy(n_models=3, n_steps=6, value=None, task="qa", seeds=("0",), sizes=(("1B", 1e9),), seed=0, **cols):
    rng = np.random.default_rng(seed)
    rows = []
    for size, params in sizes:
        for m in range(n_models):
            for s in seeds:
                for step in range(1, n_steps + 1):
                    v = value if value is not None else 0.4 + 0.05 * m + rng.normal(0, 0.01)
                    rows.append({"task": task, "metric": "acc", "model": f"m{m}", "size": size, "params": params,
                                 "seed": s, "step": 100 * step, "value": v, **cols})
    return pd.DataFrame(rows)


def csv(tmp_path: Path, frame: pd.DataFrame, name="scores.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def strict_json(text: str):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


# --------------------------------------------------------------------------- importers: DataError

def _lm_results_str(t):
    return snrstat.read_lm_eval(results_json(t / "r.json", "oops"))


def _lm_results_list_unnamed(t):
    return snrstat.read_lm_eval(results_json(t / "r.json", [{"acc": 0.5}]))


def _lm_top_level_list(t):
    return snrstat.read_lm_eval(write(t / "r.json", "[1, 2]"))


def _lm_empty_file(t):
    return snrstat.read_lm_eval(write(t / "r.json", ""))


def _lm_truncated(t):
    return snrstat.read_lm_eval(write(t / "r.json", '{"results": {"piqa": {"acc": 0.5'))


def _lm_entry_number(t):
    return snrstat.read_lm_eval(results_json(t / "r.json", {"piqa": 0.5}, {"model_args": "pretrained=a/b"}))


def _lm_foreign_raise(t):
    results_json(t / "m" / "good.json", {"piqa": {"acc": 0.5}}, {"model_args": "pretrained=a/b"})
    write(t / "m" / "other.json", json.dumps({"metrics": {}}))
    return snrstat.read_lm_eval(t)


def _lm_pattern_mismatch(t):
    results_json(t / "m" / "x.json", {"piqa": {"acc": 0.5}})
    return snrstat.read_lm_eval(t, path_pattern="{model}/step{step}")


def _lm_pattern_bad_regex(t):
    results_json(t / "x.json", {"piqa": {"acc": 0.5}})
    return snrstat.read_lm_eval(t, path_pattern="(?P<model>[")


def _lm_pattern_unknown_group(t):
    results_json(t / "x.json", {"piqa": {"acc": 0.5}})
    return snrstat.read_lm_eval(t, path_pattern="(?P<colour>.+)")


def _lm_on_error_bad(t):
    return snrstat.read_lm_eval(results_json(t / "x.json", {"piqa": {"acc": 0.5}}), on_error="ignore")


def _lm_proportion_above_one(t):
    return snrstat.read_lm_eval(results_json(t / "x.json", {"piqa": {"acc": 1.5}}, {"model_args": "pretrained=a/b"}))


def _lm_only_text_scores(t):
    return snrstat.read_lm_eval(results_json(t / "x.json", {"piqa": {"acc": "N/A"}}, {"model_args": "pretrained=a/b"}))


def _lm_empty_folder(t):
    (t / "empty").mkdir()
    return snrstat.read_lm_eval(t / "empty")


def _ladder_empty(t):
    return snrstat.read_olmo_ladder(write(t / "190M-1xC.csv", ""))


def _ladder_header_only(t):
    return snrstat.read_olmo_ladder(write(t / "190M-1xC.csv", "_step,eval/downstream/piqa_val_rc_5shot_acc\n"))


def _ladder_no_eval_columns(t):
    return snrstat.read_olmo_ladder(write(t / "190M-1xC.csv", "_step,loss\n1,3.0\n"))


def _ladder_no_clock(t):
    return snrstat.read_olmo_ladder(write(t / "190M-1xC.csv", "eval/downstream/piqa_val_rc_5shot_acc\n0.5\n"))


def _ladder_doubled_disagree(t):
    return snrstat.read_olmo_ladder(write(
        t / "190M-1xC.csv",
        "_step,eval/downstream_bpb/piqa_val_rc_5shot_bpb,eval/downstream_bpb/piqa_val_rc_5shot_bpb_bpb\n1,1.0,2.0\n"))


def _ladder_not_utf8(t):
    return snrstat.read_olmo_ladder(write(t / "190M-1xC.csv", b"\xff\xfe\x00bad\x00\xff"))


def _ladder_no_csv(t):
    (t / "ladder").mkdir()
    return snrstat.read_olmo_ladder(t / "ladder")


def _inspect_not_zip(t):
    from snrstat.io.inspect import read_inspect
    return read_inspect(write(t / "log.eval", "not a zip"))


def _inspect_no_header(t):
    from snrstat.io.inspect import read_inspect
    path = t / "log.eval"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("samples/1_epoch_1.json", "{}")
    return read_inspect(path)


def _inspect_not_a_log(t):
    from snrstat.io.inspect import read_inspect
    return read_inspect(write(t / "log.json", json.dumps({"results": {}})))


def _inspect_bad_member(t):
    from snrstat.io.inspect import read_inspect
    path = t / "log.eval"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps({"eval": {"task": "t", "model": "m"}, "status": "success"}))
        z.writestr("samples/1_epoch_1.json", "{broken")
    return read_inspect(path)


def _inspect_bad_level(t):
    from snrstat.io.inspect import read_inspect
    return read_inspect(t, level="sample")


def _table_unknown_target(t):
    return snrstat.read_table(csv(t, tidy()), mapping={"value": "score"})


def _table_text_scores(t):
    frame = tidy().astype({"value": object})
    frame.loc[0, "value"] = "abc"
    return snrstat.read_table(csv(t, frame))


def _table_nan_score(t):
    frame = tidy()
    frame.loc[0, "value"] = np.nan
    return snrstat.read_table(csv(t, frame))


def _table_empty_file(t):
    return snrstat.read_table(write(t / "s.csv", ""))


def _olmes_metrics_not_object(t):
    return snrstat.read_olmes(write(t / "task-000-arc-metrics.json", json.dumps({"metrics": [1, 2]})))


def _detect_mixed_formats(t):
    from snrstat.io.detect import read_any
    results_json(t / "r.json", {"piqa": {"acc": 0.5}})
    csv(t, tidy())
    return read_any(t)


IMPORTER_ERRORS = [
    (_lm_results_str, r"'results' is a str, expected an object"),
    (_lm_results_list_unnamed, r"results\[0\] is a dict without a task name"),
    (_lm_top_level_list, r"r\.json: the file holds a JSON list"),
    (_lm_empty_file, r"r\.json: not valid JSON"),
    (_lm_truncated, r"r\.json: not valid JSON \(line 1"),
    (_lm_entry_number, r"results\['piqa'\] is float, expected an object of metrics"),
    (_lm_foreign_raise, r"other\.json: no 'results' object \(keys: \['metrics'\]\)"),
    (_lm_pattern_mismatch, r"path_pattern .* does not match its path 'm/x\.json'"),
    (_lm_pattern_bad_regex, r"not a valid regular expression"),
    (_lm_pattern_unknown_group, r"unknown group\(s\) \['colour'\]"),
    (_lm_on_error_bad, r"on_error must be 'raise' or 'skip'"),
    (_lm_proportion_above_one, r"proportions outside \[0, 1\]"),
    (_lm_only_text_scores, r"no numeric metrics"),
    (_lm_empty_folder, r"no lm-evaluation-harness .json result files"),
    (_ladder_empty, r"190M-1xC\.csv: the file is empty"),
    (_ladder_header_only, r"header but no rows"),
    (_ladder_no_eval_columns, r"no evaluation columns"),
    (_ladder_no_clock, r"no '_step' column, and no token count"),
    (_ladder_doubled_disagree, r"both hold task 'piqa_val' metric 'bpb' with different values"),
    (_ladder_not_utf8, r"190M-1xC\.csv: not a readable CSV"),
    (_ladder_no_csv, r"no \.csv files"),
    (_inspect_not_zip, r"log\.eval: not a readable Inspect \.eval archive"),
    (_inspect_no_header, r"without header\.json"),
    (_inspect_not_a_log, r"log\.json: not an Inspect log"),
    (_inspect_bad_member, r"member samples/1_epoch_1\.json is not valid JSON"),
    (_inspect_bad_level, r"level must be 'item' or 'task'"),
    (_table_unknown_target, r"unknown target column\(s\) \['score'\]"),
    (_table_text_scores, r"column 'value' must be numeric"),
    (_table_nan_score, r"column 'value' has 1 NaN/infinite"),
    (_table_empty_file, r"s\.csv: cannot be read as csv"),
    (_olmes_metrics_not_object, r"no 'metrics' object"),
    (_detect_mixed_formats, r"holds results of several formats"),
]


@pytest.mark.parametrize("call, message", IMPORTER_ERRORS, ids=[c.__name__.strip("_") for c, _ in IMPORTER_ERRORS])
def test_importer_refuses_with_a_message(tmp_path, call, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=message):
            call(tmp_path)


# --------------------------------------------------------------------------- importers: counted, not lost

def _lm_nan_infinity_text(t):
    path = write(t / "run" / "r.json", '{"results": {"piqa": {"acc": NaN, "acc_norm": 0.6}, "arc": {"acc": Infinity, '
                                       '"f1": "0.7", "acc_norm": 0.5}}, "config": {"model_args": "pretrained=a/b"}}')
    return snrstat.read_lm_eval(path), 3


def _lm_foreign_skipped(t):
    results_json(t / "m" / "good.json", {"piqa": {"acc": 0.5}}, {"model_args": "pretrained=a/b"})
    write(t / "m" / "other.json", json.dumps({"metrics": {}}))
    return snrstat.read_lm_eval(t, on_error="skip"), 1


def _inspect_text_scores(t):
    from snrstat.io.inspect import read_inspect
    path = t / "log.eval"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps({"eval": {"task": "t", "model": "m"}, "status": "success"}))
        for i, v in enumerate(["C", "I", "maybe", [1, 2]]):
            z.writestr(f"samples/{i}_epoch_1.json", json.dumps({"id": i, "epoch": 1, "scores": {"s": {"value": v}}}))
    return read_inspect(path), 2


COUNTED = [(_lm_nan_infinity_text, r"r\.json: 3 score\(s\) are not finite numbers"),
           (_lm_foreign_skipped, r"skipped 1 file\(s\) .*other\.json"),
           (_inspect_text_scores, r"log\.eval: 2 score\(s\) are not numbers")]


@pytest.mark.parametrize("call, message", COUNTED, ids=[c.__name__.strip("_") for c, _ in COUNTED])
def test_dropped_scores_are_counted_in_a_warning_naming_the_file(tmp_path, call, message):
    with pytest.warns(UserWarning, match=message):
        frame, _ = call(tmp_path)
    assert len(frame) >= 1 and frame["value"].map(math.isfinite).all()


def test_identifiers_stay_text_everywhere(tmp_path, capsys):
    frame = tidy(seeds=("0", "00", "1", "01"))
    path = tmp_path / "seeds.csv"
    frame.to_csv(path, index=False)
    assert len(snrstat.read_table(path)) == len(frame) == 72
    code, out, _ = cli(["data", "--data", path, "--json"], capsys)
    summary = strict_json(out)[str(path)]
    assert code == 0 and summary["records"] == 72 and summary["runs"] == 12


def test_num_fewshot_is_kept_apart_or_refused_by_name(tmp_path, capsys):
    frame = pd.concat([tidy(num_fewshot=0), tidy(num_fewshot=5, seed=1)], ignore_index=True)
    checked = snrstat.validate(frame)
    assert len(checked) == len(frame)  # kept apart, not merged or refused as duplicates
    with pytest.raises(DataError, match="differ only in 'num_fewshot' \\(0, 5\\)"):
        snrstat.snr_table(checked)
    code, out, err = cli(["table", "--data", csv(tmp_path, frame), "--json"], capsys)
    assert code == 0 and "num_fewshot" in err
    assert {r["task"] for r in strict_json(out)["snr"]} == {"qa_0shot", "qa_5shot"}


# --------------------------------------------------------------------------- validate

VALIDATE = [
    (lambda f: f.drop(columns="value"), r"missing required column\(s\) \['value'\]"),
    (lambda f: f.iloc[:0], r"the frame has no records"),
    (lambda f: f.assign(step=-f["step"]), r"column 'step' has negative values"),
    (lambda f: f.assign(step=f["step"] + 0.5), r"column 'step' must be an integer"),
    (lambda f: pd.concat([f, f.iloc[:1].assign(value=0.9)]), r"appear more than once with different values"),
    (lambda f: f.assign(value=f["value"] + 1), r"proportions outside \[0, 1\]"),
    (lambda f: f.assign(n_items=0), r"column 'n_items' is 0"),
    (lambda f: f.assign(model=""), r"column 'model' is empty"),
    (lambda f: f.assign(value=np.inf), r"NaN/infinite score"),
    (lambda f: f.assign(step="late"), r"column 'step' must be an integer: got 'late'"),
    (lambda f: f.assign(params="big"), r"column 'params' must be numeric"),
]


@pytest.mark.parametrize("change, message", VALIDATE, ids=[m.split("'")[1] if "'" in m else m[:20] for _, m in VALIDATE])
def test_validate_refuses_with_column_and_values(change, message):
    with pytest.raises(DataError, match=message):
        snrstat.validate(change(tidy()))


# --------------------------------------------------------------------------- constant scores

def test_constant_scores_give_an_undefined_snr_never_the_best(tmp_path):
    from snrstat.point import UndefinedSNRWarning

    frame = pd.concat([tidy(task="frozen", value=1.0), tidy(task="alive")], ignore_index=True)
    with pytest.warns(UndefinedSNRWarning, match="constant"):
        table = snrstat.snr_table(frame)
    frozen = table.set_index("task").loc["frozen"]
    assert math.isnan(frozen["snr"]) and frozen["signal"] == 0 and frozen["noise"] == 0
    assert math.isfinite(table.set_index("task").loc["alive", "snr"])


def test_frozen_subject_is_left_out_of_subtask_selection_by_name():
    from snrstat.point import UndefinedSNRWarning

    parts = [tidy(task="mmlu", subtask=f"s{i}", seed=i) for i in range(3)]
    parts.append(tidy(task="mmlu", subtask="frozen_subject", value=0.25))
    frame = pd.concat(parts, ignore_index=True)
    with pytest.warns(UndefinedSNRWarning, match="frozen_subject"):
        sel = snrstat.subtask_selection(frame, task="mmlu")
    assert "frozen_subject" not in sel["subtasks"].iloc[-1] and len(sel) == 3


def test_all_subjects_frozen_is_an_error_naming_them():
    frame = pd.concat([tidy(task="mmlu", subtask=f"s{i}", value=0.5) for i in range(2)], ignore_index=True)
    with pytest.raises(DataError, match="every subtask of 'mmlu' has constant scores .*s0, s1"):
        snrstat.subtask_selection(frame, task="mmlu")


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_all_zero_or_all_one_is_undefined_not_huge(value):
    from snrstat.point import UndefinedSNRWarning

    with pytest.warns(UndefinedSNRWarning):
        result = snrstat.small_scale_snr(tidy(value=value if value else 1.0))
    assert math.isnan(result.snr)
    with pytest.raises(DataError, match="scores is 0"):
        snrstat.small_scale_snr(tidy(value=0.0))


# --------------------------------------------------------------------------- CLI: one line, exit 2

def _bad_data(t, kind):
    if kind == "missing":
        return t / "nope.csv"
    if kind == "empty":
        return write(t / "empty.csv", "")
    if kind == "header_only":
        return write(t / "h.csv", "task,metric,model,value\n")
    if kind == "corrupt_parquet":
        return write(t / "c.parquet", b"PAR1 this is not parquet")
    if kind == "empty_dir":
        (t / "d").mkdir()
        return t / "d"
    if kind == "bad_ladder":
        return write(t / "ladder" / "190M-1xC.csv", "_step,loss\n1,2\n").parent
    if kind == "binary":
        return write(t / "x.bin", b"\x00\x01")
    raise AssertionError(kind)


DATA_KINDS = ["missing", "empty", "header_only", "corrupt_parquet", "empty_dir", "bad_ladder", "binary"]
COMMANDS = [
    ["data"], ["table"], ["fit", "--task", "qa"], ["decide", "--task", "qa", "--fast"],
    ["select", "--task", "qa", "--fast"], ["scaling", "--task", "qa", "--fast"], ["report", "--fast"],
]


@pytest.mark.parametrize("kind", DATA_KINDS)
@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_reports_bad_data_in_one_line(tmp_path, capsys, command, kind):
    argv = command + ["--data", _bad_data(tmp_path, kind)]
    if command[0] == "report":
        argv += ["--out", tmp_path / "out"]
    code, out, err = cli(argv, capsys)
    assert code == 2, (out, err)
    lines = [line for line in err.strip().splitlines() if not line.startswith("snrstat: warning")]
    assert len(lines) == 1 and lines[0].startswith(f"snrstat {command[0]}: error: "), err


def test_output_paths_are_checked_before_any_sampling(tmp_path, capsys, monkeypatch):
    import snrstat.variance

    def never(*a, **k):
        raise AssertionError("sampled before checking the output path")
    monkeypatch.setattr(snrstat.variance, "fit_variance", never)
    data = csv(tmp_path, tidy())
    blocker = write(tmp_path / "file", "x")
    for argv, message in (
        (["fit", "--task", "qa", "--save", blocker / "fit.nc"], "its folder cannot be created"),
        (["fit", "--task", "qa", "--save", tmp_path], "is a directory"),
        (["report", "--out", blocker], "exists and is not a directory"),
    ):
        code, _, err = cli(argv + ["--data", data], capsys)
        assert code == 2 and message in err, err


@pytest.mark.parametrize("argv, message", [
    (["fit", "--task", "nope"], "--task 'nope' is not in the data; tasks: qa"),
    (["fit", "--task", "qa", "--metric", "bpb"], "--metric 'bpb' not recorded for task 'qa'; metrics: acc"),
    (["fit", "--task", "qa", "--size", "7B"], "--size '7B' not recorded"),
    (["decide", "--task", "nope", "--fast"], "--task 'nope' is not in the data"),
    (["select", "--task", "nope", "--fast"], "--task 'nope' is not in the data"),
    (["scaling", "--task", "qa", "--runs", "9B-1xC"], "--runs [('1xC', '9B', '0')] not in the data"),
    (["fit", "--task", "qa", "--models", "zz"], "--models ['zz'] not in the data"),
    (["fit", "--task", "qa", "--level", "1.5"], "--level must lie strictly between 0 and 1"),
])
def test_choices_are_listed_with_cli_flag_names(tmp_path, capsys, argv, message):
    code, _, err = cli(argv + ["--data", csv(tmp_path, tidy())], capsys)
    assert code == 2 and message in err, err


def test_several_sizes_ask_for_size_in_order(tmp_path, capsys):
    frame = tidy(sizes=(("1b", np.nan), ("70m", np.nan), ("1.4b", np.nan), ("160m", np.nan)))
    code, _, err = cli(["fit", "--task", "qa", "--data", csv(tmp_path, frame)], capsys)
    assert code == 2 and "sizes 70m, 160m, 1b, 1.4b; choose one with --size" in err


@pytest.mark.parametrize("command", [["fit", "--task", "qa", "--size", "1B"], ["decide", "--task", "qa", "--fast"]],
                         ids=["fit", "decide"])
@pytest.mark.parametrize("value", [0.0, 1.0])
def test_constant_scores_are_refused_before_sampling(tmp_path, capsys, command, value):
    frame = tidy(value=value, sizes=(("150M", 1.5e8), ("1B", 1e9)))
    code, _, err = cli(command + ["--data", csv(tmp_path, frame)], capsys)
    assert code == 2 and f"every score is {value:g}" in err and "undefined" in err


def test_unknown_likelihood_is_refused_and_alias_accepted(capsys):
    from snrstat.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["fit", "--task", "t", "--likelihood", "poisson"])
    assert exc.value.code == 2 and "choose from auto, logit_normal" in capsys.readouterr().err
    args = build_parser().parse_args(["fit", "--task", "t", "--likelihood", "beta_binomial"])
    assert args.likelihood == "betabinomial"


def test_likelihood_choices_are_the_models():
    from snrstat.commands._common import LIKELIHOODS
    from snrstat.variance.spec import LIKELIHOODS as MODEL_LIKELIHOODS

    assert LIKELIHOODS == tuple(MODEL_LIKELIHOODS)


@pytest.mark.parametrize("argv, dest, value", [
    (["fit", "--task", "t", "--seed", "3"], "random_seed", 3),
    (["decide", "--task", "t", "--seed", "3"], "random_seed", 3),
    (["decide", "--task", "t", "--window", "4"], "last_n", 4),
    (["decide", "--task", "t", "--seeds", "2"], "plan_seeds", 2),
    (["select", "--window", "4"], "last_n", 4),
    (["scaling", "--task", "t", "--checkpoints", "3"], "last_n", 3),
    (["report", "--seed", "3"], "random_seed", 3),
])
def test_deprecated_option_names_still_work_and_say_so(capsys, argv, dest, value):
    from snrstat.cli import build_parser

    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    assert "is deprecated" in capsys.readouterr().err


def test_last_n_defaults_to_five_everywhere():
    from snrstat.cli import build_parser

    for argv in (["fit", "--task", "t"], ["table"], ["decide", "--task", "t"], ["select"], ["report"]):
        assert build_parser().parse_args(argv).last_n == 5, argv


def test_ctrl_c_exits_130_and_saves_nothing(tmp_path, capsys, monkeypatch):
    import snrstat.variance

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(snrstat.variance, "fit_variance", interrupted)
    out_nc = tmp_path / "fit.nc"
    code, out, err = cli(["fit", "--task", "qa", "--data", csv(tmp_path, tidy()), "--save", out_nc], capsys)
    assert code == 130 and "interrupted" in err and "nothing was saved" in err
    assert not out_nc.exists() and not out_nc.with_suffix(".json").exists()


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    import snrstat.variance

    def broken(*a, **k):
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setattr(snrstat.variance, "fit_variance", broken)
    argv = ["fit", "--task", "qa", "--data", str(csv(tmp_path, tidy()))]
    code, _, err = cli(argv, capsys)
    assert code == 2 and err.strip().endswith("RuntimeError: boom second line (run with --debug for the traceback)")
    assert main(argv + ["--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


# --------------------------------------------------------------------------- markup and JSON

MARKUP = ["[/]", "[red]", "a[b]c", "<script>x</script>", "[bold]x[/bold]"]


@pytest.mark.parametrize("name", MARKUP)
def test_markup_in_names_is_printed_not_interpreted(tmp_path, capsys, name):
    frame = tidy(task=name)
    frame["model"] = frame["model"] + name
    code, out, _ = cli(["table", "--data", csv(tmp_path, frame)], capsys)
    assert code == 0 and name in out
    code, out, _ = cli(["data", "--data", csv(tmp_path, frame)], capsys)
    assert code == 0 and name in out


def test_markdown_report_escapes_html():
    from snrstat.report.document import Document, Section

    doc = Document("r", intro="<b>x</b>")
    doc.add(Section("s", text="<script>alert(1)</script>",
                    tables=[("", pd.DataFrame({"task": ["<img src=x>", "a|b"], "v": [1.0, 2.0]}).set_index("task"))]))
    md = doc._markdown()
    assert "<script>" not in md and "<img" not in md and "&lt;script&gt;" in md and "a\\|b" in md


@pytest.mark.parametrize("argv", [["table", "--json"], ["data", "--json"]])
def test_json_output_is_strict_even_with_undefined_numbers(tmp_path, capsys, argv):
    frame = pd.concat([tidy(task="frozen", value=0.5), tidy(task="ok")], ignore_index=True)
    code, out, _ = cli(argv + ["--data", csv(tmp_path, frame)], capsys)
    assert code == 0
    data = strict_json(out)
    if argv[0] == "table":
        frozen = next(r for r in data["snr"] if r["task"] == "frozen")
        assert frozen["snr"] is None and "constant scores" in frozen["snr_undefined"]


def test_select_json_is_strict(tmp_path, capsys):
    parts = [tidy(task="suite", subtask=f"s{i}", seed=i, n_models=4) for i in range(3)]
    parts.append(tidy(task="suite", subtask="frozen", value=0.3, n_models=4))
    code, out, err = cli(["select", "--data", csv(tmp_path, pd.concat(parts, ignore_index=True)), "--task", "suite",
                          "--fast", "--json"], capsys)
    assert code == 0, err
    data = strict_json(out)
    assert data["excluded_constant"] == ["frozen"] and "frozen" in err


def test_repeated_warnings_are_shown_once_without_source_lines(tmp_path, capsys):
    for i in range(3):
        write(tmp_path / "run" / f"r{i}_step{i}.json",
              '{"results": {"piqa": {"acc": 0.5, "f1": NaN}}, "config": {"model_args": "pretrained=a/b"}}')
    code, _, err = cli(["data", "--data", tmp_path / "run"], capsys)
    assert code == 0
    warning_lines = [line for line in err.splitlines() if line.startswith("snrstat: warning")]
    assert len(warning_lines) == 3 and all("f1=nan" in line for line in warning_lines)
    assert "warnings.warn" not in err and "stacklevel" not in err


def test_models_lists_a_corrupt_saved_fit_instead_of_crashing(tmp_path, capsys, monkeypatch):
    write(tmp_path / "set" / "t" / "acc" / "1B.nc", b"\x89HDF\r\n truncated")
    monkeypatch.setenv("SNRSTAT_MODELS", str(tmp_path))
    code, out, err = cli(["models", "--json"], capsys)
    assert code == 0, err
    row = strict_json(out)[0]
    assert row["kind"] == "unreadable" and row["ok"] is False
    code, out, _ = cli(["models"], capsys)
    assert code == 0 and "unreadable file" in out


# --------------------------------------------------------------------------- saving and loading

@pytest.fixture(scope="module")
def small_fit():
    frame, _ = snrstat.simulate(n_models=4, n_seeds=2, n_ckpt=4, sigma_model=0.4, random_seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a deliberately short run: its diagnostics are not the subject
        return snrstat.fit_variance(frame, task="sim", draws=100, tune=100, chains=2, progress=False, random_seed=0)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_load_of_a_damaged_fit_is_a_clear_error(small_fit, tmp_path, damage):
    path = tmp_path / "fit.nc"
    small_fit.save(path)
    raw = path.read_bytes()
    path.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"not a fit", "empty": b""}[damage])
    with pytest.raises(DataError, match="fit\\.nc"):
        snrstat.load_fit(path)


def test_load_of_a_missing_fit_is_a_clear_error(tmp_path):
    with pytest.raises((DataError, FileNotFoundError), match="nope"):
        snrstat.load_fit(tmp_path / "nope.nc")


def test_save_to_an_unwritable_place_leaves_nothing(small_fit, tmp_path):
    blocker = write(tmp_path / "file", "x")
    with pytest.raises((OSError, DataError)):
        small_fit.save(blocker / "fit.nc")
    assert blocker.read_text() == "x"


def test_concurrent_saves_leave_one_complete_consistent_fit(small_fit, tmp_path):
    path = tmp_path / "fit.nc"
    errors = []

    def save():
        try:
            small_fit.save(path)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=save) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    loaded = snrstat.load_fit(path)
    assert loaded.summary().loc["snr", "median"] == pytest.approx(small_fit.summary().loc["snr", "median"])
    assert not [p for p in tmp_path.iterdir() if p.name not in ("fit.nc", "fit.json")]
