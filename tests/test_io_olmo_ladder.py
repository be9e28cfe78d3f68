import pandas as pd
import pytest

import snrstat
from snrstat.io.olmo_ladder import LADDER_PARAMS, read_wandb_csv
from snrstat.schema import DataError


def test_ladder_files_parse_names_metrics_and_tokens(fixtures):
    frame = snrstat.read_olmo_ladder(fixtures / "olmo_ladder")
    ladder = frame[frame["size"] == "190M"]
    assert set(ladder["model"]) == {"1xC"}
    assert set(ladder["seed"]) == {"0", "1"}  # original and -rerun replicate
    assert (ladder["params"] == LADDER_PARAMS["190M"]).all()
    assert {"len_norm", "acc", "bpb", "soft", "soft_log"} <= set(frame["metric"])
    assert set(frame.loc[frame["metric"] == "acc", "task"]) == {"boolq_val"}
    raw = pd.read_csv(fixtures / "olmo_ladder" / "190M-1xC.csv")
    last = raw.iloc[-1]
    rec = ladder[(ladder.seed == "0") & (ladder.task == "arc_easy_test") & (ladder.metric == "len_norm")
                 & (ladder.step == int(last["_step"]))]
    assert rec["value"].item() == pytest.approx(last["eval/downstream/arc_easy_test_rc_5shot_len_norm"])
    assert rec["tokens"].item() == pytest.approx(last["throughput/total_tokens"])


def test_target_runs_get_tokens_from_steps(fixtures):
    frame = snrstat.read_olmo_ladder(fixtures / "olmo_ladder")
    anneal = frame[frame["model"] == "peteish7-anneal"]
    assert anneal["size"].unique().tolist() == ["7B"]
    # no _step column: step = tokens / 4,194,304 tokens per step
    assert anneal["step"].iloc[0] == round(3945065873408 / 4_194_304)
    one = frame[frame["model"] == "peteish1"]
    assert one["params"].isna().all() and one["step"].iloc[0] == 1907359


def test_full_directory_counts(shared_data):
    frame = snrstat.read_olmo_ladder(shared_data / "olmo-ladder")
    runs = frame.groupby(["model", "size", "seed"]).ngroups
    assert runs == 25 + 5 + 5  # 25 ladder runs, 5 reruns, 5 target runs
    assert frame["task"].nunique() == 20


def test_unknown_file_name_is_one_run_named_by_its_stem(tmp_path):
    bad = tmp_path / "OLMo-7B-anneal.csv"
    bad.write_text("_step,eval/downstream/arc_easy_val_rc_5shot_len_norm\n1,0.5\n")
    frame = snrstat.read_olmo_ladder(bad)
    assert frame[["model", "size"]].drop_duplicates().values.tolist() == [["OLMo-7B-anneal", "7B"]]
    out = read_wandb_csv(bad, model="m")
    assert out["value"].tolist() == [0.5]


def test_file_without_eval_columns_is_explained(tmp_path):
    bad = tmp_path / "190M-1xC.csv"
    bad.write_text("_step,loss\n1,3.0\n")
    with pytest.raises(DataError, match="190M-1xC.csv: no evaluation columns"):
        snrstat.read_olmo_ladder(bad)


def test_missing_path():
    with pytest.raises(FileNotFoundError):
        snrstat.read_olmo_ladder("/nonexistent/dir")


# --- every vintage of the wandb export -------------------------------------------------------

def test_columns_without_split_and_with_doubled_suffixes(tmp_path):
    path = tmp_path / "370M-2xC.csv"
    path.write_text(
        "_step,throughput/total_tokens,eval/downstream/hellaswag_rc_5shot_len_norm,"
        "eval/downstream_bpb/hellaswag_rc_5shot_bpb_bpb,eval/downstream_bpb/piqa_val_rc_5shot_bpb,"
        "eval/downstream_bpb/piqa_val_rc_5shot_bpb_bpb\n"
        "100,4e8,0.31,1.9,1.2,1.2\n200,8e8,0.33,1.8,1.1,1.1\n")
    frame = snrstat.read_olmo_ladder(path)
    got = frame.set_index(["task", "metric", "step"])["value"]
    assert got[("hellaswag", "len_norm", 200)] == 0.33 and got[("hellaswag", "bpb", 100)] == 1.9
    assert got[("piqa_val", "bpb", 200)] == 1.1 and len(frame) == 6
    assert set(frame["model"]) == {"2xC"} and set(frame["size"]) == {"370M"}


def test_tokens_only_gives_steps_from_the_batch_size(tmp_path):
    path = tmp_path / "peteish7_anneal.csv"
    per_step = 4_194_304
    path.write_text("throughput/total_tokens,eval/downstream/arc_easy_val_rc_5shot_len_norm\n"
                    f"{1000 * per_step},0.7\n{1500 * per_step},0.72\n")
    frame = snrstat.read_olmo_ladder(path)
    assert frame["model"].unique().tolist() == ["peteish7-anneal"] and frame["step"].tolist() == [1000, 1500]
    other = tmp_path / "my-run-1B.csv"  # no known tokens per step: the gcd of the token counts
    other.write_text("throughput/total_tokens,eval/downstream/arc_easy_val_rc_5shot_len_norm\n3000,0.5\n5000,0.6\n")
    frame = snrstat.read_olmo_ladder(other)
    assert frame["step"].tolist() == [3, 5] and frame["tokens"].tolist() == [3000, 5000]
    assert frame[["model", "size"]].drop_duplicates().values.tolist() == [["my-run-1B", "1B"]]


@pytest.mark.parametrize("stem, model, size", [
    ("peteish13-highlr_eval_final", "peteish13-highlr", "13B"),
    ("peteish7_medlr_eval_anneal", "peteish7-medlr-anneal", "7B"),
    ("peteish7-anneal", "peteish7-anneal", "7B"),
    ("peteish1_eval_full", "peteish1", "1B"),
])
def test_target_and_anneal_file_names(tmp_path, stem, model, size):
    path = tmp_path / f"{stem}.csv"
    path.write_text("_step,eval/downstream/arc_easy_val_rc_5shot_len_norm\n10,0.5\n")
    frame = snrstat.read_olmo_ladder(path)
    assert frame[["model", "size"]].drop_duplicates().values.tolist() == [[model, size]]


def test_a_ladder_folder_with_foreign_csvs(tmp_path, fixtures):
    import shutil
    import warnings

    for f in (fixtures / "olmo_ladder").glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="notes.csv: no evaluation columns"):
        snrstat.read_olmo_ladder(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 1 CSV file\(s\).*notes\.csv"):
        frame = snrstat.read_olmo_ladder(tmp_path, on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(frame) == len(snrstat.read_olmo_ladder(fixtures / "olmo_ladder"))
