"""``snrstat models``: list the saved reference fits in models/, or regenerate them."""

from __future__ import annotations

import json
import time

from snrstat.commands._common import load_frame


def add_parser(sub) -> None:
    parser = sub.add_parser("models", help="list or regenerate the saved reference fits (models/)")
    parser.add_argument("--rebuild", action="store_true",
                        help="refit and overwrite the reference fits of --data (4 chains x 1000 draws)")
    parser.add_argument("--data", choices=("olmo-ladder", "pythia", "all"), default="all",
                        help="which bundled data set (default: all)")
    parser.add_argument("--only", choices=("variance", "scaling"), default=None,
                        help="rebuild only the variance fits or only the scaling-law fits")
    parser.add_argument("--seed", type=int, default=0, help="random seed of every fit (default 0)")
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from snrstat.reference import REFERENCE_SETS

    names = list(REFERENCE_SETS) if args.data == "all" else [args.data]
    if args.rebuild:
        for name in names:
            rebuild(name, only=args.only, seed=args.seed)
    listing = list_models()
    if args.json:
        print(json.dumps(listing, indent=1))
    else:
        _render(listing)
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
    from snrstat.reference import models_dir

    root = models_dir()
    out = []
    for card_path in sorted(root.glob("**/*.json")):
        if card_path.name == "index.json":
            continue
        card = json.loads(card_path.read_text())
        nc = card_path.with_suffix(".nc")
        diag = card.get("diagnostics", {})
        out.append({
            "name": _name(card_path.relative_to(root)),
            "kind": card.get("kind", "?"),
            "bytes": nc.stat().st_size if nc.exists() else None,
            "ok": bool(diag.get("ok", False)),
        })
    return out


def _name(rel) -> str:
    parts = list(rel.with_suffix("").parts)
    return "/".join(parts[:-1] + parts[-1].split("--"))


def _render(listing: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Saved reference fits ({len(listing)}): load with snrstat.load_fit(name)")
    for col in ("name", "kind", "kB", "diagnostics"):
        table.add_column(col, justify="right" if col == "kB" else "left")
    for row in listing:
        kb = "–" if row["bytes"] is None else f"{row['bytes'] / 1024:.0f}"
        table.add_row(row["name"], row["kind"], kb, "ok" if row["ok"] else "FAILED")
    Console().print(table)
