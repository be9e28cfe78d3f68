"""Write and execute the example notebooks of snrstat.

Each notebook is kept here as a list of cells, ``("md", text)`` or ``("code", source)``, so
the story is reviewed as plain Python and the committed ``.ipynb`` files are always the
executed output of this file. Usage::

    python notebooks/build.py                 # all notebooks
    python notebooks/build.py 01_quickstart   # some of them
    python notebooks/build.py --no-execute    # write the cells only

Executing needs ``nbformat``, ``nbclient`` and ``ipykernel`` (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# First cell of every notebook: small PNG figures, quiet warnings that only concern the
# installation (PyTensor's BLAS notice), compact tables.
SETUP = """\
%config InlineBackend.figure_format = 'png'
import warnings
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
warnings.filterwarnings("ignore", category=FutureWarning)

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

matplotlib.rcParams["figure.dpi"] = 70
pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)
pd.set_option("display.float_format", "{:.4g}".format)


def show(fig, legend_outside=False):
    \"\"\"Display a figure once and free it (snrstat's plot functions return figures).\"\"\"
    if legend_outside:  # keep the legend off the data
        fig.axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        fig.tight_layout()
    display(fig)
    plt.close(fig)
"""

# Sampler settings shared by the notebooks: small enough for CI on two cores, large enough
# for the diagnostics to pass on these data.
SAMPLING = "SAMPLING = dict(draws=1000, tune=1000, chains=4, random_seed=0, progress=False)"


QUICKSTART = [
    ("md", """\
# Quick start: how far to trust a benchmark score

This notebook walks through snrstat on the bundled **OLMo model ladder** (Bhagia et al. 2024):
five OLMo 2 recipes that differ only in their token budget (0.5x to 10x Chinchilla, the *models*
we want to rank) trained at five sizes from 190M to 3B parameters, with in-loop evaluations at
many checkpoints. We ask the question of the signal-and-noise paper (Heineman et al. 2025): if we
rank these models with a small 190M experiment, how often do we get the ranking of the 3B models
right, and how sure can we be of that answer?"""),
    ("code", SETUP),
    ("code", """\
import snrstat
from snrstat.reference import REFERENCE_SETS

snrstat.list_datasets()[["source", "licence"]]"""),
    ("code", """\
frame = snrstat.load_dataset("olmo-ladder")
print(f"{len(frame):,} evaluation records, {frame['task'].nunique()} tasks, metrics {sorted(frame['metric'].unique())}")
frame[["task", "metric", "model", "size", "seed", "step", "tokens", "value"]].sample(4, random_state=0)"""),
    ("md", """\
One row is one score: a run (model, size, seed) at one checkpoint (`step`) on one task under one
metric. The reference selection of this data set keeps the five ladder recipes at the two sizes
that a decision is read between, 190M (small) and 3B (target), and the accuracy metric
`len_norm`. The 1xC recipe was trained twice (seed 0 and its rerun, seed 1): that replicate is
what lets a model separate seed noise from checkpoint noise."""),
    ("code", """\
ref = REFERENCE_SETS["olmo-ladder"]
rows = ref.frame(frame)
rows.groupby(["size", "model", "seed"]).agg(checkpoints=("step", "nunique"), last_step=("step", "max")).unstack("size")"""),
    ("md", """\
## The paper's point estimates

`snr_table` computes signal (relative range of the five models' means over their last 5
checkpoints), noise (relative sd of a run's last 5 checkpoints, pooled over runs) and their ratio;
`decision_table` the fraction of model pairs that the final 190M checkpoints order as the final
3B checkpoints do."""),
    ("code", """\
snr = snrstat.snr_table(rows, last_n=5, metric="len_norm")
snr = snr[snr["size"].isin(["190M", "3B"])].pivot(index="task", columns="size", values="snr")
da = snrstat.decision_table(rows, small="190M", target="3B", metric="len_norm").set_index("task")["decision_accuracy"]
point = snr.add_prefix("snr_").join(da.rename("decision_accuracy_190M_to_3B")).sort_values("snr_190M")
point.round(2)"""),
    ("code", """\
from scipy import stats

rho = stats.spearmanr(point["snr_190M"], point["decision_accuracy_190M_to_3B"]).statistic
print(f"Spearman correlation of 190M SNR and decision accuracy over {len(point)} tasks: {rho:.2f}")"""),
    ("md", """\
At 190M the SNRs run from about 3 (`mmlu_stem_test`, `winogrande_val`) to 87 (`hellaswag_val`),
and tasks with a higher 190M SNR rank the 3B models better (Spearman 0.81 over 19 tasks): every
task with an SNR above 10 orders at least 9 of the 10 pairs as 3B does. The outlier is
`winogrande_val`: SNR 3.4 and only 3 of 10 pairs right, worse than a coin. But each decision
accuracy here rests on 10 pairs of 5 models, so one flipped pair moves it by 0.1. How much of this
is luck is what the Bayesian fits answer."""),
    ("md", """\
## A Bayesian fit of one task

`fit_variance` fits the hierarchical model of the science notes (model effect + seed effect +
checkpoint noise; no data-order labels here, so that component is dropped with a message) to
the last 5 checkpoints of every run. We fit the lowest-SNR task, `winogrande_val`, and a
high-SNR one, `hellaswag_val`, at 190M. `fit_variance_many` compiles the model once for both."""),
    ("code", SAMPLING),
    ("code", """\
fits = snrstat.fit_variance_many(rows, tasks=["winogrande_val", "hellaswag_val"], metric="len_norm",
                                 size="190M", last_n=5, **SAMPLING)
wino = fits["winogrande_val"]
print(wino)"""),
    ("md", """\
Every quantity comes as a posterior median with a 90% interval; `point` is what the paper's
formula gives on the same records."""),
    ("code", """\
wino.summary()[["median", "lo", "hi", "point", "r_hat", "ess_bulk"]]"""),
    ("md", """\
The sds are on the score scale: at 190M the five winogrande recipes differ by a model sd of about
0.005 (half a point of accuracy), about as much as one run's scores jump from checkpoint to
checkpoint (0.004). The seed sd rests on a single replicated recipe (1xC and its rerun), hence the
wide interval and the warning above. All R-hats are at most 1.002 and bulk ESS is above 2000."""),
    ("code", """\
pd.concat({task: fit.summary().loc[["signal", "noise", "snr", "snr_pop"], ["median", "lo", "hi", "point"]]
           for task, fit in fits.items()})"""),
    ("code", """\
from snrstat.plots import plot_snr

fig = plot_snr(dict(fits), title="SNR at 190M: posterior against the paper's point estimate")
fig.set_size_inches(8, 2.4)
show(fig, legend_outside=True)"""),
    ("md", """\
For `winogrande_val` the posterior SNR is 2.7 with a 90% interval of [1.0, 4.2], and the paper's
point estimate, 3.4, lies in its upper part: the range of five noisy means is stretched by their
noise, so the point signal is biased up when the true spread is small. For `hellaswag_val` the two
agree (posterior 70 [30, 97], point 87): even the lower end of the interval is ten times
winogrande's. The superpopulation SNR (`snr_pop`) asks the same question of five *new* recipes drawn
from the same population, and for winogrande it reaches up to 5.3."""),
    ("code", """\
pd.concat({task: fit.variance_shares() for task, fit in fits.items()}, axis=1).round(3)"""),
    ("md", """\
Where the variance of one 190M score comes from: for `winogrande_val` about half is between
recipes (0.54) and a third is checkpoint noise (0.37); for `hellaswag_val` 95% is between recipes
and checkpoint noise is negligible (0.001). Seed noise gets a median share of about 5% on both
tasks, with intervals reaching 0.46-0.67, because one replicated recipe cannot pin it down: to
learn how much a new seed moves a score, one has to pay for more reruns."""),
    ("code", """\
print(f"P(observed ranking of winogrande_val at 190M is the true one) = {wino.prob_ranking():.2f}")
wino.prob_superior().round(2)"""),
    ("md", """\
At 190M the only confident statement about `winogrande_val` is that 1xC scores highest
(P = 0.96-0.98 against every other recipe); most other pairs are close to coin flips, and the
probability that the observed ranking is the true one is 0.13. Winogrande is a two-way task and
the 190M models score 0.51, at chance: at this size the recipes have not yet learnt it."""),
    ("md", """\
## Is the sampler to be trusted?

Every fit carries its diagnostics (R-hat, bulk/tail ESS, divergences, BFMI) and says what to do
when a check fails. Rank plots (here of the three sds of the `winogrande_val` fit) should show flat, overlapping bars for every chain."""),
    ("code", """\
for task, fit in fits.items():
    print(task, fit.diagnostics)"""),
    ("code", """\
from snrstat.plots import plot_rank

show(plot_rank(wino.idata, ["sigma_model", "sigma_seed", "sigma_ckpt"]))"""),
    ("md", """\
## Decision accuracy with an interval

The paper's decision accuracy of 190M -> 3B is a single number from the final checkpoints. The
joint two-scale model (`fit_two_scales`) lets the data say how alike the two scales are and
gives the posterior of the fraction of agreeing pairs, with each pair's probability of agreeing."""),
    ("code", """\
from snrstat.decision import decision_accuracy_from_fits, fit_two_scales

rows_da = []
joint = {}
for task in ["winogrande_val", "hellaswag_val", "mmlu_stem_test"]:
    joint[task] = fit_two_scales(rows, task=task, metric="len_norm", small="190M", target="3B", last_n=5, random_seed=0)
    s = decision_accuracy_from_fits(joint[task].small, joint[task].target).summary(0.9)
    rows_da.append({"task": task, "point": da[task], "median": s.median, "lo": s.lo, "hi": s.hi, "mean": s.mean})
pd.DataFrame(rows_da).set_index("task").round(2)"""),
    ("code", """\
joint["winogrande_val"].summary().round(4)"""),
    ("code", """\
s = decision_accuracy_from_fits(joint["winogrande_val"].small, joint["winogrande_val"].target).summary(0.9)
s.pairs.round(2)"""),
    ("md", """\
The point decision accuracies become intervals: `winogrande_val` 0.3 [0.1, 0.8],
`hellaswag_val` 1.0 [0.8, 1.0], `mmlu_stem_test` 0.8 [0.3, 1.0] (its point estimate, 0.7, is one
lucky or unlucky pair away from the median). For winogrande the correlation `rho` between the
recipes' true means at the two scales has median -0.33 and a 90% interval of [-0.91, 0.68]: the
data cannot say whether 190M winogrande scores point the same way as 3B ones. The pair table shows
why: 1xC beats 10xC at 190M (P = 0.94) while 10xC beats 1xC at 3B (P = 0.92). At 3B the same task
has an SNR of 21 [2.7, 31]: the spread between recipes grows tenfold (model sd 0.005 -> 0.052)
while checkpoint noise stays at 0.004-0.006.

## Takeaways

- The paper's point SNR and decision accuracy are single numbers; on five models they move in
  steps of 0.1 and hide how much is luck. The posterior says how sure to be.
- A low-SNR task at the small scale (winogrande at 190M) is not a weak signal of the 3B ranking,
  it is no signal: its decision accuracy could be anywhere from 0.1 to 0.8.
- Notebook 02 asks the same questions of Pythia and picks MMLU subjects; notebook 03 puts
  intervals on the scaling-law predictions of the 7B and 13B models."""),
]


PYTHIA = [
    ("md", """\
# Pythia: where the noise comes from, and which MMLU subjects to keep

The bundled **Pythia** evaluations (Biderman et al. 2023) score one training run per data recipe
and size, at checkpoints from step 0 to 143,000. The decision we study is the one the Pythia
suite was built for: is the deduplicated Pile (`pile-deduped`) better or worse than the Pile
(`pile`), and does a 160M-parameter experiment give the same answer as the 12B models? There is
one seed per run, so seed noise cannot be measured here; what can be measured is how much a
score moves between checkpoints and how that compares with the sampling error of a finite
benchmark."""),
    ("code", SETUP),
    ("code", """\
import snrstat
from snrstat.reference import REFERENCE_SETS

frame = snrstat.load_dataset("pythia")
ref = REFERENCE_SETS["pythia"]
rows = ref.frame(frame)
rows = rows[rows["metric"] == "acc"]
window = sorted(rows["step"].unique())[-5:]
print(f"models {list(ref.models)}, sizes {list(ref.sizes)}, tasks {sorted(rows['task'].unique())}")
print(f"last 5 checkpoints: steps {window}")"""),
    ("md", """\
## The paper's point estimates

Signal is the relative gap between the two recipes (mean of their last 5 checkpoints), noise the
relative sd of a run's last 5 checkpoints. With two models the decision accuracy between 160m and
12b is a single pair: 1 if both sizes prefer the same recipe, else 0."""),
    ("code", """\
snr = snrstat.snr_table(rows, last_n=5, metric="acc").pivot(index="task", columns="size", values="snr")
da = snrstat.decision_table(rows, small="160m", target="12b", metric="acc").set_index("task")["decision_accuracy"]
snr.add_prefix("snr_")[["snr_160m", "snr_12b"]].join(da.rename("decision_accuracy")).round(2)"""),
    ("md", """\
At 12b MMLU (SNR 6.8), sciq (5.1), wsc (4.9), winogrande and arc_challenge (3.5) separate the two
recipes by several checkpoint-noise sds; at 160m only logiqa gets above 2. By the paper's decision
accuracy 160m picks the 12b winner on 5 of 9 tasks, no better than a coin. With one pair per task
every entry is all or nothing, and nothing says which verdicts are luck."""),
    ("md", """\
## Checkpoint noise against item-sampling noise

A benchmark of n items scored at accuracy p has a binomial sampling sd of sqrt(p(1 - p) / n):
the error bar lm-eval reports, the uncertainty about the score on *new* items. Between two
checkpoints of one run the items stay the same, so if scores only moved by item luck they would
move by much less. The ratio of the observed checkpoint sd to the binomial sd says which noise is
larger (MMLU is the macro average of its 57 subjects; its binomial variance is averaged the same
way)."""),
    ("code", """\
w = rows[rows["step"].isin(window)].copy()
w["binom_var"] = w["value"] * (1 - w["value"]) / w["n_items"].astype(float)
per_step = w.groupby(["task", "size", "model", "step"]).agg(
    value=("value", "mean"), binom_var=("binom_var", "sum"), k=("value", "size"))
per_step["binom_var"] /= per_step["k"] ** 2  # variance of a mean of k independent subtasks
per_run = per_step.groupby(["task", "size", "model"]).agg(
    ckpt_sd=("value", lambda v: v.std(ddof=0)), binom_sd=("binom_var", lambda v: np.sqrt(v.mean())))
ratio = (per_run["ckpt_sd"] / per_run["binom_sd"]).groupby(["task", "size"]).mean().unstack("size")
ratio[["160m", "12b"]].round(2).rename(columns=lambda c: f"ckpt_sd / binom_sd, {c}")"""),
    ("md", """\
At 12b every task's checkpoint sd is below its binomial sd (0.21 to 0.88 of it): the error bar
that lm-eval prints overstates how much a model's score on these items moves from one checkpoint
to the next. At 160m two tasks move more than item luck allows, lambada_openai (3.2 times) and
sciq (1.4 times): their scores still drift with training between steps 103k and 143k. Everywhere
else the ratio is 0.4 to 0.9. So the checkpoint noise, not the benchmark size, limits a
comparison of two models on the same items, and it shrinks with scale."""),
    ("md", """\
## Bayesian fits at both sizes

`fit_variance_many` fits every task at one size: a model effect for the two recipes plus
checkpoint noise. The records carry no seed or data-order labels, so those components are dropped
(with a warning, silenced here), and with two models the between-model sd rests on a single
difference; the quantities about *these* two recipes (signal, SNR, P(one beats the other)) are
still identified by the data. We ask for a normal likelihood on the score scale so that noise
means the same thing at both sizes: how far a score moves between checkpoints, the paper's
noise. (The automatic choice would use a binomial likelihood wherever the checkpoint scatter is
compatible with item sampling, which with 5 checkpoints per run is most tasks; its noise then
includes the item-sampling sd, the uncertainty about scores on new items, a different question.)"""),
    ("code", SAMPLING),
    ("code", """\
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fits = {size: snrstat.fit_variance_many(rows, metric="acc", size=size, last_n=5, likelihood="normal", **SAMPLING)
            for size in ("160m", "12b")}
table = []
for size, collection in fits.items():
    for task, fit in collection.items():
        s = fit.summary()
        table.append({"task": task, "size": size, "ckpt_sd": s.loc["sigma_ckpt", "median"],
                      "gap": s.loc["signal", "median"] * s.loc["grand_mean", "median"],
                      "snr": s.loc["snr", "median"], "snr_lo": s.loc["snr", "lo"], "snr_hi": s.loc["snr", "hi"],
                      "snr_point": s.loc["snr", "point"], "sampler_ok": fit.diagnostics.ok})
table = pd.DataFrame(table).set_index(["task", "size"]).sort_index(level=[0, 1], ascending=[True, False])
print(f"paper's point SNR above the posterior median in {(table['snr_point'] > table['snr']).sum()} of {len(table)} fits")
table"""),
    ("code", """\
from snrstat.plots import plot_snr

show(plot_snr({f"{task} {size}": fits[size][task] for task, size in table.index},
              title="Pythia: posterior SNR of pile vs pile-deduped"), legend_outside=True)"""),
    ("md", """\
Checkpoint noise falls with scale on most tasks (sciq 0.019 -> 0.004, lambada_openai
0.020 -> 0.006, winogrande 0.011 -> 0.004, mmlu 0.0043 -> 0.0024) while the gap between the
recipes grows on some (mmlu 0.006 -> 0.013, sciq 0.005 -> 0.016). At 12b five tasks have a
posterior SNR whose 90% interval lies above 1 (arc_challenge, mmlu, sciq, winogrande, wsc); at
160m none does, and logiqa, the best at 160m (2.4 [0.8, 4.0]), drops to 0.2 at 12b. The paper's
point SNR is above the posterior median in 16 of 18 fits: with two models the signal is the
absolute difference of two noisy means, which noise pushes away from zero."""),
    ("md", """\
## Does 160m pick the same recipe as 12b?

With one pair, the posterior decision accuracy is the probability that the two sizes order the
recipes the same way, from the joint two-scale model."""),
    ("code", """\
from snrstat.decision import decision_accuracy_from_fits, fit_two_scales

agree = []
for task in sorted(rows["task"].unique()):
    joint = fit_two_scales(rows, task=task, metric="acc", small="160m", target="12b", last_n=5, random_seed=0)
    s = decision_accuracy_from_fits(joint.small, joint.target).summary(0.9)
    pair = s.pairs.iloc[0]
    agree.append({"task": task, "paper": da[task], "p_agree": s.mean,
                  f"p({pair['model_a']} > {pair['model_b']}) 160m": pair["p_a_above_small"],
                  f"p({pair['model_a']} > {pair['model_b']}) 12b": pair["p_a_above_target"]})
pd.DataFrame(agree).set_index("task").round(2)"""),
    ("md", """\
Only two tasks give a confident yes: MMLU (P(agree) = 0.95) and arc_challenge (0.90), where both
sizes prefer `pile-deduped`. Winogrande is a confident no (0.11): 160m prefers the Pile (P = 0.90)
and 12b the deduplicated Pile (P(pile > deduped) near 0). On wsc 12b prefers the Pile with P near
1 while 160m leans the other way (P(agree) = 0.25). The rest of the paper's verdicts are mostly
luck: piqa's 0 is a coin flip (0.51; neither size can tell the recipes apart), logiqa's and
lambada_openai's 1s are 0.42 and 0.56, and sciq's 0 becomes 0.64 because 160m cannot tell while 12b
prefers the deduplicated Pile."""),
    ("md", """\
## Which MMLU subjects to keep

The paper filters MMLU's 57 subjects by their own SNR and keeps the top k. `select_subtasks`
does this on posterior SNRs: each subject and each candidate aggregate (the macro average of the
kept subjects) is fitted with a nested normal model, and P(beats full) compares the aggregate's
SNR with the full suite's. Two recipes are too few models for a signal, so here a "model" is one
recipe at one size: the 16 Pythia runs of `pile` and `pile-deduped` from 70m to 12b, and the
signal is how well MMLU separates them."""),
    ("code", """\
from snrstat.decision import select_subtasks

mmlu = frame[(frame["task"] == "mmlu") & frame["model"].isin(ref.models)]
sel = select_subtasks(mmlu, task="mmlu", metric="acc", last_n=5, draws=1000, search_draws=300, random_seed=0)
sel.aggregates.round(3)"""),
    ("code", """\
print("posterior choice:", ", ".join(sel.selected))
print("paper's choice:   ", ", ".join(sel.selected_point))
sel.subtasks.sort_values("rank_posterior").set_index("subtask").head(12).round(2)"""),
    ("code", """\
from snrstat.plots import plot_selection

show(plot_selection(sel.curve, n_full=int(sel.aggregates.loc["full", "n_subtasks"]),
                    full_snr=float(sel.aggregates.loc["full", "snr_median"]), title="MMLU: SNR of the top-k aggregate"))
sel.curve.set_index("k").T[[1, 4, 6, 8, 10, 12, 16, 24, 32, int(sel.curve["k"].max())]].round(1)"""),
    ("md", """\
Keeping 10 subjects raises MMLU's posterior SNR from 11.9 [9.9, 14.0] to 19.4 [16.5, 22.6], and
P(beats full) = 1.00. The paper's point rule keeps 8: the same top six plus marketing and nutrition,
which the posterior choice also keeps, adding high_school_psychology and professional_medicine.
It does as well (19.9 [16.9, 23.3]). The posterior curve is a plateau (16.5 to 19.5 for k between
4 and 24), and the point curve's sharp peak at k = 8 (22.6, then 16.8 at k = 10) is partly noise:
the exact k matters less than dropping the noisy tail of subjects. Every subject's posterior SNR is
below its point SNR (elementary_mathematics 9.0 against 10.6), the same upward bias as above.
One caveat: with Pythia the 16 "models" span sizes from 70m to 12b, so these subjects are the ones
that best separate *sizes*; a selection for ranking data recipes at one size would need more
recipes than Pythia has."""),
    ("md", """\
## How many checkpoints to average

A new 160m comparison of two recipes, one run each (Pythia has one seed), scores each run by the
mean of its last n checkpoints. `detectable_difference` gives the smallest true gap ordered
correctly with probability 0.8, `design_curves` the probability of ordering a gap of one point of
accuracy correctly, both averaged over the posterior of the noise. For planning a comparison on
the *same* benchmark items the noise that matters is how far a score moves between checkpoints,
which the normal-likelihood fits of the 160m runs above estimate directly. This leaves out seed noise, which these data cannot measure: the
numbers are a lower bound for a new run with a new seed."""),
    ("code", """\
from snrstat.decision import design_curves, detectable_difference

power = []
for task, fit in fits["160m"].items():
    row = {"task": task, "ckpt_sd": float(fit.draws("sigma_ckpt").median())}
    for n in (1, 3, 5):
        row[f"detectable_80 n={n}"] = detectable_difference(fit, k=1, n=n, power=0.8)
    curve = design_curves(fit, k_values=[1], n_values=[1, 5], delta=0.01)
    row["p_correct(1 pt) n=1"], row["p_correct(1 pt) n=5"] = curve["p_correct"]
    row["observed gap"] = table.loc[(task, "160m"), "gap"]
    row["gap detectable n=5"] = row["observed gap"] > row["detectable_80 n=5"]
    power.append(row)
pd.DataFrame(power).set_index("task").round(3)"""),
    ("md", """\
With one run per recipe scored at its final checkpoint, a 160m comparison orders a true 1-point
gap correctly with probability 0.57 (wsc, 104 items) to 0.94 (MMLU). Averaging the last 5
checkpoints raises that to 0.66-1.00 and divides the smallest gap detected 80% of the time by
sqrt(5), about 2.2 (MMLU 0.5 -> 0.2 points, sciq 2.2 -> 1.0 points). Even then the observed 160m
gap between the two recipes is below the detectable one on lambada_openai, piqa, sciq and wsc:
the 160m verdicts on those tasks above were not worth the compute. Seed noise comes on top: in
notebook 01 a rerun of the same OLMo recipe moved 190M scores by an sd of about 0.002 on
winogrande, which no amount of checkpoint averaging removes; only more seeds (`k`) do."""),
]


SCALING = [
    ("md", """\
# How uncertain is the 7B/13B scaling-law prediction?

The signal-and-noise paper scores a benchmark partly by how well a scaling law fitted on small
models predicts a large one. Its recipe (Bhagia et al. 2024) fits two steps on the 25 OLMo 2
ladder runs (190M-3B at 0.5-10x Chinchilla tokens): task loss (bits per byte of the correct
answer) from parameters N and tokens D, then accuracy from task loss, and chains them to predict
the OLMo 2 7B (`peteish7`) and 13B (`peteish13`) runs. The paper reports the relative error of
this point prediction. Here we ask how wide the prediction really is: `fit_scaling_law` fits the
same two steps as one Bayesian model, with run-to-run and checkpoint noise, and returns the
posterior predictive of the score that the large run would show."""),
    ("code", SETUP),
    ("code", """\
import snrstat
from snrstat.scaling import fit_scaling_law, ladder_point_table

frame = snrstat.load_dataset("olmo-ladder")
point = ladder_point_table(frame)
print("mean relative error of the point prediction:",
      point.groupby("target")["rel_error"].mean().round(3).to_dict())
point.pivot(index="task", columns="target", values="rel_error")[["peteish7", "peteish13"]].sort_values("peteish13").round(3)"""),
    ("md", """\
Over the 20 tasks the point law misses the 7B and the 13B score by 5.3% and 5.2% on average, from
almost nothing (hellaswag_val and mmlu_social_sciences_val at 13B, 0.2% and 0.0%) to 19%
(winogrande_val at 13B). A relative error is one number per prediction: nothing in it says which
misses could have been foreseen from the ladder."""),
    ("md", """\
## Bayesian fits of three tasks

A task that the point law predicts well (`hellaswag_val`), one it misses by almost 20%
(`winogrande_val`) and one in between (`arc_easy_test`). The sampler settings are smaller than
the validation run's (4 chains x 2000 draws) to keep this notebook quick; the diagnostics below
say whether that was enough."""),
    ("code", "SAMPLING = dict(draws=1000, tune=1000, chains=4, random_seed=0, progress=False)"),
    ("code", """\
tasks = ["hellaswag_val", "arc_easy_test", "winogrande_val"]
fits = {task: fit_scaling_law(frame, task, **SAMPLING) for task in tasks}
for task, fit in fits.items():
    d = fit.diagnostics
    print(f"{task:15s} ok={d.ok}  max R-hat {d.max_r_hat:.3f}  min bulk ESS {d.min_ess_bulk:.0f}  divergences {d.divergences}")"""),
    ("code", """\
cols = ["observed", "point_pred", "point_rel_error", "median", "lo50", "hi50", "lo90", "hi90", "inside90"]
pred = pd.concat({task: fit.predictions().set_index("target")[cols] for task, fit in fits.items()})
pred.round(3)"""),
    ("md", """\
Three different answers:

- `hellaswag_val`: point prediction and posterior median agree (0.814 for 7B, 0.835 for 13B), the 90% intervals are
  about +-0.023 wide, and the observed 0.805 and 0.834 fall inside them.
- `winogrande_val`: the intervals are about five times wider ([0.577, 0.790] for 7B,
  [0.587, 0.825] for 13B) and the observed 0.758 and 0.793 fall inside them. The Bayesian median
  (0.659, 0.676) is closer than the point prediction but still 13-15% low: the posterior knows
  that this ladder cannot pin the prediction down.
- `arc_easy_test`: the opposite failure. The intervals are narrow ([0.774, 0.822] for 7B,
  [0.785, 0.833] for 13B) and both large runs score above them (0.832 and 0.870). The ladder
  fits a tight curve, and the 7B and 13B runs beat its trend by more than the run-to-run and
  checkpoint noise learnt from the ladder. A noise model fitted on the ladder cannot foresee a
  systematic difference between the ladder and the large runs."""),
    ("code", """\
fig, ax = fits["winogrande_val"].plot_fan(random_seed=0)
ax.set_title("winogrande_val: ladder runs, predictive band and the 7B/13B runs", fontsize=10)
show(fig)"""),
    ("code", """\
fig, ax = fits["arc_easy_test"].plot_fan(random_seed=0)
ax.set_title("arc_easy_test", fontsize=10)
show(fig)"""),
    ("md", """\
The fans show why. On winogrande the ladder runs stay near chance (0.50-0.55) up to 760M and only
the 1B and 3B runs climb, so the sigmoid from loss to accuracy is barely constrained where the
targets lie, and the band opens up. On arc_easy the ladder traces the whole sigmoid and the band
is narrow, and the two large runs (stars) sit above it."""),
    ("md", """\
## Are the intervals calibrated?

Three tasks cannot tell whether a 90% interval covers 90% of the time. The validation run
(`benchmarks/scaling_validation.py`, results in `validation/results/scaling/`) fitted all 20 tasks
and, on the ladder itself, held out each size in turn (leave-one-size-out: 3B predicted from
190M-1B is an extrapolation, the middle sizes interpolations). `coverage_summary` reads its
tables: the share of observed scores inside the 50% and 90% intervals and the mean log
predictive density against the point prediction's (with the point fit's residual sd)."""),
    ("code", """\
from pathlib import Path

from snrstat.scaling.validation import coverage_summary

results = next((p / "validation" / "results" / "scaling" for p in [Path.cwd(), *Path.cwd().parents]
                if (p / "validation" / "results" / "scaling" / "loso.csv").exists()), None)
if results is None:
    print("validation/results/scaling not found: run benchmarks/scaling_validation.py")
else:
    loso = pd.read_csv(results / "loso.csv")
    targets = pd.read_csv(results / "targets.csv")
    display(coverage_summary(loso, by="held_out").set_index("held_out").round(3))
    display(coverage_summary(targets, by="model").set_index("model").round(3))"""),
    ("md", """\
On the ladder the intervals are calibrated: held out one size at a time, 89-96% of the runs fall
inside their 90% interval and 46-64% inside their 50% interval. For the 3B extrapolation the
posterior predictive has a far better mean log score than the point prediction with its residual
sd (2.50 against -0.53): the point fit's residual sd is much too small to describe an
extrapolation. For the 7B/13B targets coverage drops to 0.85 of the 90% intervals and 0.375 of
the 50% intervals (34 and 15 of 40). The six misses of the 90% interval are ARC tasks
(arc_challenge_test at both sizes, arc_easy_test at both, arc_easy_val at 13B) plus
mmlu_stem_val at 7B, and in five of the six the large run did better than predicted. The
one-step variant (accuracy straight from N and D, without the loss step) covers only 53%.

## Takeaways

- Read a scaling-law prediction as an interval. On tasks like winogrande the interval says that
  the ladder cannot predict the 7B/13B score to better than about +-0.1.
- The two-step Bayesian predictive is calibrated within the ladder and somewhat too narrow for the
  jump to 7B/13B: where the large runs depart from the ladder's trend (here ARC), no noise model
  fitted on the ladder warns us.
- The width of the predictive interval is known before the large model is trained: a per-task
  warning of how far to trust the extrapolation, which the paper's point error only gives after
  the fact."""),
]


ITEMS = [
    ("md", """\
# MMLU-Pro item by item: the benchmark as a sample of questions

The bundled **mmlu-pro** set holds, for 29 released models and each of MMLU-Pro's 12,032
questions (Wang et al. 2024; 10 options, 14 categories), whether the model answered right. A
benchmark score is an average over a *sample* of questions, so two questions are: how sure is a
model's score, and which differences between models are real? (Madaan et al. 2024 ask the same
of many benchmarks.) This notebook fits snrstat's hierarchical item-response model to a random
subset of 400 questions so that it runs in a few minutes; `validation/items_advi.py` fits all
12,032 (mean-field ADVI, checked against NUTS)."""),
    ("code", SETUP),
    ("code", """\
import snrstat
from snrstat.items import compare_all_frequentist, fit_items, item_design
from snrstat.items.anchors import select_anchors
from snrstat.items.plots import plot_items_needed, plot_scores

frame = snrstat.load_dataset("mmlu-pro")
print(f"{len(frame):,} answers, {frame['model'].nunique()} models, {frame['item'].nunique():,} questions")
frame.groupby("model")["value"].mean().sort_values().tail(5)"""),
    ("code", """\
keys = frame["subtask"] + "/" + frame["item"]
subset = np.random.default_rng(0).choice(np.sort(keys.unique()), 400, replace=False)
sub = frame[keys.isin(subset)]
fit = fit_items(sub, n_options=10, interaction=False, method="nuts", draws=500, tune=1000, chains=4, random_seed=0)
print(fit.config["spec_text"])
fit.diagnostics"""),
    ("md", """\
P(correct) = 0.1 + 0.9 logistic(theta_m - b_i): a guessing floor of one in ten, one ability per
model, difficulties pooled by category. (By default each model also gets a deviation per category,
`interaction="auto"`; with 400 questions, about 28 per model and category, those deviations are
barely informed, so this small fit leaves them out; the full fit keeps them.) Each
model gets two scores: on **this item set** (the 400 questions) and on the **population of
items** (a new benchmark drawn the same way); the second interval is wider because it also
counts which questions happened to be drawn."""),
    ("code", """\
show(plot_scores(fit))
fit.scores().head(8)"""),
    ("code", """\
orderings, joint = fit.orderings(level=0.95, tie=0.005)
design = item_design(sub)
freq = compare_all_frequentist(design.matrix(), design.models,
                               clusters=np.asarray(design.categories)[design.item_category], n_boot=500)
print(f"posterior: {(orderings.status == 'resolved').sum()} of {len(orderings)} orderings resolved jointly "
      f"(joint probability {joint:.3f}); McNemar + Holm: {freq.resolved.sum()} resolved")
orderings[orderings.status != "resolved"].head(8)"""),
    ("md", """\
The posterior statement is joint: all resolved orderings hold together with probability at
least 0.95, so no further multiple-comparison correction is needed. McNemar's test with Holm's
correction controls the family-wise error over all 406 pairs and is more conservative.
A base model against its instruction-tuned version on the same questions:"""),
    ("code", """\
res = snrstat.paired_comparison(sub, "Meta-Llama-3_1-8B-Instruct", "Meta-Llama-3_1-8B", cluster="subtask",
                                draws=500, tune=500, chains=2, n_boot=2000)
res.summary()"""),
    ("code", """\
display(fit.variance_shares())
show(plot_items_needed(fit))"""),
    ("md", """\
With one evaluation per model, training noise (seeds, checkpoints) cannot be separated here: the
model says so instead of fitting it from its prior. The item-sampling share is the part of a
score's spread over re-drawn benchmarks that checkpoints scored on the same questions would
share. The curve gives the number of questions a paired comparison needs to separate a gap with
power 0.8. Which questions carry the most information about the models' abilities:"""),
    ("code", """\
items = fit.item_table()
display(items.head(5))
items.groupby("category")["information"].mean().sort_values(ascending=False).head(5)"""),
    ("code", """\
anchors = select_anchors(fit, 40)
print(len(anchors), "anchor questions, e.g.", anchors[:4])"""),
    ("md", """\
Anchor subsets are checked on models left out of the fit and of the selection in
`validation/anchors_items.py` (results in `validation/results/items_anchors.md`): the
predictive intervals of a held-out model's full score should cover it at their nominal rate,
next to a random subset of the same size."""),
]


JUDGES = [
    ("md", """\
# LLM-as-judge noise: judges, answer order, and isolated against relative scoring

Instruction-following evaluations score answers with an LLM judge, and the judge adds its own
noise: the same two answers get another verdict when shown in the other order, when judged by
another model or prompt, or when each answer is scored alone instead of next to the other. This
notebook measures that noise on the bundled **LLMBar** judgments (Zeng et al. 2024: 6 judge models
x 15 prompting strategies x both answer orders on 1,200 answer pairs with gold labels) and answers
a practitioner's question from real data: is scoring answers side by side (pairwise, relative)
more reliable than scoring each answer in isolation (LLMBar's `Rating` strategies, 0-10)?"""),
    ("code", SETUP),
    ("code", """\
import snrstat
from snrstat.judges import fit_judges, judge_counts, mode_comparison_counts, select_judgments

frame = snrstat.load_dataset("llmbar")
print(f"{len(frame):,} judgments, {frame['judge'].nunique()} judges, {frame['strategy'].nunique()} strategies, "
      f"{frame['item'].nunique():,} pairs")
frame.head(4)"""),
    ("md", """\
## Simple counts first

One row is one verdict: `winner` is the answer the judge preferred in the original numbering,
`swap` says whether answer 2 was shown first. On LLMBar's own subsets (Natural and the four
Adversarial sets, 419 pairs) with the plain `Vanilla` prompt:"""),
    ("code", """\
LLMBAR = ["LLMBar/Natural", "LLMBar/Adversarial/"]
plain = judge_counts(select_judgments(frame, subsets=LLMBAR, strategies=["Vanilla"]))
plain.droplevel("strategy")[["accuracy", "flip_rate", "first_rate"]].sort_values("accuracy", ascending=False)"""),
    ("md", """\
GPT-4 changes its verdict in 7% of the pairs when the order is swapped, Falcon in 58%: Falcon
picks the answer shown first 78% of the time. Accuracy against gold runs from 0.85 (GPT-4) to
0.40 (ChatGPT, below a coin on these adversarial pairs). Two judges score each answer alone as
well (`Rating`, `Rating_NoRules`); on the same pairs:"""),
    ("code", """\
mode_comparison_counts(select_judgments(frame, subsets=LLMBAR)).round(3)"""),
    ("md", """\
For GPT-4, isolated rating is about as accurate as the side-by-side verdict but agrees with
itself less often: two isolated scores tie in 10-21% of the pairs, and a tie is decided by
position, so it flips with the order. These are counts on one set of pairs. The model below puts
intervals on them and separates the judge's discrimination from its position bias and its own
misperception of a pair."""),
    ("md", """\
## The judge model

`fit_judges` fits P(judge prefers answer 1) = logistic(k[judge, strategy] x perceived gap + beta[judge,
strategy] x order), where the perceived gap of a pair (oriented to the gold label) has a mean per
judge and subset moved by a `shift` per strategy, a part shared by all judges, and the judge's own
error, shared by its strategies and both orders; isolated ratings follow an ordered logistic on the
same perceived gap with judge-specific thresholds and an offset per rating call shared by the call's
two scores (`omega`: how generous the judge is that time), which is what makes ties common
(science.md section 8). To keep this notebook quick we fit two subsets (Natural and
Adversarial/Neighbor, 234 pairs) with one pairwise and one rating prompt; `snrstat judge` fits all
five LLMBar subsets and two prompts of each mode."""),
    ("code", """\
fit = fit_judges(frame, subsets=["LLMBar/Natural", "LLMBar/Adversarial/Neighbor"], strategies=["Vanilla", "Rating"],
                 draws=500, tune=500, chains=2, random_seed=0)
print(fit.diagnostics)"""),
    ("code", """\
cells = fit.cell_table()
cells[["mode", "accuracy", "accuracy_lo", "accuracy_hi", "accuracy_count", "flip", "flip_lo", "flip_hi", "flip_count",
       "snr", "beta"]].round(3)"""),
    ("code", """\
from snrstat.judges.plots import plot_cells

show(plot_cells(cells, title="Posterior medians and 90% intervals (bars), raw counts (crosses)"))"""),
    ("md", """\
Most counts sit inside or next to the intervals. The fit's own check (in `fit.diagnostics.checks`,
printed above) flags one cell: ChatGPT's isolated ratings tie, and so flip with the order, on 47%
of the pairs against 37% expected. The per-call offset (`omega`: ChatGPT's generosity swings from
call to call far more than GPT-4's) absorbs part of it, not all. Read that cell by its count. The
diagnostics also say that 2 x 500 draws, chosen to keep this notebook quick, leave some judges'
perception noise (`tau`) with a bulk ESS under 400: for conclusions, fit with 4 chains and more
draws. `beta` is the position bias on the logit scale (positive: the answer shown first is
preferred), `snr` the judge's signal-to-noise ratio for ranking: how far its expected verdict moves
across pairs over the noise of a verdict on one pair."""),
    ("code", """\
fit.compare_counts().groupby("quantity")[["inside", "difference"]].agg(["mean", "max"]).round(3)"""),
    ("md", """\
## Isolated rating against pairwise comparison, with intervals

Same judge, same pairs: rating minus pairwise accuracy, rating minus pairwise self-agreement
(1 - flip), and the ratio of their SNRs; `p_rating_better_*` is the posterior probability that
rating does better. Where the check above flags a rating cell, its difference leans on the model's
misfit: the self-agreement and SNR verdicts (both judges agree with themselves less when rating
in isolation) hold in the counts too; the model's GPT-4 accuracy gap (-0.048 [-0.082, -0.016]) is
larger than the one counted (-0.019)."""),
    ("code", """\
fit.mode_comparison().round(3).T"""),
    ("md", """\
## How many pairs, orders and judges?

To tell which of two systems is better, a judge compares their answers on n prompts. `items_needed`
answers how many for 80% power, for a gap between the systems in the model's latent units (the
pairs here spread with an sd of about `sigma_subset`), judging each pair in both orders or in one
random order, with several repeats or several judges. Repeats share the judge's misperception of a
pair, so they buy less than more judges do. `gain_verdicts` > 1 means both orders need fewer
verdicts than one random order: averaging the orders cancels position bias."""),
    ("code", """\
import pandas as pd

plans = [fit.items_needed(cell, gap=(0.25, 0.5, 1.0)) for cell in ("GPT-4|Vanilla", "Falcon|Vanilla")]
plans.append(fit.items_needed("Falcon|Vanilla", gap=(0.5,), judges=3))
plans.append(fit.items_needed("Falcon|Vanilla", gap=(0.5,), repeats=3))
pd.concat(plans)[["cell", "gap", "judges", "repeats", "items", "items_lo", "items_hi", "gain_verdicts"]].round(2)"""),
    ("md", """\
## When does relative scoring help? A simulation

The practitioner moved from isolated to relative scoring because isolated scores were too noisy to
compare models. `simulate_modes` builds a world where four systems answer the same prompts and the
judge's scale drifts from call to call (a per-call offset): scored alone, every answer gets its own
offset; scored side by side, the answers share it and it cancels. Relative scoring loses a little
resolution (a rank instead of a score) and gains everything the offset costs."""),
    ("code", """\
from snrstat.judges import simulate_modes
from snrstat.judges.plots import plot_modes

modes = simulate_modes(n_systems=4, n_items=100, call_sd=(0.0, 0.5, 1.0, 2.0, 4.0), replications=300, random_seed=0)
display(modes.round(3))
show(plot_modes(modes, title="Isolated vs relative scoring, 4 systems, 100 prompts"))"""),
    ("md", """\
## Judge scores against a proxy metric, with noise on both axes

The practitioner also saw judge scores only loosely follow test loss. Both are measured with noise
(the judge's, and the finite prompt and evaluation sets), and regressing one noisy number on another
attenuates the slope and the correlation. `judge_vs_proxy` is the errors-in-variables fit that
`snr_vs_decision` is for SNR and decision accuracy. LLMBar has no losses, so here is a simulated
set of 10 checkpoints whose true judge win rate falls with loss exactly (no scatter), observed with
realistic noise:"""),
    ("code", """\
from scipy.special import expit
from snrstat.judges import judge_vs_proxy

rng = np.random.default_rng(1)
loss = np.linspace(2.2, 2.8, 10)
true = expit(1.0 - 3.0 * (loss - 2.5))
n_prompts = 100
wins = rng.binomial(n_prompts, true) / n_prompts
table = pd.DataFrame({"system": [f"ckpt{i}" for i in range(10)],
                      "proxy_median": loss + rng.normal(0, 0.04, 10), "proxy_sd": 0.04,
                      "judge_median": wins, "judge_sd": np.sqrt(wins * (1 - wins) / n_prompts)})
proxy = judge_vs_proxy(table, draws=1000, tune=1000, chains=2, random_seed=0)
proxy.summary()[["median", "lo", "hi", "point"]].round(3)"""),
    ("md", """\
The `point` column is the ordinary least-squares fit of the observed values: its correlation is
weaker than the latent one, and the posterior of the latent correlation says how much of the
looseness is measurement noise on the two axes rather than a real disagreement."""),
]


NOTEBOOKS = {
    "01_quickstart": QUICKSTART,
    "02_pythia_noise_and_mmlu": PYTHIA,
    "03_scaling_uncertainty": SCALING,
    "04_mmlu_pro_items": ITEMS,
    "05_llm_judge_noise": JUDGES,
}


def make_notebook(cells):
    """An nbformat v4 notebook from ``(kind, source)`` cells."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(src))
        elif kind == "code":
            nb.cells.append(nbformat.v4.new_code_cell(src))
        else:
            raise ValueError(f"cell kind must be 'md' or 'code', got {kind!r}")
    return nb


def execute(nb, cwd: Path, timeout: int = 600):
    """Run every cell in a fresh python3 kernel with ``cwd`` as working directory."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def build(name: str, run: bool = True, timeout: int = 600) -> tuple[Path, float]:
    """Write ``notebooks/<name>.ipynb`` (executed unless ``run=False``); returns (path, seconds)."""
    import nbformat

    if name not in NOTEBOOKS:
        raise SystemExit(f"unknown notebook {name!r}; choose from {sorted(NOTEBOOKS)}")
    nb = make_notebook(NOTEBOOKS[name])
    start = time.perf_counter()
    if run:
        execute(nb, HERE, timeout)
    seconds = time.perf_counter() - start
    path = HERE / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"notebooks to build (default: all of {sorted(NOTEBOOKS)})")
    parser.add_argument("--no-execute", action="store_true", help="write the cells without running them")
    args = parser.parse_args(argv)
    for name in args.names or list(NOTEBOOKS):
        path, seconds = build(name, run=not args.no_execute)
        print(f"{path.name}: {path.stat().st_size / 1024:.0f} kB, executed in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
