"""The live view of an episode (``harness solve``) and its closing summary.

While the episode runs, the view says what it is doing now: which step, which
phase (waiting for the model, running a command, scoring, autosubmitting) and for
how long. The engine announces phases through ``on_phase(name, detail)``
(:data:`harness.run.engine.PhaseHook`); a step's line is printed as soon as the step
ends; a model call that is retried says so when it happens.

On a terminal the phase is one status line that ticks once a second under the step
lines. Elsewhere (a log, CI) each phase is a plain line when it starts, and one when
it ends if it lasted a second or more, indented under the step lines: a few lines a step,
never a line a tick.

Agent text (the command, the summary's error) passes through
:func:`harness.textsafe.one_line` / ``visible`` and reaches rich as ``Text`` or with
markup off, so neither a control sequence nor ``[...]`` markup in it acts on the
operator's terminal (a stray ``[/]`` would even stop the display with a markup error).
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.status import Status
from rich.text import Text

from harness.textsafe import one_line, visible

LONG_PHASE_S = 1.0
"""A phase shorter than this gets no end line off a terminal (its start line and the
step line say enough)."""


def phase_label(name: str, detail: str) -> str:
    """What a phase is called on screen; agent text in ``detail`` made safe."""
    if name == "model":
        return "waiting for the model"
    if name == "command":
        return f"running: {one_line(detail, 80)}" if detail.strip() else "running the command"
    if name == "scoring":
        return "scoring the submission"
    if name == "autosubmitting":  # detail: the status, e.g. "autosubmission (max_steps)", "exit_context"
        reason = one_line(detail.removeprefix("autosubmission").strip().strip("()"), 60)
        return f"autosubmitting ({reason})" if reason else "autosubmitting"
    return one_line(f"{name}: {detail}" if detail else name, 80)


def phase_ended(name: str, seconds: float) -> str:
    """The line that closes a phase off a terminal."""
    done = {"model": "the model replied", "command": "the command ended",
            "scoring": "scored", "autosubmitting": "the autosubmission was scored"}.get(name, f"{name} ended")
    return f"{done} after {seconds:.1f} s"


class _StatusLine:
    """The ticking line: rendered by rich on each refresh, so the seconds move on their own."""

    def __init__(self, display: EpisodeDisplay) -> None:
        self.display = display

    def __rich__(self) -> Text:
        return Text(self.display.status_text(), no_wrap=True, overflow="ellipsis")


class EpisodeDisplay:
    """The view of one episode: phases as they happen, a line per step, the summary."""

    def __init__(self, task: Any, *, quiet: bool = False, max_steps: int | None = None,
                 console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.primary = task.primary.name
        self.max_steps = max_steps
        self.live = self.console.is_terminal
        self.next_step = 1
        self.best: float | None = None
        self._preparing = "starting the episode"
        self._started = False  # a phase has begun: the preparation text is over
        self._phase: tuple[str, str, float] | None = None  # name, label, started (monotonic)
        self._status: Status | None = None

    def __enter__(self) -> EpisodeDisplay:
        if not self.quiet and self.live:
            self._status = self.console.status(_StatusLine(self), refresh_per_second=4)
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)
            self._status = None

    # -- what the episode reports ---------------------------------------------------

    def status(self, text: str) -> None:
        """Preparation (the task environment, its download): shown until the first phase."""
        self._preparing = one_line(text)

    def phase(self, name: str, detail: str) -> None:
        """The engine's ``on_phase``: the current phase ends, ``name`` (if any) begins."""
        if self.quiet:
            return
        if name == "retry":  # an event inside the model phase, not a phase of its own
            self._line(f"  {self._prefix()}{one_line(detail, 200)}")
            return
        self._end_phase()
        if name:
            self._started = True
            label = phase_label(name, detail)
            self._phase = (name, label, time.monotonic())
            if not self.live:
                self._line(f"  {self._prefix()}{label}")

    def retry(self, message: str) -> None:
        """A model call failed and is tried again (``message`` says why and when)."""
        self.phase("retry", message)

    def model_event(self, event: Any) -> None:
        """A model's ``on_event`` (:class:`harness.models.openai.ModelEvent`): a retry or a
        warning, shown as it happens. The message may quote the server: made safe."""
        if event.kind == "retry":
            self.retry(event.message)
        elif not self.quiet:
            self._line(one_line(event.message, 300))

    def step(self, info: Any) -> None:
        """A step ended: its line, printed at once."""
        self._end_phase()
        self.next_step = info.n + 1
        self.best = info.best
        if self.quiet:
            return
        best = f"{info.best:.4f}" if info.best is not None else "-"
        action = one_line(info.action, 60)
        self._line(f"step {info.n}/{info.max_steps}  best {self.primary} {best}  "
                   f"tokens {info.tokens:,}  cost ${info.cost:.4f}  | {action}")

    def status_text(self) -> str:
        """The ticking line: step, phase, seconds in it (the preparation before any phase)."""
        current = self._phase
        if current is None:  # before the first phase, or between two (the step being recorded)
            return f"{self._prefix()}recording" if self._started else self._preparing
        _name, label, started = current
        return f"{self._prefix()}{label}  {time.monotonic() - started:.0f} s"

    # -- internals -------------------------------------------------------------------

    def _prefix(self) -> str:
        if self.max_steps and self.next_step > self.max_steps:  # the closing autosubmission
            return f"after step {self.max_steps} · "
        total = f"/{self.max_steps}" if self.max_steps else ""
        return f"step {self.next_step}{total} · "

    def _end_phase(self) -> None:
        current, self._phase = self._phase, None
        if current is None or self.live or self.quiet:
            return
        name, _label, started = current
        seconds = time.monotonic() - started
        if seconds >= LONG_PHASE_S:
            self._line(f"  {self._prefix()}{phase_ended(name, seconds)}")

    def _line(self, text: str) -> None:
        self.console.print(Text(visible(text)), highlight=False, markup=False, emoji=False, soft_wrap=True)

    def summary(self, result: Any, task: Any) -> None:
        out = Console()
        final = result.final_metrics or {}
        from harness.scoring.scorer import working_baseline

        baseline = working_baseline(task).get(self.primary)
        score = final.get(self.primary)
        verdict = ""
        if score is not None and baseline is not None:
            if abs(score - baseline) <= (task.tolerance or 0):
                verdict = " (matches the baseline)"
            elif task.is_better(score, baseline):
                verdict = " (beats the baseline)"
            else:
                verdict = " (does not beat the baseline)"
        out.print(f"exit status: {result.exit_status}", highlight=False, markup=False)
        out.print(f"final {self.primary}: {score if score is not None else 'none'}{verdict}; "
                  f"baseline {baseline}", highlight=False, markup=False)
        if result.best_validation:
            out.print(f"best validation {self.primary}: {result.best_validation.get(self.primary)}",
                      highlight=False, markup=False)
        out.print(f"steps {result.steps}, tokens {result.tokens_in:,} in / {result.tokens_out:,} out, "
                  f"cost ${result.cost:.4f}, wall time {result.wall_time_s:.1f} s",
                  highlight=False, markup=False)
        if result.error:
            out.print(f"error: {visible(str(result.error))}", highlight=False, markup=False, emoji=False)
        out.print(f"run directory: {result.run_dir}", highlight=False, markup=False)
