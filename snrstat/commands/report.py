"""``snrstat report``: the main job, an HTML page (and Markdown twin) on one data set."""

from __future__ import annotations

from pathlib import Path

from snrstat.commands._common import add_data_argument, load_frame


def add_parser(sub) -> None:
    parser = sub.add_parser("report", help="write an HTML + Markdown report: which benchmarks to trust, how sure")
    add_data_argument(parser)
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder (default ./report)")
    parser.add_argument("--fast", action="store_true",
                        help="reuse the saved reference fits in models/ and sample less (about 3 minutes)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of every fit (default 0)")
    parser.add_argument("--max-tasks", type=int, default=None, metavar="N",
                        help="fit only the first N tasks of each section (a quick look; default: all)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import time

    from snrstat.report import SECTIONS, Settings, build_report

    if args.max_tasks is not None and args.max_tasks < 1:
        import sys

        print(f"error: --max-tasks must be at least 1, got {args.max_tasks}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    frame = load_frame(args.data)
    name = args.data if "/" not in str(args.data) else Path(args.data).stem
    doc = build_report(name, frame, Settings(fast=args.fast, random_seed=args.seed, max_tasks=args.max_tasks), SECTIONS)
    html, md = doc.write(args.out)
    print(f"wrote {html} and {md} in {time.perf_counter() - start:.0f}s")
    return 0
