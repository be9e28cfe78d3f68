import json
import math
import shutil

import pandas as pd
import pytest

import snrstat
from snrstat.io._common import n_items_from_stderr
from snrstat.schema import DataError

RUN04 = "EleutherAI__pythia-160m"
DATE = "2024-06-03T10-15-30.123456"


def raw_results(path):
    return json.loads(path.read_text())["results"]


def one(frame, **where):
    mask = pd.Series(True, index=frame.index)
    for col, value in where.items():
        mask &= frame[col].isna() if value is None else frame[col] == value
    rows = frame[mask]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# --- n_items from a proportion and its standard error -------------------------------------

def test_n_items_from_stderr_recovers_known_benchmark_size():
    # MMLU abstract_algebra has 100 questions; pythia-160m scored 0.23 with this stderr.
    assert n_items_from_stderr(0.23, 0.042295258468165065) == 100
    # The harness uses the ddof=1 sample std: se = sqrt(p (1 - p) / (n - 1)).
    for n, p in [(5, 0.6), (2376, 0.4381), (10042, 0.25)]:
        assert n_items_from_stderr(p, math.sqrt(p * (1 - p) / (n - 1))) == n


@pytest.mark.parametrize("value, stderr", [
    (0.0, 0.01), (1.0, 0.01), (0.5, 0.0), (0.5, None), ("N/A", 0.1), (0.5, "N/A"),
])
def test_n_items_from_stderr_is_undefined_at_the_edges(value, stderr):
    assert n_items_from_stderr(value, stderr) is None


# --- the older harness format (real Pythia files) ------------------------------------------

def test_old_format_real_pythia_files(fixtures):
    folder = fixtures / "lm_eval_old"
    frame = snrstat.read_lm_eval(folder)
    assert set(frame["model"]) == {"EleutherAI/pythia-v1.1-160m"}
    assert set(frame["step"]) == {63000, 143000}
    zero = frame[frame["num_fewshot"] == 0]
    five = frame[frame["num_fewshot"] == 5]
    assert set(zero["step"]) == {63000, 143000} and set(five["step"]) == {143000}
    assert str(frame["num_fewshot"].dtype) == "Int64"

    raw = raw_results(folder / "pythia-160m" / "zero-shot" / "160m_step63000.json")
    rec = one(zero, task="piqa", metric="acc", step=63000)
    assert rec["value"] == raw["piqa"]["acc"] and rec["stderr"] == raw["piqa"]["acc_stderr"]
    rec = one(zero, task="mmlu", subtask="abstract_algebra", metric="acc_norm", step=63000)
    assert rec["value"] == raw["hendrycksTest-abstract_algebra"]["acc_norm"]

    # Benchmark sizes implied by the stderrs are the public test-set sizes.
    sizes = {"arc_easy": 2376, "arc_challenge": 1172, "piqa": 1838, "sciq": 1000, "winogrande": 1267,
             "wsc": 104, "logiqa": 651, "lambada_openai": 5153}
    for task, n in sizes.items():
        assert set(zero.loc[zero["task"] == task, "n_items"]) == {n}, task
    # ppl has no proportion of its own; it shares the task's size.
    assert one(zero, task="lambada_openai", metric="ppl", step=63000)["n_items"] == 5153
    mmlu = zero[(zero["task"] == "mmlu") & (zero["metric"] == "acc") & (zero["step"] == 143000)]
    assert mmlu["subtask"].nunique() == 57 and mmlu["n_items"].sum() == 14042


def test_old_format_step_from_file_name_when_no_revision(tmp_path):
    data = {"results": {"piqa": {"acc": 0.6, "acc_stderr": 0.0114, "note": "N/A"}},
            "config": {"model_args": "pretrained=my-org/tiny", "num_fewshot": 0}}
    (tmp_path / "tiny_step512.json").write_text(json.dumps(data))
    frame = snrstat.read_lm_eval(tmp_path / "tiny_step512.json")
    assert frame["metric"].tolist() == ["acc"]  # the string "N/A" is skipped
    assert frame["step"].tolist() == [512] and frame["model"].tolist() == ["my-org/tiny"]


def test_overrides_replace_file_identifiers(fixtures):
    frame = snrstat.read_lm_eval(fixtures / "lm_eval_old", model="pile", size="160m", seed="1")
    assert set(frame["model"]) == {"pile"} and set(frame["size"]) == {"160m"}
    assert set(frame["seed"]) == {"1"} and set(frame["step"]) == {63000, 143000}
    five = snrstat.read_lm_eval(fixtures / "lm_eval_old" / "pythia-160m" / "five-shot", step=7)
    assert set(five["step"]) == {7}


# --- v0.4 results, groups and samples -------------------------------------------------------

def test_v04_metric_names_groups_and_counts(fixtures):
    frame = snrstat.read_lm_eval(fixtures / "lm_eval_04")
    run = frame[frame["model"] == "EleutherAI/pythia-160m"]
    assert set(run["step"]) == {100000}
    assert set(run.loc[run["task"] == "arc_easy", "metric"]) == {"acc", "acc_norm"}
    gsm8k = set(run.loc[run["task"] == "gsm8k", "metric"])
    assert gsm8k == {"exact_match,strict-match", "exact_match,flexible-extract"}
    assert one(run, task="gsm8k", metric="exact_match,flexible-extract")["value"] == pytest.approx(0.6)
    assert one(run, task="gsm8k", metric="exact_match,strict-match")["num_fewshot"] == 5
    # Leaves of mmlu -> mmlu_stem/mmlu_humanities become mmlu/<subject>; group rows are dropped.
    mmlu = run[run["task"] == "mmlu"]
    assert set(mmlu["subtask"]) == {"abstract_algebra", "anatomy", "formal_logic"}
    assert not run["task"].str.startswith("mmlu_").any()
    # n_items = n-samples effective (run with --limit 5), not the original size.
    assert set(run["n_items"]) == {5}
    raw = raw_results(fixtures / "lm_eval_04" / RUN04 / f"results_{DATE}.json")
    rec = one(run, task="arc_easy", metric="acc_norm")
    assert rec["value"] == raw["arc_easy"]["acc_norm,none"]
    assert rec["stderr"] == raw["arc_easy"]["acc_norm_stderr,none"]

    # A results file with model_args as a dict and no n-samples: size from the stderr.
    olmo = frame[frame["model"] == "allenai/OLMo-1B-hf"]
    assert set(olmo["step"]) == {20000} and set(olmo["num_fewshot"]) == {10}
    assert set(olmo["n_items"]) == {10042}


def test_v04_group_rows_kept_on_request(fixtures):
    frame = snrstat.read_lm_eval(fixtures / "lm_eval_04", groups=True)
    groups = frame[frame["subtask"].isna() & frame["task"].str.startswith("mmlu")].set_index("task")
    assert set(groups.index) == {"mmlu", "mmlu_stem", "mmlu_humanities"}
    assert groups.loc["mmlu", "value"] == pytest.approx(0.4)
    assert pd.isna(groups.loc["mmlu_humanities", "stderr"])  # "N/A" in the file
    # Group size = items of its leaves (5 each), never a pooled-stderr estimate.
    assert groups["n_items"].to_dict() == {"mmlu": 15, "mmlu_stem": 10, "mmlu_humanities": 5}


def test_v04_samples_become_item_records(fixtures):
    frame = snrstat.read_lm_eval(fixtures / "lm_eval_04", samples=True)
    items = frame[frame["item"].notna()]
    scores = frame[frame["item"].isna()]
    assert set(items["n_items"]) == {1}
    assert set(items["item"]) == {"0", "1", "2", "3", "4"}
    assert set(items["model"]) == {"EleutherAI/pythia-160m"} and set(items["step"]) == {100000}
    # The mean over items reproduces each aggregate score, per metric and filter.
    means = items.groupby(["task", "subtask", "metric"], dropna=False)["value"].mean()
    assert len(means) == 5
    for (task, subtask, metric), mean in means.items():
        agg = one(scores, task=task, subtask=None if pd.isna(subtask) else subtask, metric=metric)
        assert mean == pytest.approx(agg["value"]), (task, metric)
    # Item records take their labels from the results file of the same run.
    anatomy = items[items["subtask"] == "anatomy"]
    assert set(anatomy["task"]) == {"mmlu"} and set(anatomy["num_fewshot"]) == {0}
    assert set(items.loc[items["task"] == "gsm8k", "num_fewshot"]) == {5}


def test_single_results_file_reads_only_its_own_samples(fixtures, tmp_path):
    src = fixtures / "lm_eval_04" / RUN04
    shutil.copytree(src, tmp_path / "run")
    other = tmp_path / "run" / "samples_arc_easy_2024-07-01T00-00-00.000001.jsonl"
    other.write_text('{"doc_id": 9, "acc": 1.0}\n')
    frame = snrstat.read_lm_eval(tmp_path / "run" / f"results_{DATE}.json", samples=True)
    assert "9" not in set(frame["item"].dropna())
    assert frame["item"].notna().sum() == 5 * 2 + 5 + 10


def test_samples_file_alone_needs_a_model(fixtures):
    path = fixtures / "lm_eval_04" / RUN04 / f"samples_arc_easy_{DATE}.jsonl"
    with pytest.raises(DataError, match=r"samples_arc_easy_.*\.jsonl: the file does not name the model; pass model="):
        snrstat.read_lm_eval(path)
    frame = snrstat.read_lm_eval(path, model="pythia-160m", step=100000)
    assert set(frame["task"]) == {"arc_easy"} and len(frame) == 10


# --- errors say what and where ---------------------------------------------------------------

def test_not_json_names_the_file(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"results\.json: not valid JSON"):
        snrstat.read_lm_eval(bad)


def test_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no lm-evaluation-harness .json result files"):
        snrstat.read_lm_eval(tmp_path)


def test_json_without_results_names_the_file(tmp_path):
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"config": {}}))
    with pytest.raises(DataError, match=r"other\.json: no 'results' object"):
        snrstat.read_lm_eval(tmp_path)


def test_bad_sample_line_names_file_and_line(fixtures, tmp_path):
    shutil.copytree(fixtures / "lm_eval_04" / RUN04, tmp_path / "run")
    path = tmp_path / "run" / f"samples_arc_easy_{DATE}.jsonl"
    path.write_text(path.read_text() + "{truncated\n")
    with pytest.raises(DataError, match=rf"samples_arc_easy_{DATE}\.jsonl:6: not valid JSON"):
        snrstat.read_lm_eval(tmp_path / "run", samples=True)


def test_conflicting_files_are_named(tmp_path):
    for name, acc in (("a_step10.json", 0.5), ("b_step10.json", 0.6)):
        data = {"results": {"piqa": {"acc": acc}}, "config": {"model_args": "pretrained=m"}}
        (tmp_path / name).write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"different values in .*a_step10\.json.*b_step10\.json"):
        snrstat.read_lm_eval(tmp_path)


def test_full_pythia_folder(shared_data):
    frame = snrstat.read_lm_eval(shared_data / "pythia-evals" / "pythia-410m" / "zero-shot")
    assert frame["step"].nunique() == 27
    mmlu = frame[(frame["task"] == "mmlu") & (frame["metric"] == "acc")]
    assert mmlu["subtask"].nunique() == 57
    # One benchmark size per (task, subtask) across all checkpoints.
    assert (frame.groupby(["task", "subtask"], dropna=False)["n_items"].nunique() <= 1).all()


# --- every vintage, whole directory trees, the model from the path -------------------------

def test_real_v03_and_v04_files_in_one_tree(fixtures):
    frame = snrstat.read_lm_eval(fixtures / "lm_eval_vintages")
    runs = frame.groupby(["model", "size"]).size().to_dict()
    assert runs == {("SmerkyG/RWKV7-Goose-0.1B-Pile-HF", "0.1B"): 2, ("bigscience/bloom-1b1", "1b1"): 6,
                    ("bigscience/bloom-560m", "560m"): 6}
    rwkv = one(frame, model="SmerkyG/RWKV7-Goose-0.1B-Pile-HF", metric="acc")
    assert rwkv["value"] == pytest.approx(0.4577915777217155) and rwkv["n_items"] == 5153
    assert snrstat.schema.size_order(frame["size"].unique()) == ["0.1B", "560m", "1b1"]


def test_oldest_layout_and_results_list_take_the_model_from_the_path(tmp_path):
    # the oldest harness wrote only results and versions; some tools write results as a list
    old = tmp_path / "out" / "mylab__tiny-70m" / "zero-shot" / "step2000.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"results": {"piqa": {"acc": 0.6, "acc_stderr": 0.01}}, "versions": {"piqa": 0}}))
    listed = tmp_path / "out" / "other-1.4b" / "results_step3000.json"
    listed.parent.mkdir(parents=True)
    listed.write_text(json.dumps({"results": [{"task": "piqa", "acc": 0.7}, ["arc_easy", {"acc": 0.5}]],
                                  "config": {"model": "hf-causal", "model_args": "pretrained=/scratch/ckpts/step3000"}}))
    frame = snrstat.read_lm_eval(tmp_path / "out")
    got = frame.set_index(["model", "task"])[["size", "step", "value"]].sort_index()
    assert got.loc[("mylab/tiny-70m", "piqa")].tolist() == ["70m", 2000, 0.6]
    # pretrained= a local path: its last component that names a model ("ckpts"), size from the folder
    assert got.loc[("ckpts", "piqa")].tolist() == ["1.4b", 3000, 0.7]
    assert got.loc[("ckpts", "arc_easy")].tolist() == ["1.4b", 3000, 0.5]


def test_identifiers_from_callables_and_a_path_pattern(tmp_path):
    for model, size, step in (("mixA", "150M", 100), ("mixB", "150M", 100), ("mixA", "1B", 200)):
        path = tmp_path / model / size / f"step{step}" / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"results": {"piqa": {"acc": 0.5 + step / 1000}}, "config": {"model": "hf"}}))
    frame = snrstat.read_lm_eval(tmp_path, path_pattern="{model}/{size}/step{step}")
    assert sorted(map(tuple, frame[["model", "size", "step"]].astype(str).values.tolist())) == [
        ("mixA", "150M", "100"), ("mixA", "1B", "200"), ("mixB", "150M", "100")]
    regex = snrstat.read_lm_eval(tmp_path, path_pattern=r"(?P<model>mix\w)/(?P<size>[^/]+)/step(?P<step>\d+)",
                                 seed=lambda p: "7")
    assert set(regex["seed"]) == {"7"} and regex["step"].tolist() == frame["step"].tolist()
    named = snrstat.read_lm_eval(tmp_path, model=lambda p: p.parts[-4].lower(), size="x",
                                 step=lambda p: int(p.parts[-2][4:]))
    assert set(named["model"]) == {"mixa", "mixb"} and set(named["size"]) == {"x"}


def test_foreign_files_are_skipped_with_one_warning(fixtures, tmp_path):
    shutil.copytree(fixtures / "lm_eval_vintages", tmp_path / "tree")
    (tmp_path / "tree" / "v03" / "notes.json").write_text(json.dumps({"comment": "not results"}))
    (tmp_path / "tree" / "v03" / "broken.json").write_text("{")
    with pytest.warns(UserWarning, match=r"skipped 2 file\(s\).*broken\.json: not valid JSON.*notes\.json: no 'results'"):
        frame = snrstat.read_lm_eval(tmp_path / "tree", on_error="skip")
    assert len(frame) == 14


def test_same_checkpoint_at_two_shot_counts_stays_apart(tmp_path):
    for shots in (0, 5):
        path = tmp_path / f"{shots}shot" / "r.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"results": {"piqa": {"acc": 0.5 + shots / 100}},
                                    "config": {"model_args": "pretrained=org/m-1b,revision=step10", "num_fewshot": shots}}))
    frame = snrstat.read_lm_eval(tmp_path)
    assert sorted(frame["num_fewshot"].tolist()) == [0, 5] and frame["size"].tolist() == ["1b", "1b"]
