import numpy as np
import pandas as pd
import pytest

import snrstat
from snrstat.io.items import read_item_matrix
from snrstat.schema import DataError


def wide():
    return pd.DataFrame({"question_id": [1, 2, 3, 1], "category": ["math", "math", "law", "law"],
                         "src": ["a", "b", "c", "d"], "m1": [1, 0, 1, 1], "m2": [0, np.nan, 1, 0]})


def test_matrix_becomes_tidy_item_records(tmp_path):
    out = read_item_matrix(wide(), keep=["src"], task="qa")
    assert len(out) == 7  # one empty cell dropped
    assert set(out["value"]) == {0.0, 1.0} and (out["n_items"] == 1).all()
    assert out["item"].tolist()[:4] == ["1", "2", "3", "1"]
    m2 = out[out["model"] == "m2"].set_index(["subtask", "item"])["value"]
    assert m2.loc[("law", "3")] == 1.0 and ("math", "2") not in m2.index
    path = tmp_path / "m.csv.gz"
    wide().to_csv(path, index=False)
    again = read_item_matrix(path, keep=["src"], task="qa")
    pd.testing.assert_frame_equal(out, again)


def test_bad_matrices_are_refused_with_the_column_named():
    with pytest.raises(DataError, match="model column 'm1' must hold 0/1"):
        read_item_matrix(wide().assign(m1=[1, 2, 0, 1]), keep=["src"])
    with pytest.raises(DataError, match="model column 'src' must hold 0/1"):
        read_item_matrix(wide())  # a text column not declared in keep= is read as a model
    with pytest.raises(DataError, match="repeats item"):
        read_item_matrix(wide().assign(category="math"), keep=["src"])
    with pytest.raises(DataError, match=r"column\(s\) \['cat'\] not found"):
        read_item_matrix(wide(), subtask="cat")
    with pytest.raises(DataError, match="model column"):
        read_item_matrix(wide(), models=["m3"])
    assert len(read_item_matrix(wide().assign(m1=[True, False, True, True]), models=["m1"])) == 4


def test_bundled_mmlu_pro():
    frame = snrstat.load_dataset("mmlu-pro")
    assert frame["model"].nunique() == 29 and frame["item"].nunique() == 12032
    assert frame["subtask"].nunique() == 14 and set(frame["value"].unique()) == {0.0, 1.0}
    acc = frame.groupby("model")["value"].mean()
    assert acc["Llama-2-7b-hf"] == pytest.approx(0.1834, abs=1e-3)
    assert acc["gemini-1.5-pro-002"] == pytest.approx(0.7025, abs=1e-3)
    assert "mmlu-pro" in snrstat.list_datasets().index
    from snrstat.items import item_design, item_spec

    design = item_design(frame)
    assert design.fingerprint()["cells"] == len(frame)
    spec = item_spec(design, n_options=10)
    assert spec.guess == pytest.approx(0.1) and spec.interaction and spec.centred_interaction
    assert not spec.run and len(spec.dropped) == 2
    assert spec.centred_items  # 29 answers per item: the data, not the prior, place each difficulty


def test_bundled_tau_bench_repeats_are_cells_of_one_model():
    frame = snrstat.load_dataset("tau-bench")
    assert len(frame) == 200 and frame["item"].nunique() == 50 and frame["epoch"].nunique() == 4
    assert frame["value"].mean() == pytest.approx(0.42)
    from snrstat.items import item_design, item_spec

    design = item_design(frame)
    fp = design.fingerprint()
    assert fp["models"] == 1 and fp["cells"] == 50 and fp["answers"] == 200
    assert not item_spec(design).centred_items  # 4 answers per item: non-centred
