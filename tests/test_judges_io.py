"""read_judgments: the tidy judgment table at the door, and the bundled LLMBar judgments."""

import pandas as pd
import pytest

import snrstat
from snrstat.io.judgments import JUDGMENT_COLUMNS, read_judgments
from snrstat.schema import DataError


def _rows(**extra):
    base = {"item": ["a", "a", "b", "b"], "judge": ["J"] * 4, "swap": [False, True, False, True],
            "winner": [1, 2, 2, 2], "label": [1, 1, 2, 2]}
    base.update(extra)
    return pd.DataFrame(base)


def test_defaults_and_types():
    f = read_judgments(_rows())
    assert list(f.columns) == list(JUDGMENT_COLUMNS)
    assert set(f["subset"]) == {"all"} and set(f["strategy"]) == {"default"} and set(f["mode"]) == {"pairwise"}
    assert f["repeat"].tolist() == [0, 0, 0, 0] and f["swap"].dtype == bool
    assert f["winner"].tolist() == [1, 2, 2, 2]


def test_aliases_and_files(tmp_path):
    raw = _rows().rename(columns={"winner": "verdict", "label": "gold"})
    raw["order"] = ["original", "swapped", "original", "swapped"]
    raw = raw.drop(columns="swap")
    path = tmp_path / "j.csv"
    raw.to_csv(path, index=False)
    f = read_judgments(path)
    assert f["swap"].tolist() == [False, True, False, True] and f["label"].tolist() == [1, 1, 2, 2]
    raw.to_parquet(tmp_path / "j.parquet")
    assert read_judgments(tmp_path / "j.parquet").equals(f)


def test_rating_rows_get_winner_with_ties_to_the_answer_shown_second():
    raw = pd.DataFrame({"item": ["a", "a", "b", "b"], "judge": "J", "strategy": "Rating",
                        "swap": [False, True, False, True], "score_1": [7, 7, 3, 3], "score_2": [7, 7, 9, 9]})
    f = read_judgments(raw)
    assert set(f["mode"]) == {"rating"}
    # tie: answer 2 is shown second in the original order, answer 1 when swapped
    assert f["winner"].tolist() == [2, 1, 2, 2]


@pytest.mark.parametrize("raw, match", [
    (_rows().drop(columns="judge"), r"required column\(s\) \['judge'\]"),
    (_rows(winner=[1, 3, 2, 2]), r"column 'winner' must be 1 or 2.*'3'"),
    (_rows(swap=["x", "y", "x", "y"]), r"column 'swap'.*'x'"),
    (_rows(swap=[False, False, True, True]), r"share \(judge, strategy, subset, item, swap, repeat\)"),
    (_rows(label=[1, 2, 2, 2]), r"column 'label' differs between rows of the same item"),
    (_rows(repeat=[0, -1, 0, 0]), r"column 'repeat' must hold integers >= 0"),
    (_rows(mode=["pairwise"] * 4, score_1=[1, 2, 3, 4], score_2=[1, 2, 3, 4]), r"pairwise row\(s\) carry scores"),
    (_rows(item=["a", None, "b", "b"]), r"column 'item' is empty"),
])
def test_errors_name_column_and_value(raw, match):
    with pytest.raises(DataError, match=match):
        read_judgments(raw)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        read_judgments("/no/such/judgments.csv")


def test_bundled_llmbar():
    f = snrstat.load_dataset("llmbar")
    assert len(f) == 88_912
    assert f["judge"].nunique() == 6 and f["strategy"].nunique() == 15 and f["item"].nunique() == 1200
    assert set(f.loc[f["strategy"].str.startswith("Rating"), "mode"]) == {"rating"}
    assert f["winner"].isna().sum() == 348
    info = snrstat.list_datasets().loc["llmbar"]
    assert "MIT" in info["licence"] and "princeton-nlp/LLMBar" in info["source"]
    from pathlib import Path
    licence = Path(snrstat.__file__).parent / "data" / "LICENSE-llmbar"
    assert "Zeng et al. 2024" in licence.read_text() and "MIT License" in licence.read_text()
