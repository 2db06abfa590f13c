"""The live status line of an episode and its closing summary.

The line shows the agent's last command and the summary its error, both agent
text: they pass through :func:`harness.textsafe.one_line` / ``visible`` and reach
rich as ``Text`` or with markup off, so neither a control sequence nor ``[...]``
markup in them acts on the operator's terminal (a stray ``[/]`` would even stop the
display with a markup error).
"""

from __future__ import annotations

from rich.console import Console
from rich.status import Status
from rich.text import Text

from harness.textsafe import one_line, visible


class EpisodeDisplay:
    """One status line while the episode runs: step, last action, best score, tokens, cost."""

    def __init__(self, task, *, quiet: bool = False) -> None:
        self.console = Console(stderr=True)
        self.quiet = quiet
        self.primary = task.primary.name
        self._status: Status | None = None

    def __enter__(self) -> EpisodeDisplay:
        if not self.quiet:
            self._status = self.console.status("starting the episode")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)
            self._status = None

    def status(self, text: str) -> None:
        if self._status is not None:
            self._status.update(Text(one_line(text)))  # a str would be read as markup

    def step(self, info) -> None:
        if self.quiet:
            return
        best = f"{info.best:.4f}" if info.best is not None else "-"
        action = one_line(info.action, 60)
        line = (f"step {info.n}/{info.max_steps}  best {self.primary} {best}  "
                f"tokens {info.tokens:,}  cost ${info.cost:.4f}  | {action}")
        self.console.print(line, highlight=False, markup=False, emoji=False)

    def summary(self, result, task) -> None:
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
