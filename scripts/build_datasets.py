"""Rebuild the bundled data sets in snrstat/data from the raw files in shared/data.

    python scripts/build_datasets.py [--source ../shared/data]

Prints row counts, file sizes and import times. The raw files' licences
(Apache-2.0: allenai/OLMo, EleutherAI/pythia, MMLU-Pro; MIT: LLMBar, tau-bench) are copied
beside the output with an attribution header.
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from pathlib import Path

import pandas as pd

import snrstat
from snrstat.datasets import DATASETS

OUT = Path(__file__).resolve().parents[1] / "snrstat" / "data"

# Pythia parameter counts (Biderman et al. 2023, table 1: total parameters).
PYTHIA_PARAMS = {
    "70m": 70_426_624, "160m": 162_322_944, "410m": 405_334_016, "1b": 1_011_781_632,
    "1.4b": 1_414_647_808, "2.8b": 2_775_208_960, "6.9b": 6_857_302_016, "12b": 11_846_072_320,
}
PYTHIA_TOKENS_PER_STEP = 2_097_152  # 1024 sequences x 2048 tokens
BATCH_VARIANT_TOKENS = {"0.25MtokBS": 262_144, "0.5MtokBS": 524_288, "1MtokBS": 1_048_576}
PYTHIA_TASKS = ("arc_easy", "arc_challenge", "lambada_openai", "logiqa", "piqa", "sciq", "winogrande", "wsc")
MMLU_PRO_ATTRIBUTION = """\
snrstat/data/mmlu_pro.parquet is derived from the model output files of MMLU-Pro
(TIGER-AI-Lab/MMLU-Pro, commit f418b116db00b065c2aea046518d8fcf74d39872,
eval_results/model_outputs_<MODEL>_5shots.zip): for each of 29 models and each of 12,032
questions, whether the model's extracted answer letter equals the gold letter. Question texts
are not included. MMLU-Pro: Wang et al. 2024, "MMLU-Pro: A More Robust and Challenging
Multi-Task Language Understanding Benchmark" (arXiv 2406.01574). Licensed under the Apache
License 2.0, reproduced below.

"""
_PYTHIA_DIR = re.compile(r"^pythia-(?P<size>[\d.]+[mb])(?:-(?P<variant>.+))?$")


def build_olmo_ladder(source: Path) -> pd.DataFrame:
    return snrstat.read_olmo_ladder(source / "olmo-ladder")


def _pythia_model(variant: str | None) -> str:
    return "pile" if variant is None else f"pile-{variant}"


def build_pythia(source: Path) -> pd.DataFrame:
    parts = []
    for run_dir in sorted((source / "pythia-evals").iterdir()):
        m = _PYTHIA_DIR.match(run_dir.name)
        if not m:
            continue
        size, variant = m["size"], m["variant"]
        tokens_per_step = BATCH_VARIANT_TOKENS.get(variant or "", PYTHIA_TOKENS_PER_STEP)
        for files_dir in sorted({p.parent for p in run_dir.rglob("*.json")}):
            # baseline/ and intervention/ are short gender-bias fine-tuning runs (steps
            # 134k-143k, some in two lengths): a different question, left out.
            if files_dir.name in ("baseline", "intervention"):
                continue
            frame = snrstat.read_lm_eval(files_dir, model=_pythia_model(variant), size=size)
            frame["params"] = PYTHIA_PARAMS[size]
            frame["tokens"] = frame["step"].astype("float64") * tokens_per_step
            parts.append(frame)
    frame = pd.concat(parts, ignore_index=True)
    # read_lm_eval already turns the old 'hendrycksTest-<subject>' into task mmlu, subtask <subject>.
    keep = frame["task"].isin(PYTHIA_TASKS + ("mmlu",)) & frame["metric"].isin(["acc", "acc_norm", "ppl"])
    frame = frame.loc[keep].copy()
    fewshot = frame["num_fewshot"].fillna(0).astype(int)
    frame.loc[fewshot > 0, "task"] = frame["task"] + "_" + fewshot.astype(str) + "shot"
    # Item counts: the old harness gives only stderr; take each task's most common estimate.
    frame["n_items"] = frame.groupby(["task", "subtask"], dropna=False)["n_items"].transform(
        lambda s: s.mode().iloc[0] if s.notna().any() else pd.NA
    )
    frame.loc[frame["metric"] == "ppl", "n_items"] = pd.NA
    return snrstat.validate(frame.drop(columns=["num_fewshot"]))


def build_mmlu_pro(source: Path) -> pd.DataFrame:
    """MMLU-Pro (Wang et al. 2024) item level: 29 models x 12,032 questions, right/wrong per
    question, from the TIGER-AI-Lab/MMLU-Pro 5-shot output files (see shared/data/README.md)."""
    from snrstat.io.items import read_item_matrix

    frame = read_item_matrix(source / "mmlu-pro" / "mmlu_pro_correct.csv.gz", item="question_id",
                             subtask="category", task="mmlu_pro", metric="acc", keep=["src"])
    frame["src"] = frame["src"].astype("string")
    return frame


LLMBAR_ATTRIBUTION = """\
snrstat/data/llmbar.parquet is derived from the evaluator outputs of LLMBar
(princeton-nlp/LLMBar, commit 900616bff90b6c6c8e1681f7d079250637c55992,
Dataset/**/evaluators/<judge>/<strategy>/result.json): every verdict ("winner", in both
answer orders) and, for the Rating strategies, the score of each answer. Instructions and
answers are not included. LLMBar: Zeng et al. 2024, "Evaluating Large Language Models at
Evaluating Instruction Following" (ICLR 2024, arXiv 2310.07641). Licensed under the MIT
License, reproduced below.

"""


def build_llmbar(source: Path) -> pd.DataFrame:
    """LLMBar (Zeng et al. 2024) judgments: 6 judges x 15 strategies x both orders on 1,200 pairs
    (see shared/data/README.md); item = '<subset>:<index in subset>'."""
    from snrstat.io.judgments import read_judgments

    raw = pd.read_csv(source / "llmbar" / "llmbar_judgments.csv.gz")
    raw["item"] = raw["subset"] + ":" + raw["item"].astype(str)
    frame = read_judgments(raw.drop(columns=["item_hash"]))
    return frame.drop(columns=["system_1", "system_2"])


TAU_BENCH_ATTRIBUTION = """\
snrstat/data/tau_bench.parquet is derived from the historical trajectories of tau-bench
(sierra-research/tau-bench, commit 59a200c, historical_trajectories/gpt-4o-airline.json):
the reward (0 or 1) of gpt-4o on each of the 50 airline tasks in each of 4 trials.
Trajectories are not included. tau-bench: Yao et al. 2024, "tau-bench: A Benchmark for
Tool-Agent-User Interaction in Real-World Domains" (arXiv 2406.12045). Licensed under the
MIT License, reproduced below.

"""


def build_tau_bench(source: Path) -> pd.DataFrame:
    """tau-bench (Yao et al. 2024) airline: one agent (gpt-4o), 50 tasks x 4 repeated trials;
    item = task id, epoch = trial (item-level records, value = reward 0/1)."""
    raw = pd.read_csv(source / "tau-bench" / "gpt-4o-airline-trials.csv")
    frame = pd.DataFrame({"task": "tau_bench_airline", "subtask": "airline", "metric": "reward", "model": "gpt-4o",
                          "item": raw["task_id"].astype(str), "epoch": raw["trial"].astype(str),
                          "value": raw["reward"].astype(float)})
    return snrstat.schema.validate(frame)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--source", type=Path, default=default, help=f"raw data folder (default {default})")
    parser.add_argument("--only", choices=sorted(DATASETS), action="append", help="build just these")
    args = parser.parse_args(argv)
    builders = {"olmo-ladder": build_olmo_ladder, "pythia": build_pythia, "mmlu-pro": build_mmlu_pro,
                "llmbar": build_llmbar, "tau-bench": build_tau_bench}
    for name in args.only or builders:
        build = builders[name]
        start = time.perf_counter()
        frame = build(args.source)
        seconds = time.perf_counter() - start
        path = OUT / DATASETS[name].file
        frame.to_parquet(path, compression="zstd", compression_level=19, index=False)
        print(f"{name}: {len(frame):,} records, imported in {seconds:.1f}s, "
              f"{path.stat().st_size / 1e6:.2f} MB -> {path.relative_to(OUT.parents[1])}")
    shutil.copy(args.source / "olmo-ladder" / "LICENSE", OUT / "LICENSE-olmo-ladder")
    shutil.copy(args.source / "pythia-evals" / "LICENSE", OUT / "LICENSE-pythia")
    (OUT / "LICENSE-mmlu-pro").write_text(MMLU_PRO_ATTRIBUTION + (args.source / "mmlu-pro" / "LICENSE").read_text())
    (OUT / "LICENSE-llmbar").write_text(LLMBAR_ATTRIBUTION + (args.source / "llmbar" / "LICENSE").read_text())
    (OUT / "LICENSE-tau-bench").write_text(TAU_BENCH_ATTRIBUTION + (args.source / "tau-bench" / "LICENSE").read_text())


if __name__ == "__main__":
    main()
