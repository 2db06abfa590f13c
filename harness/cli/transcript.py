"""`harness show`: a run's trajectory as a readable transcript.

Every field of the trajectory may be agent text (its thoughts, commands, their
output, error texts quoting them), so each line goes through
:func:`harness.textsafe.visible` and is printed as a rich ``Text``, never as markup:
no terminal control sequence reaches the terminal and no ``[...]`` in the text is
read as style or link.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from harness.run.trajectory import RESULTS, read_records
from harness.textsafe import visible


def _text(text: str, style: str = "") -> Text:
    return Text(visible(text), style=style)


def _clip(text: str, full: bool, lines: int = 40) -> str:
    text = visible(text)  # first: a form feed or U+2028 would count as a line break
    if full:
        return text
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    return "\n".join(parts[:lines]) + f"\n... ({len(parts) - lines} more lines; --full shows all)"


def render(run_dir: Path, *, full: bool = False) -> None:
    console = Console()
    for record in read_records(run_dir):
        kind = record.get("kind")
        if kind == "start":
            model = record.get("model") or {}
            name = model.get("model") or model.get("name") if isinstance(model, dict) else model
            console.print(_text(f"task {record.get('task')} · model {name} · seed {record.get('seed')}", style="bold"))
        elif kind == "step":
            title = _text(f"step {record.get('n')}")  # a str title would be read as markup
            if record.get("thought"):
                console.print(Text(_clip(str(record["thought"]), full, 12), style="italic"))
            console.print(Panel(_text(str(record.get("action") or "(no action: format error)")), title=title,
                                title_align="left", border_style="cyan"))
            if not record.get("action") and record.get("reply") is not None:
                # what the model said instead of an action: the reason for the format error
                console.print(_text("the model's reply:", style="yellow"))
                console.print(Text(_clip(str(record.get("reply") or "(empty reply)"), full, 12), style="italic"))
            console.print(Text(_clip(str(record.get("observation") or ""), full)))
        elif kind == "retry":
            # A malformed reply the mlgym profile asked again for: no step was spent.
            console.print(_text(f"step {record.get('n')}: malformed reply, asked again "
                                f"(attempt {record.get('attempt')})", style="yellow"))
            console.print(Text(_clip(str(record.get("reply") or "(empty reply)"), full, 12), style="italic"))
            console.print(Text(_clip(str(record.get("observation") or ""), full, 12)))
        elif kind == "score":
            console.print(_text(f"score ({record.get('source')}): {record.get('metrics') or record.get('error')}",
                               style="bold green" if record.get("metrics") else "bold red"))
        elif kind == "end":
            console.print(_text(f"end: {record.get('exit_status')} · final {record.get('final_metrics')}", style="bold"))
            if record.get("error"):
                console.print(_text(f"why: {record['error']}", style="bold red"))
    results = Path(run_dir) / RESULTS
    if Path(run_dir).is_dir() and results.is_file():
        data = json.loads(results.read_text())
        console.print(_text(f"steps {data.get('steps')} · cost ${data.get('cost_usd')} · wall {data.get('wall_time_s')} s"))
