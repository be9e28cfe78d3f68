"""snrstat.point against the formulas of Heineman et al. 2025 and Madaan et al. 2024."""

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from snrstat import point
from snrstat.point import InfiniteSNRWarning
from snrstat.schema import DataError

FAST = settings(max_examples=40, deadline=None, derandomize=True)
# scores on a coarse grid so that ties and constant sets are common
grid_scores = st.lists(st.sampled_from([0.25, 0.5, 0.5, 0.625, 0.75, 1.0]), min_size=2, max_size=8)
real_scores = st.lists(st.floats(0.01, 1.0, allow_nan=False), min_size=2, max_size=12)


# --------------------------------------------------------------------------- signal, noise, SNR

@FAST
@given(st.one_of(grid_scores, real_scores))
def test_signal_kinds_match_formulas(scores):
    m = np.array(scores)
    spread = m.max() - m.min()
    np.testing.assert_allclose(point.signal(scores), spread / m.mean(), rtol=1e-12)
    np.testing.assert_allclose(point.signal(scores, "range_raw"), spread, rtol=1e-12)
    std = 0.0 if spread == 0 else np.std(m)
    np.testing.assert_allclose(point.signal(scores, "rel_std"), std / m.mean(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(point.signal(scores, "std_raw"), std, rtol=1e-12, atol=0)
    # the paper writes the range as max over pairs |m_j - m_k|
    pairs = max(abs(a - b) for a, b in itertools.product(m, m))
    assert point.signal(scores) == pytest.approx(pairs / m.mean(), rel=1e-12)


@FAST
@given(st.one_of(grid_scores, real_scores))
def test_noise_is_population_std_over_mean(scores):
    s = np.array(scores)
    expected = 0.0 if s.max() == s.min() else np.std(s) / np.mean(s)
    np.testing.assert_allclose(point.noise(scores), expected, rtol=1e-12, atol=0)
    # ddof=0, not 1
    if s.max() > s.min():
        assert point.noise(scores) < np.std(s, ddof=1) / np.mean(s)


@FAST
@given(grid_scores, grid_scores)
def test_snr_is_ratio_or_inf_never_nan(sig_scores, noise_scores):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        snr = point.signal_to_noise_ratio(sig_scores, noise_scores)
    if max(noise_scores) == min(noise_scores) and max(sig_scores) == min(sig_scores):
        assert math.isnan(snr)  # 0/0: constant scores, undefined (science.md section 5)
        assert any(issubclass(w.category, point.UndefinedSNRWarning) for w in caught)
        return
    assert not math.isnan(snr)
    if max(noise_scores) == min(noise_scores):
        assert snr == math.inf
        assert any(issubclass(w.category, InfiniteSNRWarning) for w in caught)
    else:
        expected = point.signal(sig_scores) / point.noise(noise_scores)
        assert snr == pytest.approx(expected, rel=1e-12)


def test_constant_scores_give_undefined_snr_not_inf():
    # signal and noise both 0: 0/0 is undefined (science.md section 5), NaN with a warning
    with pytest.warns(point.UndefinedSNRWarning, match="constant"):
        assert math.isnan(point.signal_to_noise_ratio([0.5, 0.5], [0.3, 0.3, 0.3]))
    with pytest.warns(InfiniteSNRWarning):
        assert point.signal_to_noise_ratio([0.4, 0.5], [0.3, 0.3, 0.3]) == math.inf
    assert issubclass(InfiniteSNRWarning, RuntimeWarning)


def test_constant_scores_give_exactly_zero_noise():
    # np.std([0.1] * 3) is 1.4e-17, a rounding residue of the mean; noise must be exactly 0
    assert point.noise([0.1, 0.1, 0.1]) == 0.0
    assert point.signal([0.1, 0.1, 0.1], "rel_std") == 0.0


@pytest.mark.parametrize("call", [
    lambda: point.signal([0.5]),
    lambda: point.signal_to_noise_ratio([0.5], [0.4, 0.5]),
])
def test_one_model_is_refused(call):
    with pytest.raises(DataError, match="signal needs at least two models"):
        call()


@pytest.mark.parametrize("bad", [[0.5, np.nan], [0.5, np.inf], {"a": 0.5, "b": np.nan}])
def test_nan_is_refused(bad):
    with pytest.raises(DataError, match="NaN"):
        point.signal(bad)
    with pytest.raises(DataError, match="NaN"):
        point.noise(bad)


def test_other_bad_inputs():
    with pytest.raises(DataError, match="at least two scores"):
        point.noise([0.5])
    with pytest.raises(DataError, match="mean score is 0"):
        point.signal([-1.0, 1.0])
    with pytest.raises(DataError, match="kind"):
        point.signal([0.1, 0.2], kind="discrepancy")
    with pytest.raises(DataError, match="1-d"):
        point.signal([[0.1, 0.2]])


# --------------------------------------------------------------------------- decision accuracy

def brute_force_agreement(s, t):
    agree = total = 0
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            agree += (s[i] > s[j]) == (t[i] > t[j])
            total += 1
    return agree / total


ties = st.integers(0, 3)  # few distinct values: ties at one or both scales are common


@FAST
@given(st.lists(st.tuples(ties, ties), min_size=2, max_size=9))
def test_decision_accuracy_is_the_papers_rule(pairs):
    s = [a for a, _ in pairs]
    t = [b for _, b in pairs]
    assert point.decision_accuracy(s, t) == pytest.approx(brute_force_agreement(s, t), abs=1e-15)
    # keyed inputs are ordered by name, whatever the order they come in
    names = [f"m{i:02d}" for i in range(len(s))]
    small = dict(zip(names, s))
    target = pd.Series(dict(reversed(list(zip(names, t)))))
    assert point.decision_accuracy(small, target) == pytest.approx(brute_force_agreement(s, t), abs=1e-15)


def test_decision_accuracy_ties():
    # tie at both scales agrees
    assert point.decision_accuracy([1, 1], [2, 2]) == 1.0
    # tie at one scale: the rule (s_i > s_j) == (t_i > t_j) agrees when t_i < t_j ...
    assert point.decision_accuracy([1, 1], [1, 2]) == 1.0
    # ... and disagrees when t_i > t_j
    assert point.decision_accuracy([1, 1], [2, 1]) == 0.0
    assert point.decision_accuracy([1, 2, 3], [3, 2, 1]) == 0.0


def test_decision_accuracy_pairs_by_name():
    small = {"a": 0.1, "b": 0.2, "c": 0.3}
    target = {"c": 0.9, "a": 0.5, "b": 0.7}
    assert point.decision_accuracy(small, target) == 1.0
    assert point.decision_accuracy(pd.Series(small), pd.Series(target)) == 1.0


def test_decision_accuracy_refuses_mismatched_models():
    with pytest.raises(DataError, match=r"missing at the target scale: \['d'\]; missing at the small scale: \['e'\]"):
        point.decision_accuracy({"a": 1, "b": 2, "d": 3}, {"a": 1, "b": 2, "e": 3})
    with pytest.raises(DataError, match="at least two models"):
        point.decision_accuracy({"a": 1}, {"a": 2})
    with pytest.raises(DataError, match="NaN"):
        point.decision_accuracy({"a": 1, "b": np.nan}, {"a": 1, "b": 2})
    with pytest.raises(DataError, match="keyed by model name"):
        point.decision_accuracy({"a": 1, "b": 2}, [1, 2])
    with pytest.raises(DataError, match="3 small-scale scores but 2"):
        point.decision_accuracy([1, 2, 3], [1, 2])


# --------------------------------------------------------------------------- small-scale SNR

def curve_frame(scores: np.ndarray, seeds: int = 1, task="arc", size="150M") -> pd.DataFrame:
    """scores[model, seed, checkpoint] -> tidy frame (steps 100, 200, ...)."""
    k, r, c = scores.shape
    idx = np.indices(scores.shape).reshape(3, -1)
    return pd.DataFrame({
        "task": task, "metric": "acc", "size": size,
        "model": [f"mix{i:02d}" for i in idx[0]],
        "seed": [str(j) for j in idx[1]],
        "step": (idx[2] + 1) * 100,
        "value": scores.reshape(-1),
    })


def reference_small_scale(scores: np.ndarray, last_n: int, mode: str) -> tuple[float, float]:
    window = scores[:, :, -last_n:]
    model_means = window.mean(axis=2).mean(axis=1)
    sig = (model_means.max() - model_means.min()) / model_means.mean()
    if mode == "reference":
        flat = window.reshape(-1)
        noi = np.std(flat) / np.mean(flat)
    else:
        var = window.var(axis=2)
        noi = np.sqrt(var.mean()) / window.mean(axis=2).mean()
    return sig, noi


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.integers(1, 3), st.integers(2, 8), st.integers(2, 6))
def test_small_scale_snr_matches_numpy(seed, k, seeds, n_ckpt, last_n):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.3, 0.7, size=(k, 1, 1)) + rng.normal(0, 0.02, size=(k, seeds, n_ckpt))
    frame = curve_frame(scores).sample(frac=1, random_state=seed)  # row order must not matter
    for mode in ("per_run", "reference"):
        got = point.small_scale_snr(frame, last_n=last_n, mode=mode)
        sig, noi = reference_small_scale(scores, last_n, mode)
        np.testing.assert_allclose([got.signal, got.noise, got.snr], [sig, noi, sig / noi], rtol=1e-12)
        assert (got.n_models, got.n_runs) == (k, k * seeds)
        assert float(got) == got.snr


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(2, 30), st.integers(1, 6), st.floats(0, 0.05))
def test_reference_mode_cannot_exceed_sqrt_2k(seed, k, n_ckpt, ckpt_sd):
    rng = np.random.default_rng(seed)
    means = rng.uniform(0.2, 0.8, size=(k, 1, 1))
    scores = means + rng.normal(0, ckpt_sd, size=(k, 1, n_ckpt)) * (rng.uniform() > 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InfiniteSNRWarning)
        snr = point.small_scale_snr(curve_frame(scores), last_n=n_ckpt, mode="reference").snr
    assert snr <= math.sqrt(2 * k) * (1 + 1e-12)


def test_reference_mode_ceiling_is_attained_and_stays_near_4():
    # two models at the extremes, the rest at the midpoint, no checkpoint noise: sqrt(2k) exactly
    k = 25
    means = np.full(k, 0.5)
    means[0], means[1] = 0.4, 0.6
    scores = np.repeat(means[:, None, None], 5, axis=2)
    got = point.small_scale_snr(curve_frame(scores), mode="reference")
    assert got.snr == pytest.approx(math.sqrt(2 * k), rel=1e-12)
    # 25 mixes spread normally, zero checkpoint noise: about 4, while per-run noise is 0 (SNR inf)
    rng = np.random.default_rng(1)
    spread = np.repeat(rng.normal(0.5, 0.05, size=(k, 1, 1)), 5, axis=2)
    ref = point.small_scale_snr(curve_frame(spread), mode="reference").snr
    assert 3 < ref < 5
    with pytest.warns(InfiniteSNRWarning):
        assert point.small_scale_snr(curve_frame(spread), mode="per_run").snr == math.inf


def test_small_scale_snr_refusals():
    rng = np.random.default_rng(0)
    one = curve_frame(rng.uniform(0.4, 0.6, size=(1, 1, 5)))
    with pytest.raises(DataError, match="signal needs at least two models"):
        point.small_scale_snr(one)
    two_sizes = pd.concat([curve_frame(rng.uniform(0.4, 0.6, (3, 1, 5))),
                           curve_frame(rng.uniform(0.4, 0.6, (3, 1, 5)), size="1B")])
    with pytest.raises(DataError, match="needs one \\(task, metric, size\\); the frame holds 2"):
        point.small_scale_snr(two_sizes)
    frame = curve_frame(rng.uniform(0.4, 0.6, (3, 1, 5)))
    with pytest.raises(DataError, match="noise needs at least two scores"):
        point.small_scale_snr(frame, last_n=1)
    dup = pd.concat([frame, frame.iloc[[-1]].assign(value=0.9)])
    with pytest.raises(DataError, match="several records at the same step"):
        point.small_scale_snr(dup)
    nan = frame.assign(value=frame["value"].where(frame.index != 3))
    with pytest.raises(DataError, match="NaN"):
        point.small_scale_snr(nan)
    with pytest.raises(DataError, match="mode"):
        point.small_scale_snr(frame, mode="pooled")


# --------------------------------------------------------------------------- Madaan et al.

@FAST
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=20), st.booleans(), st.booleans())
def test_total_variation_formula(values, normalize, net):
    v = np.array(values)
    tv = np.mean(np.abs(np.diff(v)))
    if tv > 0:
        if normalize:
            tv /= v.max() - v.min()
        if net:
            tv -= (v[-1] - v[0]) / len(v)
    np.testing.assert_allclose(point.total_variation(values, normalize, net), tv, rtol=1e-12, atol=1e-15)


def test_total_variation_known_values():
    # |diffs| = 1, 1, 2; range 2; improvement (3 - 1) / 4 points
    assert point.total_variation([1, 2, 1, 3]) == pytest.approx(4 / 3)
    assert point.total_variation([1, 2, 1, 3], normalize=True) == pytest.approx(2 / 3)
    assert point.total_variation([1, 2, 1, 3], normalize=True, net_of_trend=True) == pytest.approx(2 / 3 - 0.5)
    assert point.total_variation([2, 2, 2]) == 0.0


@FAST
@given(st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.4]), min_size=2, max_size=15))
def test_monotonicity(values):
    steps = np.arange(len(values)) * 10 + 5
    got = point.monotonicity(steps, values)
    if len(set(values)) == 1:
        assert got == 0.0
    else:
        assert got == pytest.approx(stats.kendalltau(steps, values).statistic, rel=1e-12)
    d = np.diff(values)
    up, down = (d > 0).sum(), (d < 0).sum()
    sign = (up - down) / (up + down) if up + down else 0.0
    # steps given out of order are sorted first
    order = np.random.default_rng(len(values)).permutation(len(values))
    assert point.monotonicity(steps[order], np.array(values)[order], kind="sign") == pytest.approx(sign)


def test_seed_std_intervals():
    x = np.array([0.61, 0.63, 0.58, 0.60, 0.64])
    got = point.seed_std(x)
    s = np.std(x, ddof=1)
    assert got.std == pytest.approx(s, rel=1e-12)
    assert got.interval == pytest.approx((x.mean() - 1.959963984540054 * s, x.mean() + 1.959963984540054 * s))
    lo = math.sqrt(4 * s**2 / stats.chi2.ppf(0.975, 4))
    hi = math.sqrt(4 * s**2 / stats.chi2.ppf(0.025, 4))
    assert got.std_interval == pytest.approx((lo, hi), rel=1e-12)
    assert got.std_interval[0] < s < got.std_interval[1]
    with pytest.raises(DataError, match="at least two seeds"):
        point.seed_std([0.5])


def test_seed_std_interval_covers_in_simulation():
    # the chi-square interval for sigma should cover the truth about 95% of the time
    rng = np.random.default_rng(3)
    draws = rng.normal(0.5, 0.02, size=(2000, 4))
    lo_q, hi_q = stats.chi2.ppf([0.975, 0.025], 3)
    s2 = draws.var(axis=1, ddof=1)
    covered = (np.sqrt(3 * s2 / lo_q) <= 0.02) & (0.02 <= np.sqrt(3 * s2 / hi_q))
    assert abs(covered.mean() - 0.95) < 0.015
    one = point.seed_std(draws[0])
    assert one.std_interval == pytest.approx((math.sqrt(3 * s2[0] / lo_q), math.sqrt(3 * s2[0] / hi_q)))


# --------------------------------------------------------------------------- smoothing

def random_curves(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model, s, n in itertools.product(["a", "b"], ["0", "1"], [1]):
        n_ckpt = int(rng.integers(1, 9))
        steps = rng.choice(np.arange(1, 50), size=n_ckpt, replace=False) * 10
        for step in steps:
            rows.append({"task": "t", "metric": "acc", "model": model, "seed": s, "step": int(step),
                         "value": float(rng.uniform(0.2, 0.8))})
    return pd.DataFrame(rows).sample(frac=1, random_state=seed).reset_index(drop=True)


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.floats(0.05, 1.0))
def test_smoothing_per_run_matches_pandas(seed, n, alpha):
    frame = random_curves(seed)
    ordered = frame.sort_values(["model", "seed", "step"])
    keys = [ordered["model"], ordered["seed"]]
    rolling = ordered.groupby(keys)["value"].transform(lambda v: v.rolling(n, min_periods=1).mean())
    got = point.last_n_mean(frame, n)
    assert got.index.equals(frame.index) and got["step"].equals(frame["step"])
    np.testing.assert_allclose(got["value"].to_numpy(), rolling.reindex(frame.index).to_numpy(), rtol=1e-12)

    def recursion(v):
        out = np.empty(len(v))
        for t, x in enumerate(v):
            out[t] = x if t == 0 else alpha * x + (1 - alpha) * out[t - 1]
        return pd.Series(out, index=v.index)

    expected = ordered.groupby(keys, group_keys=False)["value"].apply(recursion)
    np.testing.assert_allclose(point.ema(frame, alpha)["value"].to_numpy(),
                               expected.reindex(frame.index).to_numpy(), rtol=1e-12)


def test_smoothing_arrays_and_refusals():
    np.testing.assert_allclose(point.last_n_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(point.ema([1, 2, 3], 0.5), [1, 1.5, 2.25])
    np.testing.assert_allclose(point.ema([1, 2, 3], 1.0), [1, 2, 3])
    with pytest.raises(DataError, match="alpha"):
        point.ema([1, 2], 0.0)
    with pytest.raises(DataError, match="positive integer"):
        point.last_n_mean([1, 2], 0)
    frame = random_curves(0)
    with pytest.raises(DataError, match="two scores at step"):
        point.last_n_mean(pd.concat([frame, frame.iloc[[0]]]), 2)


# --------------------------------------------------------------------------- subtask selection

def suite_frame(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """6 models x 5 checkpoints x 4 subtasks whose checkpoint noise grows with the index."""
    rng = np.random.default_rng(seed)
    k, c, s = 6, 5, 4
    skill = rng.uniform(0.3, 0.7, size=(k, 1, 1))
    noise_sd = np.array([0.002, 0.01, 0.03, 0.08])[None, None, :]
    values = skill + rng.normal(0, 1, size=(k, c, s)) * noise_sd
    idx = np.indices(values.shape).reshape(3, -1)
    frame = pd.DataFrame({
        "task": "mmlu", "metric": "acc", "size": "1B",
        "model": [f"m{i}" for i in idx[0]], "step": (idx[1] + 1) * 10,
        "subtask": [f"sub{j}" for j in idx[2]], "value": values.reshape(-1),
    })
    return frame, values


def test_subtask_selection_against_numpy():
    frame, values = suite_frame()
    got = point.subtask_selection(frame, "mmlu", last_n=5)

    def snr(x):  # x[model, checkpoint]
        sig = (x.mean(1).max() - x.mean(1).min()) / x.mean(1).mean()
        return sig / (np.sqrt(x.var(1).mean()) / x.mean())

    own = np.array([snr(values[:, :, j]) for j in range(4)])
    order = np.argsort(-own)
    assert got["subtasks"].iloc[-1] == tuple(f"sub{j}" for j in order)
    np.testing.assert_allclose(got["added_snr"].to_numpy(), own[order], rtol=1e-12)
    for k in range(1, 5):
        agg = values[:, :, order[:k]].mean(axis=2)
        assert got.loc[k, "snr"] == pytest.approx(snr(agg), rel=1e-12)
    # all subtasks kept = the SNR of the suite's average
    assert got.loc[4, "snr"] == pytest.approx(point.small_scale_snr(frame).snr, rel=1e-12)
    assert list(got.index) == [1, 2, 3, 4]


def test_subtask_selection_refusals():
    frame, _ = suite_frame()
    with pytest.raises(DataError, match="lacks subtask"):
        point.subtask_selection(frame.iloc[1:], "mmlu")
    with pytest.raises(DataError, match="not in column 'task'"):
        point.subtask_selection(frame, "bbh")
    two = pd.concat([frame, frame.assign(size="3B")])
    with pytest.raises(DataError, match="pass size="):
        point.subtask_selection(two, "mmlu")
    assert len(point.subtask_selection(two, "mmlu", size="3B", ks=[1, 4])) == 2
