"""HTML building blocks of the release report: escaped text, tables, figures, the page shell.

Every text that comes from data (rows, recipe fields, notes, model ids) goes through `text`
(`html.escape` with quotes), so a row holding `<script>` shows as those characters and never
runs. Markup is only ever made here, from constant strings. Images are embedded as `data:`
URIs and the style sheet and script are inlined, so a page is one file that opens from disk
with no network.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import struct
from pathlib import Path
from typing import Any, Iterable, Sequence

ASSETS = Path(__file__).parent / "data" / "report"
STYLE = ASSETS / "report.css"
SCRIPT = ASSETS / "report.js"


def text(value: Any) -> str:
    """`value` as escaped HTML text (quotes too, so it is safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def number(value: Any, digits: int = 3) -> str:
    """A number for a table cell: integers as is, floats to `digits` significant digits; "–" for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
    return text(value)


def interval(bounds: Sequence[float] | None) -> str:
    """`[lo, hi]` of a 95% interval, or "" when there is none."""
    if not bounds or len(bounds) != 2:
        return ""
    return f"[{number(bounds[0])}, {number(bounds[1])}]"


class Cell:
    """A table cell whose content is already HTML (made by this module), with an optional class."""

    def __init__(self, markup: str, css: str = "") -> None:
        self.markup, self.css = markup, css


def _cell(value: Any) -> str:
    if isinstance(value, Cell):
        return f'<td class="{text(value.css)}">{value.markup}</td>' if value.css else f"<td>{value.markup}</td>"
    if isinstance(value, (int, float)) or value is None:
        return f'<td class="num">{number(value)}</td>'
    return f"<td>{text(value)}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, css: str = "", table_id: str = "",
          row_attributes: Iterable[dict[str, str]] | None = None) -> str:
    """An HTML table; plain values are escaped (numbers right-aligned), `Cell`s inserted as they are."""
    attributes = list(row_attributes) if row_attributes is not None else None
    body = []
    for index, row in enumerate(rows):
        extra = "".join(f' {key}="{text(value)}"' for key, value in (attributes[index] if attributes else {}).items())
        body.append(f"<tr{extra}>" + "".join(_cell(value) for value in row) + "</tr>")
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    ident = f' id="{text(table_id)}"' if table_id else ""
    klass = f' class="{text(css)}"' if css else ""
    return f"<table{ident}{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(png: Path | None, caption: str, missing: str) -> str:
    """A PNG embedded as a data URI with its caption, or a note saying why there is none.

    Shown at half its pixel size: `factory.plots` renders at scale 2 for sharp text.
    """
    if png is None or not Path(png).is_file():
        return f'<p class="missing">{text(missing)}</p>'
    content = Path(png).read_bytes()
    data = base64.b64encode(content).decode("ascii")
    size = ""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:  # plots are rendered at scale 2
        width, height = struct.unpack(">II", content[16:24])
        size = f' width="{width // 2}" height="{height // 2}"'
    return (f'<figure><img src="data:image/png;base64,{data}"{size} alt="{text(caption)}">'
            f"<figcaption>{text(caption)}</figcaption></figure>")


def missing(message: str) -> str:
    """A short note that a section's input is absent."""
    return f'<p class="missing">{text(message)}</p>'


def definition_list(data: Any, depth: int = 0) -> str:
    """Nested dicts and lists as definition lists (provenance); scalars escaped."""
    if isinstance(data, dict):
        if not data:
            return "–"
        items = "".join(f"<dt>{text(key)}</dt><dd>{definition_list(value, depth + 1)}</dd>"
                        for key, value in data.items())
        return f'<dl class="prov">{items}</dl>'
    if isinstance(data, list):
        if all(not isinstance(v, (dict, list)) for v in data):
            return text(", ".join("–" if v is None else str(v) for v in data)) or "–"
        return "".join(definition_list(v, depth + 1) for v in data)
    return number(data) if isinstance(data, (int, float)) and not isinstance(data, bool) else text(data)


def section(anchor: str, title: str, body: str) -> str:
    """A titled section with an anchor for the table of contents."""
    return f'<section id="{text(anchor)}"><h2>{text(title)}</h2>{body}</section>'


def _digest(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def page(title: str, body: str, *, script: bool = False, meta: dict[str, str] | None = None) -> str:
    """A complete HTML document: inline style sheet, optional inline filter script, no external request.

    The Content-Security-Policy allows no request but `data:` images, and only the page's own
    style sheet and script (by their hashes): even a row text that got through unescaped
    could not run code or load anything. `meta` adds `<meta name=... content=...>` tags.
    """
    style = STYLE.read_text(encoding="utf-8")
    code = SCRIPT.read_text(encoding="utf-8") if script else ""
    scripts = _digest(code) if script else "'none'"
    policy = f"default-src 'none'; img-src data:; style-src {_digest(style)}; script-src {scripts}"
    tags = "".join(f'<meta name="{text(k)}" content="{text(v)}">' for k, v in (meta or {}).items())
    head = ('<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}"><link rel="icon" href="data:,">{tags}'
            f"<title>{text(title)}</title><style>{style}</style>" + (f"<script>{code}</script>" if script else ""))
    return f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head><body>{body}</body></html>\n'
