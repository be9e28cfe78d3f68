"""A report as a list of sections, rendered twice: self-contained HTML and a Markdown twin.

Figures are matplotlib figures: embedded as base64 PNG in the HTML, written next to the
Markdown as files. Tables are pandas DataFrames. Nothing here knows about statistics.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:0.85em;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td{white-space:nowrap}td:first-child,th:first-child{text-align:left}
.alert{background:#fde8e8;border:1px solid #d33;padding:0.8em 1em;margin:1em 0}
.ok{background:#e8f6e8;border:1px solid #393;padding:0.8em 1em;margin:1em 0}
figure{margin:1em 0}figcaption{font-size:0.85em;color:#555}img{max-width:100%}
"""


#: After the page loads, mark every figure that decoded (``data-shown="yes"``) and report any that
#: did not as a console error, so a headless browser can check that every figure is shown.
_CHECK_FIGURES = (
    "<script>window.addEventListener('load',function(){for(const img of document.images){"
    "if(img.complete&&img.naturalWidth>0){img.setAttribute('data-shown','yes')}"
    "else{console.error('snrstat report: figure not shown: '+img.alt)}}});</script>"
)


@dataclass
class Figure:
    figure: object  # matplotlib Figure
    caption: str
    name: str
    dpi: int = 90

    def __post_init__(self):
        # render now and close: a report holds dozens of figures, and open ones pile up in pyplot
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight")
        plt.close(self.figure)
        self._png = buf.getvalue()

    def png(self) -> bytes:
        """The figure as PNG bytes (rendered when the Figure was made)."""
        return self._png


@dataclass
class Section:
    title: str
    text: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    alert: str | None = None
    ok: str | None = None


@dataclass
class Document:
    title: str
    intro: str = ""
    sections: list[Section] = field(default_factory=list)

    def add(self, section: Section) -> Section:
        self.sections.append(section)
        return section

    def write(self, out_dir: str | Path, stem: str = "report") -> tuple[Path, Path]:
        """Write ``stem.html`` (images embedded) and ``stem.md`` (+ ``figures/``) into out_dir."""
        out = Path(out_dir)
        (out / "figures").mkdir(parents=True, exist_ok=True)
        pngs = {}
        for section in self.sections:
            for fig in section.figures:
                pngs[fig.name] = fig.png()
                (out / "figures" / f"{fig.name}.png").write_bytes(pngs[fig.name])
        html_path, md_path = out / f"{stem}.html", out / f"{stem}.md"
        html_path.write_text(self._html(pngs), encoding="utf-8")
        md_path.write_text(self._markdown(), encoding="utf-8")
        return html_path, md_path

    def _html(self, pngs: dict[str, bytes]) -> str:
        parts = [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>", _paragraphs(self.intro),
        ]
        for section in self.sections:
            parts.append(f"<h2 id='{_slug(section.title)}'>{html.escape(section.title)}</h2>")
            if section.alert:
                parts.append(f"<div class='alert'>{_paragraphs(section.alert)}</div>")
            if section.ok:
                parts.append(f"<div class='ok'>{_paragraphs(section.ok)}</div>")
            parts.append(_paragraphs(section.text))
            for caption, table in section.tables:
                parts.append(f"<h3>{html.escape(caption)}</h3>" if caption else "")
                parts.append(table.to_html(border=0, na_rep="", float_format=_fmt, escape=True))
            for fig in section.figures:
                data = base64.b64encode(pngs[fig.name]).decode("ascii")
                parts.append(
                    f"<figure><img alt='{html.escape(fig.caption)}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>"
                )
        parts.append(_CHECK_FIGURES)
        parts.append("</body></html>")
        return "\n".join(p for p in parts if p)

    def _markdown(self) -> str:
        """The Markdown twin; user text (task, model names) is HTML-escaped as in the HTML page,
        so markup in a name is shown, never interpreted."""
        lines = [f"# {_md(self.title)}", "", _md(self.intro), ""]
        for section in self.sections:
            lines += [f"## {_md(section.title)}", ""]
            for box in (section.alert, section.ok):
                if box:
                    lines += ["> " + _md(line) for line in box.splitlines()] + [""]
            if section.text:
                lines += [_md(section.text), ""]
            for caption, table in section.tables:
                if caption:
                    lines += [f"### {_md(caption)}", ""]
                lines += [_markdown_table(table), ""]
            for fig in section.figures:
                caption = _md(fig.caption).replace("[", "\\[").replace("]", "\\]")
                lines += [f"![{caption}](figures/{fig.name}.png)", "", f"*{caption}*", ""]
        return "\n".join(lines)


def _fmt(x: float) -> str:
    if x != x:  # NaN
        return ""
    return f"{x:.3g}" if abs(x) < 1e4 or x in (float("inf"), float("-inf")) else f"{x:,.0f}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _paragraphs(text: str) -> str:
    """Paragraphs split on blank lines; ``**bold**`` is the one Markdown mark the HTML honours."""
    def render(p: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(p.strip()))
    return "".join(f"<p>{render(p)}</p>" for p in text.split("\n\n") if p.strip())


def _md(text: str) -> str:
    """Text for Markdown: ``<``, ``>`` and ``&`` as HTML entities (no raw HTML reaches a renderer)."""
    return html.escape(str(text), quote=False)


def _md_cell(text: str) -> str:
    return _md(text).replace("|", "\\|").replace("\n", " ")


def _markdown_table(table: pd.DataFrame) -> str:
    frame = table.reset_index() if not isinstance(table.index, pd.RangeIndex) else table
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" -> ".join(str(p) for p in col if str(p)) for col in frame.columns]
    cells = frame.map(lambda v: _fmt(v) if isinstance(v, float) else ("" if pd.isna(v) else _md_cell(v)))
    header = "| " + " | ".join(_md_cell(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(row) + " |" for row in cells.astype(str).to_numpy().tolist()]
    return "\n".join([header, rule, *rows])
