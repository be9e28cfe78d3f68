"""The decision functions on fits of the hierarchical variance model (PyMC: slow)."""

import numpy as np
import pandas as pd
import pytest

from snrstat.decision import decision_accuracy_from_fits, p_correct, variance_noise_components
from snrstat.decision.planning import estimate_variance


@pytest.mark.slow
def test_variance_fits_feed_design_and_decision_accuracy():
    from snrstat.variance import fit_variance, simulate

    frames = []
    for size, seed in (("150M", 1), ("1B", 2)):
        frame, _ = simulate(n_models=4, n_seeds=2, n_ckpt=4, crossed=False, sigma_model=0.4, sigma_seed=0.1,
                            sigma_ckpt=0.05, n_items=2000, size=size, random_seed=seed)
        frames.append(frame)
    fits = [fit_variance(f, "sim", "acc", draws=300, tune=300, chains=2, progress=False, random_seed=0)
            for f in frames]
    noise = variance_noise_components(fits[0])
    assert set(noise) >= {"sigma_seed", "sigma_ckpt"}
    # checkpoint noise of one score includes item sampling: noise_sd, not sigma_ckpt alone
    np.testing.assert_allclose(noise["sigma_ckpt"].values, fits[0].draws("noise_sd").values)
    v = estimate_variance(noise, k=2, n=4)
    expected = (fits[0].draws("sigma_seed").values.ravel() ** 2) / 2 + fits[0].draws("noise_sd").values.ravel() ** 2 / 8
    np.testing.assert_allclose(v, expected)
    assert 0.5 < p_correct(noise, 0.02, 2, 4) < 1
    res = decision_accuracy_from_fits(fits[0], fits[1])
    assert res.accuracy.sizes == {"chain": 2, "draw": 300}
    assert isinstance(res.summary().pairs, pd.DataFrame) and res.summary().n_pairs == 6
    # the paper's point estimate from each fit's own records: final checkpoint of every run
    finals = [f.groupby(["model", "seed"])["value"].last().groupby("model").mean() for f in
              (fr.sort_values("step") for fr in frames)]
    from snrstat.point import decision_accuracy

    assert res.point == pytest.approx(decision_accuracy(finals[0], finals[1]))


@pytest.mark.slow
def test_decide_without_fast_takes_the_planned_noise_from_the_variance_model(tmp_path, capsys):
    import argparse
    import json

    from snrstat.commands import decide
    from snrstat.variance import simulate

    frames = [simulate(n_models=4, n_seeds=2, n_ckpt=4, crossed=False, sigma_model=0.4, n_items=2000, size=size,
                       random_seed=seed)[0].assign(params=params)
              for size, params, seed in (("150M", 1.5e8, 3), ("1B", 1e9, 4))]
    path = tmp_path / "sim.csv"
    pd.concat(frames).to_csv(path, index=False)
    parser = argparse.ArgumentParser()
    decide.add_parser(parser.add_subparsers())
    args = parser.parse_args(["decide", "--data", str(path), "--task", "sim", "--json", "--draws", "2000",
                              "--seeds", "3"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert any("hierarchical variance model" in n for n in out["notes"])
    assert set(out["planned"]["noise_components"]) >= {"sigma_seed", "sigma_ckpt"}
    assert 0 <= out["planned"]["predicted_decision_accuracy"] <= 1
