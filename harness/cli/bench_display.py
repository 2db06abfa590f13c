"""What `harness bench` shows: a bar for the study, a status line per running episode.

The status lines carry the agents' last commands and the failure lines error texts
that may quote them: they pass through :func:`harness.textsafe.one_line` /
``visible`` and are printed as ``Text`` or with markup off, so nothing in them acts
on the operator's terminal or is read as rich markup.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from harness.textsafe import one_line, visible


class StudyDisplay:
    """Live view on a terminal; one line per finished episode otherwise (logs, CI)."""

    def __init__(self, total: int, done: int, parallel: int) -> None:
        self.console = Console(stderr=True, soft_wrap=True)
        self.total, self.done = total, done
        self.running: dict[str, str] = {}
        """Per running episode: its last step line (or start/status text)."""
        self.doing: dict[str, str] = {}
        """Per running episode: what it is doing now (a phase), shown after its line."""
        self.failed: list[tuple[str, str]] = []
        self.statuses: dict[str, str] = {}
        self._errors: dict[str, str] = {}
        self.progress = Progress(TextColumn("study"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.console)
        self._bar = self.progress.add_task("episodes", total=total, completed=done)
        self._live: Live | None = None
        if done:
            self.console.print(f"resuming: {done} of {total} episodes already finished", highlight=False)

    def __enter__(self) -> StudyDisplay:
        if self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def _render(self) -> Group:
        lines = [Text(f"  {key}: {self.line(key)}", overflow="ellipsis", no_wrap=True) for key in self.running]
        return Group(self.progress, *lines)

    def line(self, key: str) -> str:
        """The running episode's line: its last step, then what it is doing now."""
        done, now = self.running.get(key, ""), self.doing.get(key, "")
        return f"{done}  · now: {now}" if done and now else (done or now)

    def _say(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(visible(text), highlight=False, markup=False, emoji=False)
        else:
            self.console.print(visible(text), highlight=False, markup=False, emoji=False)

    def on_event(self, spec: Any, event: dict[str, Any]) -> None:
        key, kind = spec.key, event.get("event")
        if kind in ("start", "status", "step", "exit"):
            self.doing.pop(key, None)  # a new line, or the episode's end: no phase shown
        if kind == "start":
            gpus = event.get("gpus")
            self.running[key] = "starting" + (f" on GPU {','.join(map(str, gpus))}" if gpus else "")
        elif kind == "status":
            self.running[key] = one_line(str(event.get("text", "")))
        elif kind == "step":
            best = event.get("best")
            self.running[key] = (f"step {event['n']}/{event['max_steps']}  best "
                                 f"{best if best is None else f'{best:.4f}'}  ${event.get('cost', 0):.4f}  "
                                 f"| {one_line(str(event.get('action', '')))}")
        elif kind == "phase":
            from harness.cli.progress import phase_label

            if event.get("name"):
                self.doing[key] = phase_label(str(event.get("name")), str(event.get("detail", "")))
            else:
                self.doing.pop(key, None)
        elif kind == "done":
            self.statuses[key] = event.get("exit_status", "?")
        elif kind == "error":
            self._errors[key] = str(event.get("message", "failed"))  # made visible where printed
        elif kind == "exit":
            self.running.pop(key, None)
            self.progress.advance(self._bar)
            if key in self.statuses:
                self._say(f"{key}: {self.statuses[key]}")
            else:
                why = self._errors.get(key) or f"the worker exited with code {event.get('code')}"
                self.failed.append((key, why))
                self._say(f"{key}: FAILED: {why}")
        if self._live is not None:
            self._live.update(self._render())

    def summary(self, study: Any, tables: tuple | None) -> None:
        out = Console(soft_wrap=True)
        finished = sum(1 for _ in study.results())
        out.print(f"study {study.root}: {finished} of {self.total} episodes finished", highlight=False)
        if tables is not None:
            best, last = tables
            for title, table in (("Best Attempt@k", best), ("Best Submission@k", last)):
                out.print(f"{title} ({study.root / 'tables'})", highlight=False)
                out.print("  " + ",".join(["task", "baseline", *table.models]), highlight=False)
                for task in table.tasks:
                    cells = [_cell(table.baseline.get(task))] + [_cell(table.scores[task].get(m)) for m in table.models]
                    out.print("  " + ",".join([task, *cells]), highlight=False)
            from harness.errors import HarnessError
            from harness.study.metrics import aup_csv, profiles

            try:
                aup = aup_csv(profiles(best, last))
            except HarnessError as err:
                aup = f"(no AUP: {err})"
            out.print("AUP (depends on the set of models compared):", highlight=False)
            out.print("  " + aup.strip().replace("\n", "\n  "), highlight=False)
        if self.failed:
            out.print(f"{len(self.failed)} episode(s) failed; fix the cause and rerun with --resume --out "
                      f"{study.root}", highlight=False)
            for key, why in self.failed[:5]:
                out.print(f"  {key}: {visible(why)}", highlight=False, markup=False, emoji=False)


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
