"""HTML pieces of the report page: one file, inline CSS and inline SVG figures.

Only escaping and layout live here; what goes into each table is decided by the
builder. Nothing on the page loads from elsewhere: the only links are to the
episodes' transcripts beside the page. Text reaches the page through :func:`escape`
only, which also shows control and bidi characters escaped (agent text is hostile).
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from harness.textsafe import visible

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:1280px;margin:0 auto;padding:12px 28px 60px}
h1{font-size:24px;margin:16px 0 4px}
h2{font-size:19px;margin:34px 0 8px;padding-top:10px;border-top:2px solid #d8dde6}
h3{font-size:15px;margin:18px 0 6px}
p{margin:6px 0}
nav{position:sticky;top:0;background:#fafbfcee;padding:6px 0;border-bottom:1px solid #d8dde6;z-index:2;
font-size:13px}
nav a{margin-right:14px}
a{color:#2857c5}
table{border-collapse:collapse;margin:8px 0 14px;background:#fff;font-size:13px}
th,td{border:1px solid #d8dde6;padding:4px 9px;text-align:right;white-space:nowrap}
th{background:#eef1f6;font-weight:600}
td.l,th.l{text-align:left}
td.best{background:#dff3e4;font-weight:700}
td.worse{color:#8a93a3}
td.none{color:#b0b6c2;text-align:center}
.runs{color:#8a93a3;font-size:11px;font-weight:400;margin-left:4px}
.pub{color:#5b6475}
th.ours{background:#dde7fb;color:#1a3f99}
.facts td{text-align:left;border:none;padding:1px 14px 1px 0;background:none}
.facts td:first-child{color:#5b6475}
.facts{background:none}
.note{background:#fff6dd;border:1px solid #e8c65c;border-radius:6px;padding:8px 12px;margin:10px 0}
.note ul{margin:4px 0;padding-left:20px}
.key{background:#eef4ff;border:1px solid #b5c8f2;border-radius:6px;padding:8px 12px;margin:10px 0}
figure{margin:10px 0 18px;background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:8px}
figure svg{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:12px;color:#5b6475;margin-top:4px}
.scroll{overflow-x:auto}
.status{display:inline-block;padding:0 6px;border-radius:3px;background:#e3e7ee;font-size:12px}
.st-submitted{background:#dff3e4}.st-incomplete,.st-interrupted{background:#eceef2;color:#5b6475}
.st-exit_error{background:#fdecea;color:#9c2419}
"""


def escape(text: str, quote: bool = True) -> str:
    """``text`` for HTML: markup characters escaped, and control and bidi characters too.

    Agent text (commands, outputs, error texts) may hold terminal escapes, which
    would reach a terminal raw if the page is ``cat``-ed or ``grep``-ed, and bidi
    overrides, which make a line read in the browser as something it is not; a lone
    surrogate would even stop the page being written as UTF-8. All are shown as
    their escapes (:func:`harness.textsafe.visible`).
    """
    return _html.escape(visible(text), quote)


def fmt(value: float | None) -> str:
    """A score as a person reads it: 4 decimals for small values, thousands separated."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    size = abs(value)
    if size >= 1e6:
        return f"{value:.3e}"
    if size >= 1000:
        return f"{value:,.1f}"
    if size >= 1 or size == 0:
        return f"{value:.3f}"
    return f"{value:.4f}"


def usd(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, left: int = 1, cls: str = "") -> str:
    """A plain table; the first ``left`` columns align left. Cells are escaped unless ``Raw``."""
    out = [f'<div class="scroll"><table class="{cls}"><tr>']
    out += [f'<th class="{"l" if i < left else ""}">{_cell(h)}</th>' for i, h in enumerate(header)]
    out.append("</tr>")
    for row in rows:
        out.append("<tr>" + "".join(
            f'<td class="{"l" if i < left else ""}">{_cell(c)}</td>' for i, c in enumerate(row)) + "</tr>")
    out.append("</table></div>")
    return "".join(out)


class Raw(str):
    """Markup that ``table`` must not escape."""


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, float):
        return fmt(value)
    return escape(str(value))


def link(href: str, text: str) -> Raw:
    return Raw(f'<a href="{escape(href)}">{escape(text)}</a>')


def status(name: str) -> Raw:
    css = "st-" + "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return Raw(f'<span class="status {css}">{escape(name)}</span>')


def _marks(table: Any, task: str) -> tuple[float | None, float | None, bool]:
    """(best model score, baseline, minimize) of one task's row."""
    minimize = task in table.minimize
    values = [v for v in (table.scores.get(task) or {}).values() if v is not None]
    best = (min(values) if minimize else max(values)) if values else None
    return best, table.baseline.get(task), minimize


def _score_cell(table: Any, valid: dict[str, dict[str, tuple[int, int]]], task: str, model: str) -> str:
    best, base, minimize = _marks(table, task)
    value = (table.scores.get(task) or {}).get(model)
    counts = (valid.get(task) or {}).get(model)
    runs = f'<span class="runs">{counts[0]}/{counts[1]}</span>' if counts else ""
    if value is None:
        return f'<td class="none">—{runs}</td>'
    if best is not None and value == best:
        return f'<td class="best">{fmt(value)} ★{runs}</td>'
    worse = base is not None and not (value < base if minimize else value > base)
    return f'<td class="{"worse" if worse else ""}">{fmt(value)}{runs}</td>'


def score_table(table: Any, valid: dict[str, dict[str, tuple[int, int]]], *, ours: Sequence[str],
                names: dict[str, str] | None = None, by_model: bool = False) -> str:
    """Scores with the baseline; the best per task marked, those not beating the baseline dimmed.

    One row per task (``by_model``: one row per model, for many models), the
    study's models' headings tinted when published models share the table.
    """
    published = len(ours) < len(table.models)

    def label(task: str) -> str:
        return task if not names or task not in names else f"{task} ({names[task]})"

    out = ['<div class="scroll"><table>']
    if by_model:
        out.append('<tr><th class="l">model</th>')
        out += [f"<th>{escape(label(t))}<br><small>{'lower ↓' if t in table.minimize else 'higher ↑'}"
                "</small></th>" for t in table.tasks]
        out.append('</tr><tr><td class="l"><em>baseline</em></td>')
        out += [f"<td>{fmt(table.baseline.get(t))}</td>" for t in table.tasks]
        out.append("</tr>")
        for model in table.models:
            css = "ours" if published and model in ours else ""
            out.append(f'<tr><th class="l {css}">{escape(model)}</th>')
            out += [_score_cell(table, valid, t, model) for t in table.tasks]
            out.append("</tr>")
        return "".join(out) + "</table></div>"
    out.append('<tr><th class="l">task</th><th class="l">metric</th><th>baseline</th>')
    out += [f'<th class="{"ours" if published and m in ours else ""}">{escape(m)}</th>' for m in table.models]
    out.append("</tr>")
    for task in table.tasks:
        out.append(f'<tr><td class="l">{escape(label(task))}</td>'
                   f'<td class="l">{"lower ↓" if task in table.minimize else "higher ↑"}</td>'
                   f"<td>{fmt(table.baseline.get(task))}</td>")
        out += [_score_cell(table, valid, task, m) for m in table.models]
        out.append("</tr>")
    return "".join(out) + "</table></div>"


def figure(svg: str, caption: str, files: Sequence[str]) -> str:
    links = " · ".join(escape(f) for f in files)
    return f"<figure>{svg}<figcaption>{escape(caption)} (files: {links})</figcaption></figure>"


def note(items: Sequence[str], *, title: str = "") -> str:
    if not items:
        return ""
    head = f"<strong>{escape(title)}</strong>" if title else ""
    if len(items) == 1 and not title:
        return f'<div class="note">{escape(items[0])}</div>'
    return f'<div class="note">{head}<ul>' + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul></div>"


def page(title: str, sections: Sequence[tuple[str, str, str]], header: str) -> str:
    """The whole page: ``sections`` are (anchor, heading, body HTML)."""
    nav = "".join(f'<a href="#{escape(anchor)}">{escape(heading)}</a>' for anchor, heading, _ in sections)
    body = "".join(f'<section id="{escape(anchor)}"><h2>{escape(heading)}</h2>{html}</section>'
                   for anchor, heading, html in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head><body><main><h1>{escape(title)}</h1>{header}<nav>{nav}</nav>"
            f"{body}</main></body></html>\n")
