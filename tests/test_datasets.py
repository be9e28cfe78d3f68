import json
from pathlib import Path

import pytest

import snrstat
from snrstat.cli import main
from snrstat.datasets import DATASETS
from snrstat.schema import DataError

DATA_DIR = Path(snrstat.__file__).parent / "data"


SCORE_SETS = sorted(n for n, info in DATASETS.items() if info.reader == "snrstat.schema:validate")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_bundled_sets_load_validated(name):
    frame = snrstat.load_dataset(name)
    assert len(frame) >= 200
    if name in SCORE_SETS:
        assert frame["model"].nunique() >= (1 if "epoch" in frame.columns else 2)
        assert len(snrstat.validate(frame)) == len(frame)
    else:  # judgments: validated by their own reader
        assert {"judge", "winner", "item"} <= set(frame.columns)


def test_every_bundled_set_is_summarised_by_snrstat_data(capsys):
    assert main(["data", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(DATASETS)


def test_olmo_ladder_contents():
    frame = snrstat.load_dataset("olmo-ladder")
    ladder = frame[frame["model"].str.endswith("xC")]
    assert set(ladder["model"]) == {"0.5xC", "1xC", "2xC", "5xC", "10xC"}
    assert set(ladder["size"]) == {"190M", "370M", "760M", "1B", "3B"}
    replicated = ladder[ladder["seed"] == "1"]
    assert set(replicated["model"]) == {"1xC"} and replicated["size"].nunique() == 5
    assert {"peteish7", "peteish13"} <= set(frame["model"])


def test_bundled_data_is_small_and_attributed():
    total = sum(p.stat().st_size for p in DATA_DIR.glob("*.parquet"))
    assert total < 5e6
    assert (DATA_DIR / "LICENSE-olmo-ladder").exists() and (DATA_DIR / "LICENSE-pythia").exists()
    assert "allenai/OLMo" in (DATA_DIR / "README.md").read_text()
    listing = snrstat.list_datasets()
    assert set(listing.index) == set(DATASETS) and listing["licence"].str.contains("Apache-2.0|MIT").all()
    for name in DATASETS:
        assert list(DATA_DIR.glob(f"LICENSE-{name}*")), f"no licence file for {name}"


def test_unknown_dataset_names_alternatives():
    with pytest.raises(DataError, match=r"unknown dataset 'nope'.*olmo-ladder"):
        snrstat.load_dataset("nope")


def test_cli_data_json(capsys):
    assert main(["data", "--data", "olmo-ladder", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)["olmo-ladder"]
    assert counts["runs"] == 35 and len(counts["tasks"]) == 20


def test_cli_reports_bad_path(capsys):
    assert main(["data", "--data", "/no/such/file.csv"]) == 2
    assert "neither a bundled data set" in capsys.readouterr().err
