"""One readable HTML transcript per episode, linked from the report.

What ``harness show`` prints in the terminal, as a page: each step's thought, the
command, and its output (long outputs folded, never cut), the scores as they came,
and how the episode ended. Self-contained (inline CSS), so a transcript can be
mailed or archived on its own. Every text of the trajectory is the agent's or may
quote it, and goes through :func:`harness.report.html.escape`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.report.data import EpisodeRun
from harness.report.html import escape  # also escapes control and bidi characters
from harness.run.trajectory import read_records

FOLD_LINES = 30
"""Outputs longer than this many lines start folded."""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;
color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:8px 0}
.meta{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:8px 12px;margin:10px 0}
.meta td{padding:1px 14px 1px 0;vertical-align:top}
.meta td:first-child{color:#5b6475;white-space:nowrap}
.step{background:#fff;border:1px solid #d8dde6;border-radius:6px;margin:12px 0;padding:8px 12px}
.step h2{font-size:13px;margin:0 0 4px;color:#5b6475;font-weight:600}
.thought{font-style:italic;color:#36405a;white-space:pre-wrap;margin:4px 0}
pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;padding:6px 8px;border-radius:4px;font-size:12.5px;
font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace}
pre.action{background:#eef4ff;border-left:3px solid #3d6fd9}
pre.obs{background:#f4f5f7;border-left:3px solid #b9c0cc}
summary{cursor:pointer;color:#3d6fd9;font-size:12.5px}
.score{border-radius:6px;margin:8px 0;padding:6px 12px;font-weight:600}
.ok{background:#e7f6ec;color:#1c6b36}.bad{background:#fdecea;color:#9c2419}
.warn{background:#fff6dd;border:1px solid #e8c65c;border-radius:6px;padding:8px 12px;margin:10px 0}
.tag{display:inline-block;padding:0 6px;border-radius:3px;background:#e3e7ee;font-size:12px}
a{color:#2857c5}
"""


def _metrics(value: Any) -> str:
    if not isinstance(value, dict) or not value:
        return "none"
    return ", ".join(f"{k} {v:.6g}" if isinstance(v, int | float) else f"{k} {v}" for k, v in value.items())


def _output(text: str) -> str:
    lines = text.count("\n") + 1
    body = f'<pre class="obs">{escape(text)}</pre>'
    if lines > FOLD_LINES:
        return f"<details><summary>output: {lines} lines (click to show)</summary>{body}</details>"
    return body


def _step(record: dict[str, Any]) -> str:
    action = str(record.get("action") or "")
    parts = [f'<div class="step" id="step-{escape(str(record.get("n")))}">']
    facts = [f"step {escape(str(record.get('n')))}"]
    if record.get("exit_code") not in (None, 0):
        facts.append(f"exit code {escape(str(record['exit_code']))}")
    if isinstance(record.get("elapsed_s"), int | float):
        facts.append(f"{record['elapsed_s']:.2f} s")
    if isinstance(record.get("cost"), int | float) and record["cost"]:
        facts.append(f"${record['cost']:.4f}")
    parts.append(f"<h2>{' · '.join(facts)}</h2>")
    if record.get("thought"):
        parts.append(f'<div class="thought">{escape(str(record["thought"]))}</div>')
    if action:
        parts.append(f'<pre class="action">{escape(action)}</pre>')
    else:
        parts.append('<pre class="action">(no action: the reply held no command the interface could parse)</pre>')
        if record.get("reply"):
            parts.append(f"<details><summary>the model's reply</summary><pre class=\"obs\">"
                         f"{escape(str(record['reply']))}</pre></details>")
    parts.append(_output(str(record.get("observation") or "")))
    parts.append("</div>")
    return "\n".join(parts)


def render(episode: EpisodeRun, *, back: str = "") -> str:
    """The transcript page of one episode (``back``: a relative link to the report)."""
    results = episode.results
    title = f"{episode.task} · {episode.model} · run {episode.run if episode.run is not None else '?'}"
    rows = [("task", episode.task), ("model", episode.model), ("run", episode.run),
            ("exit status", episode.exit_status), ("steps", episode.steps), ("run directory", episode.path)]
    if results:
        rows += [("primary metric", f"{results.get('primary_metric')} ({results.get('direction')})"),
                 ("final score", _metrics(results.get("final_metrics"))),
                 ("best validation", _metrics(results.get("best_validation"))),
                 ("baseline", _metrics(results.get("baseline"))),
                 ("cost", f"${episode.cost:.4f}"),
                 ("tokens", f"{results.get('tokens_in', 0):,} in / {results.get('tokens_out', 0):,} out"),
                 ("wall time", f"{results.get('wall_time_s')} s"), ("seed", results.get("seed"))]
        if results.get("error"):
            rows.append(("error", results["error"]))
    table = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in rows)
    body = [f"<h1>{escape(title)}</h1>"]
    if back:
        body.append(f'<p><a href="{escape(back)}">← back to the report</a></p>')
    body.append(f'<table class="meta">{table}</table>')
    if results is None:
        body.append('<div class="warn">This episode did not finish: its run directory has no results.json '
                    "(killed, still running, or failed before its end). The transcript shows what was recorded."
                    "</div>")
    ended = False
    pending: list[str] = []  # a score is recorded while its step runs, before the step's record
    try:
        for record in read_records(episode.path):
            kind = record.get("kind")
            if kind == "step":
                body.append(_step(record))
                body += pending
                pending = []
            elif kind == "score":
                ok = bool(record.get("metrics"))
                what = _metrics(record.get("metrics")) if ok else escape(str(record.get("error")))
                label = f"{record.get('source') or 'score'} (step {record.get('step')})"
                pending.append(f'<div class="score {"ok" if ok else "bad"}">{escape(label)}: {what}</div>')
            elif kind == "end":
                body += pending
                pending = []
                ended = True
                css = "ok" if record.get("final_metrics") else "bad"
                body.append(f'<div class="score {css}">end: <span class="tag">'
                            f'{escape(str(record.get("exit_status")))}</span> · final '
                            f'{escape(_metrics(record.get("final_metrics")))}</div>')
                if record.get("error"):
                    body.append(f'<div class="score bad">error: {escape(str(record["error"]))}</div>')
    except HarnessError as err:
        body.append(f'<div class="warn">The trajectory could not be read to its end: {escape(str(err))}</div>')
    body += pending
    if not ended and results is None:
        body.append('<div class="warn">No end record: the episode stopped here.</div>')
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write(episode: EpisodeRun, path: Path, *, back: str = "") -> Path:
    """Write the transcript of ``episode`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(episode, back=back), encoding="utf-8")
    return path

