"""One name per idea on the command line: --random-seed, --last-n, the planned experiment's own
options in `snrstat decide`, likelihood names from the code, sizes in size order, and the
choice of training runs in `snrstat scaling`."""

import pandas as pd
import pytest

from snrstat.cli import build_parser
from snrstat.commands.decide import pick_sizes
from snrstat.commands.scaling import choose_runs
from snrstat.schema import DataError, parse_size, size_order


def test_every_command_takes_random_seed_quiet_and_debug():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices
    for name, command in sub.items():
        flags = command._option_string_actions
        assert "--quiet" in flags and "--debug" in flags, name
        if "--seed" in flags or name in ("fit", "decide", "select", "scaling", "report", "models"):
            assert "--random-seed" in flags, name


def test_help_lists_the_likelihoods_of_the_model(capsys):
    from snrstat.commands._common import LIKELIHOODS

    with pytest.raises(SystemExit):
        build_parser().parse_args(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{" + ",".join(LIKELIHOODS) + "}" in text.replace(" ", "") or all(lk in text for lk in LIKELIHOODS)
    assert "betabinomial" in LIKELIHOODS and "beta_binomial" not in LIKELIHOODS


def test_decide_plan_options_have_their_own_names():
    args = build_parser().parse_args(["decide", "--task", "t", "--last-n", "7", "--plan-seeds", "3",
                                      "--plan-last-n", "2"])
    assert (args.last_n, args.plan_seeds, args.plan_last_n) == (7, 3, 2)


@pytest.mark.parametrize("labels, expected", [
    (["1b", "70m", "1.4b", "160m", "12b", "2.8b", "410m", "6.9b"], ["70m", "160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b"]),
    (["3B", "190M", "1B", "760M", "370M"], ["190M", "370M", "760M", "1B", "3B"]),
    (["large", "1b1", "560m", "small"], ["560m", "1b1", "large", "small"]),
    (["1.5K", "2M", "0.5B", "1T"], ["1.5K", "2M", "0.5B", "1T"]),
])
def test_size_order_is_numeric_never_alphabetical(labels, expected):
    assert size_order(labels) == expected
    assert parse_size("1.4b") == pytest.approx(1.4e9) and parse_size("70M") == 7e7


def test_size_order_prefers_params():
    assert size_order(["a", "b", "c"], {"a": 3e9, "b": 1e8, "c": None}) == ["b", "a", "c"]
    assert size_order(["1B", "190M"], [1e8, 2e8]) == ["1B", "190M"]  # params win over labels


def test_decide_picks_sizes_by_parsed_label_without_params():
    rows = pd.DataFrame([{"task": "t", "metric": "acc", "model": m, "size": s, "params": float("nan"),
                          "subtask": pd.NA, "value": 0.5}
                         for s in ("1b", "160m", "1.4b", "70m") for m in ("pile", "deduped")])
    small, target, models = pick_sizes(rows, None, None)
    assert (small, target, models) == ("70m", "1.4b", ["deduped", "pile"])


def _ladder(with_reruns: bool) -> pd.DataFrame:
    rows = [{"model": mult, "size": size, "seed": "0"} for size in ("190M", "370M", "760M", "1B", "3B")
            for mult in ("0.5xC", "1xC", "2xC", "5xC", "10xC")]
    if with_reruns:
        rows += [{"model": "1xC", "size": size, "seed": "1"} for size in ("190M", "370M", "760M", "1B", "3B")]
    rows += [{"model": "peteish7", "size": "7B", "seed": "0"}, {"model": "peteish7-anneal", "size": "7B", "seed": "0"},
             {"model": "peteish1", "size": "1B", "seed": "0", "params": float("nan")}]
    frame = pd.DataFrame(rows)
    frame["params"] = frame["params"].fillna(1e9) if "params" in frame else 1e9
    frame.loc[frame["model"] == "peteish1", "params"] = float("nan")
    frame["tokens"] = 1e10
    return frame


def test_scaling_runs_auto_paper_all_and_labels():
    full, bare = _ladder(True), _ladder(False)
    targets = ("peteish7", "peteish13")
    assert choose_runs(full, "auto", targets) is None  # the paper's runs are all there
    runs = choose_runs(bare, "auto", targets)  # no replicates: every non-target run
    assert len(runs) == 25 and ("1xC", "1B", "0") in runs and not any(r[0] == "peteish7" for r in runs)
    assert len(choose_runs(full, "all", targets)) == 30
    assert choose_runs(full, "190M-1xC,1B-1xC-rerun", targets) == [("1xC", "190M", "0"), ("1xC", "1B", "1")]
    with pytest.raises(DataError, match="not in the data"):
        choose_runs(bare, "1B-1xC-rerun", targets)
