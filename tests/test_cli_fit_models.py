"""``snrstat fit`` and ``snrstat models``, and loading saved fits by name."""

import json

import pytest

import snrstat
from snrstat.cli import main
from snrstat.schema import DataError


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory):
    frame, truth = snrstat.simulate(n_models=6, n_seeds=2, n_ckpt=5, sigma_model=0.4, random_seed=3)
    path = tmp_path_factory.mktemp("sim") / "sim.csv"
    frame.to_csv(path, index=False)
    return path, truth


def test_fit_json_summary_covers_the_truth_and_saves(sim_csv, tmp_path, capsys):
    path, truth = sim_csv
    out_nc = tmp_path / "fit.nc"
    argv = ["fit", "--data", str(path), "--task", "sim", "--draws", "300", "--tune", "300", "--chains", "2",
            "--seed", "1", "--save", str(out_nc), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    summary = out["summary"]
    assert {"sigma_model", "sigma_seed", "sigma_ckpt", "signal", "noise", "snr", "snr_pop"} <= set(summary)
    row = summary["sigma_model"]
    assert row["lo"] < truth["sigma_model"] < row["hi"]
    assert summary["snr"]["point"] == pytest.approx(
        snrstat.load_fit(out_nc).point["snr"], rel=1e-12)
    # the saved fit reloads by path through the top-level loader, with the same numbers
    again = snrstat.load_fit(out_nc).summary()
    assert again.loc["snr", "median"] == pytest.approx(summary["snr"]["median"], rel=1e-9)
    # same seed, same numbers
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == summary


def test_fit_unknown_task_is_a_clear_error(sim_csv, capsys):
    path, _ = sim_csv
    assert main(["fit", "--data", str(path), "--task", "nope", "--draws", "50", "--tune", "50"]) == 2
    assert "nope" in capsys.readouterr().err


def test_models_lists_saved_fits(tmp_path, monkeypatch, sim_csv, capsys):
    path, _ = sim_csv
    frame = snrstat.validate(__import__("pandas").read_csv(path))
    fit = snrstat.fit_variance(frame, task="sim", draws=100, tune=100, chains=2, progress=False, random_seed=0)
    (tmp_path / "sim").mkdir()
    fit.save(tmp_path / "sim" / "sim--acc--1B.nc")
    monkeypatch.setenv("SNRSTAT_MODELS", str(tmp_path))
    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listing] == ["sim/sim/acc/1B"]
    assert listing[0]["kind"] == "variance" and listing[0]["bytes"] > 0
    loaded = snrstat.load_fit("sim/sim/acc/1B")
    assert loaded.task == "sim" and loaded.models == fit.models
    with pytest.raises(DataError, match="available"):
        snrstat.load_fit("sim/sim/acc/2B")
