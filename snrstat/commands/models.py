"""``snrstat models``: list the saved reference fits in models/, or regenerate them."""

from __future__ import annotations

import time

from snrstat.commands._common import add_seed_argument, console, esc, load_frame, name_column, print_json
from snrstat.inference.batch import add_cluster_arguments, cluster_from_args


def add_parser(sub) -> None:
    parser = sub.add_parser("models", help="list or regenerate the saved reference fits (models/)")
    parser.add_argument("--rebuild", action="store_true",
                        help="refit and overwrite the reference fits of --data (4 chains x 1000 draws)")
    parser.add_argument("--data", choices=("olmo-ladder", "pythia", "all"), default="all",
                        help="which bundled data set (default: all)")
    parser.add_argument("--only", choices=("variance", "scaling"), default=None,
                        help="rebuild only the variance fits or only the scaling-law fits")
    add_seed_argument(parser, what="random seed of every fit")
    add_cluster_arguments(parser)
    parser.add_argument("--wide", action="store_true", help="one line per row, however wide the terminal")
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from snrstat.reference import REFERENCE_SETS

    names = list(REFERENCE_SETS) if args.data == "all" else [args.data]
    if args.rebuild:
        with cluster_from_args(args):  # --scheduler / --workers: the variance fits run on Dask
            for name in names:
                rebuild(name, only=args.only, seed=args.random_seed)
    listing = list_models()
    if args.json:
        print_json(listing, indent=1)
    else:
        _render(listing, args)
    return 0


def rebuild(name: str, *, only: str | None = None, seed: int = 0) -> None:
    from snrstat.reference import (
        fit_reference,
        fit_scaling_reference,
        save_reference,
        save_scaling_reference,
    )

    frame = load_frame(name)
    if only in (None, "variance"):
        start = time.perf_counter()
        fits = fit_reference(name, frame, random_seed=seed)
        paths = save_reference(name, fits)
        print(f"{name}: {len(paths)} variance fits saved in {time.perf_counter() - start:.0f}s")
    if only in (None, "scaling") and name == "olmo-ladder":
        start = time.perf_counter()
        fits = fit_scaling_reference(frame, random_seed=seed)
        paths = save_scaling_reference(fits, frame)
        print(f"{name}: {len(paths)} scaling-law fits saved in {time.perf_counter() - start:.0f}s")


def list_models() -> list[dict]:
    """One entry per saved fit: its name (for ``snrstat.load_fit``), kind, size on disk, health."""
    from snrstat.reference import list_fits

    return list_fits()


def _render(listing: list[dict], args=None) -> None:
    from rich.table import Table

    table = Table(title=f"Saved reference fits ({len(listing)}): load with snrstat.load_fit(name)")
    name_column(table, "name", [row["name"] for row in listing])
    table.add_column("kind")
    table.add_column("kB", justify="right")
    table.add_column("diagnostics")
    for row in listing:
        kb = "–" if row["bytes"] is None else f"{row['bytes'] / 1024:.0f}"
        health = "unreadable file" if row["kind"] == "unreadable" else ("ok" if row["ok"] else "FAILED")
        table.add_row(esc(row["name"]), esc(row["kind"]), kb, esc(health))
    console(args).print(table)
