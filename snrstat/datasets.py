"""Real evaluation data bundled with snrstat, so everything runs without a download.

The files in ``snrstat/data`` are built from ``shared/data`` by
``scripts/build_datasets.py``; each source's licence ships beside the data (``LICENSE-<name>``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from snrstat.schema import DataError, run_ids, validate


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    file: str
    source: str
    licence: str
    description: str
    varies: str
    #: "module:function" that validates the frame read from ``file`` (default: snrstat.schema.validate)
    reader: str = "snrstat.schema:validate"


DATASETS = {
    "olmo-ladder": DatasetInfo(
        name="olmo-ladder",
        file="olmo_ladder.parquet",
        source="allenai/OLMo @ 9bc064c7, scripts/scaling/data/peteish-moreeval (Bhagia et al. 2024)",
        licence="Apache-2.0 (snrstat/data/LICENSE-olmo-ladder)",
        description=(
            "In-loop evaluations of the OLMo 2 model ladder (190M-3B at 0.5-10x Chinchilla tokens) "
            "and of the 7B/13B runs it predicts; the data of the signal-and-noise paper's scaling laws."
        ),
        varies=(
            "model = token multiplier (0.5xC..10xC) or target run (peteish7, peteish13, ...); size; "
            "step (every 50-1000 steps); seed '1' = the -rerun replicate of 1xC"
        ),
    ),
    "pythia": DatasetInfo(
        name="pythia",
        file="pythia.parquet",
        source="EleutherAI/pythia @ a19eecb8, evals/pythia-v1 (lm-evaluation-harness results)",
        licence="Apache-2.0 (snrstat/data/LICENSE-pythia)",
        description=(
            "Pythia 70m-12b trained on the Pile and on the deduplicated Pile, zero- and five-shot, "
            "with numerics and batch-size variants; MMLU's 57 subjects are subtasks of 'mmlu'."
        ),
        varies=(
            "model = data recipe (pile, pile-deduped) or variant (pile-bf16, pile-0.5MtokBS, ...); "
            "size; step (27 zero-shot / 15 five-shot checkpoints); task suffix _5shot = five-shot"
        ),
    ),
    "mmlu-pro": DatasetInfo(
        name="mmlu-pro",
        file="mmlu_pro.parquet",
        source="TIGER-AI-Lab/MMLU-Pro @ f418b116, eval_results/model_outputs_*_5shots (Wang et al. 2024)",
        licence="Apache-2.0 (snrstat/data/LICENSE-mmlu-pro)",
        description=(
            "Item level: 29 released models x 12,032 MMLU-Pro questions (10 options, chance 0.1), "
            "right/wrong per question (value 0/1, column item = question id, subtask = one of 14 categories)."
        ),
        varies="model (29 models, one evaluation each: no seeds or checkpoints); item; subtask = category",
    ),
    "llmbar": DatasetInfo(
        name="llmbar",
        file="llmbar.parquet",
        source="princeton-nlp/LLMBar @ 900616bf, Dataset/**/evaluators/*/*/result.json (Zeng et al. 2024)",
        licence="MIT (snrstat/data/LICENSE-llmbar)",
        description=(
            "Judgments, not evaluation records (read with snrstat.read_judgments' columns): 88,912 verdicts of "
            "6 LLM judges x 15 prompting strategies x both answer orders on 1,200 answer pairs with gold labels; "
            "the Rating strategies score each answer alone (0-10)."
        ),
        varies="judge; strategy (mode pairwise or rating); swap (order shown); item within 13 subsets; repeat",
        reader="snrstat.io.judgments:read_judgments",
    ),
    "tau-bench": DatasetInfo(
        name="tau-bench",
        file="tau_bench.parquet",
        source="sierra-research/tau-bench @ 59a200c, historical_trajectories/gpt-4o-airline.json (Yao et al. 2024)",
        licence="MIT (snrstat/data/LICENSE-tau-bench)",
        description=(
            "Item level with repeats: one agent (gpt-4o) on the 50 tau-bench airline tasks, 4 trials each "
            "(value = reward 0/1, item = task id, epoch = trial): repeated-sampling noise of one model."
        ),
        varies="item (50 tasks); epoch (4 trials of the same model on the same task)",
    ),
}


def _info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; available: {sorted(DATASETS)}") from None


def load_dataset(name: str) -> pd.DataFrame:
    """The bundled data set ``name`` (see :func:`list_datasets`) as a validated tidy frame."""
    info = _info(name)
    with resources.as_file(resources.files("snrstat") / "data" / info.file) as path:
        if not path.exists():
            raise DataError(f"bundled file {path} is missing; rebuild it with scripts/build_datasets.py")
        frame = pd.read_parquet(path)
    if info.reader == "snrstat.schema:validate":
        return validate(frame)
    module, func = info.reader.split(":")
    return getattr(importlib.import_module(module), func)(frame)


def list_datasets() -> pd.DataFrame:
    """One row per bundled data set: source, licence, description and what varies."""
    return pd.DataFrame([vars(info) for info in DATASETS.values()]).set_index("name")


def summarize(frame: pd.DataFrame) -> dict:
    """Counts that tell a newcomer what a frame holds (a judgment table: judges, strategies, items)."""
    if "judge" in frame.columns:
        return {"records": len(frame), "judges": int(frame["judge"].nunique()),
                "strategies": int(frame["strategy"].nunique()) if "strategy" in frame.columns else 0,
                "subsets": int(frame["subset"].nunique()) if "subset" in frame.columns else 0,
                "items": int(frame.drop_duplicates([c for c in ("subset", "item") if c in frame.columns]).shape[0])}
    return {
        "records": len(frame),
        "runs": int(run_ids(frame).nunique()),
        "models": int(frame["model"].nunique()),
        "sizes": int(frame["size"].nunique()),
        "tasks": int(frame["task"].nunique()),
        "subtasks": int(frame["subtask"].nunique()),
        "metrics": int(frame["metric"].nunique()),
        "checkpoints per run (median)": float(
            frame.groupby(run_ids(frame))["step"].nunique().median()
        ),
    }
