"""``snrstat report``: the main job, an HTML page (and Markdown twin) on one data set."""

from __future__ import annotations

import sys
from pathlib import Path

from snrstat.commands._common import (
    add_data_argument,
    add_last_n_argument,
    add_seed_argument,
    check_output_path,
    data_name,
    load_frame,
    positive_int,
)
from snrstat.inference.batch import add_cluster_arguments, cluster_from_args


def add_parser(sub) -> None:
    parser = sub.add_parser("report", help="write an HTML + Markdown report: which benchmarks to trust, how sure")
    add_data_argument(parser)
    parser.add_argument("--out", type=Path, default=Path("report"),
                        help="output folder (default ./report; checked before anything is fitted)")
    parser.add_argument("--fast", action="store_true",
                        help="sample less, and reuse saved fits whose data hash matches (the bundled sets' "
                             "models/; for other data, the fits saved in OUT/fits by an earlier run)")
    add_last_n_argument(parser, what="last checkpoints of every run in every section")
    add_seed_argument(parser, what="random seed of every fit")
    parser.add_argument("--max-tasks", type=positive_int, default=None, metavar="N",
                        help="fit only the first N tasks of each section (a quick look; default: all)")
    add_cluster_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    import time

    from snrstat.report import Settings, build_report, sections_for

    check_output_path(args.out, what="--out", directory=True)
    start = time.perf_counter()
    frame = load_frame(args.data)
    settings = Settings(fast=args.fast, random_seed=args.random_seed, max_tasks=args.max_tasks,
                        last_n=args.last_n, quiet=getattr(args, "quiet", False), store=args.out / "fits")
    with cluster_from_args(args):  # --scheduler / --workers: the batches of fits run on Dask
        doc = build_report(data_name(args.data), frame, settings, sections_for(frame))
    html, md = doc.write(args.out)
    quiet = getattr(args, "quiet", False)
    print(f"wrote {html} and {md} in {time.perf_counter() - start:.0f}s", file=sys.stderr if quiet else sys.stdout)
    return 0
