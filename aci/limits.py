"""Episode limits and the exit status each one leads to.

A :class:`Budget` counts steps, cost, wall time and consecutive format errors,
and checks the context size the episode passes in. The statuses follow MLGym's
names so results compare: reaching the step or cost limit autosubmits the
current submission (``autosubmission (max_steps)``, ``autosubmission (exit_cost)``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

SUBMITTED = "submitted"
AUTOSUBMIT_STEPS = "autosubmission (max_steps)"
AUTOSUBMIT_COST = "autosubmission (exit_cost)"
EXIT_CONTEXT = "exit_context"
EXIT_FORMAT = "exit_format"
EXIT_ERROR = "exit_error"
EXIT_WALL_TIME = "exit_wall_time"
INTERRUPTED = "interrupted"

EXIT_STATUSES = (SUBMITTED, AUTOSUBMIT_STEPS, AUTOSUBMIT_COST, EXIT_CONTEXT, EXIT_FORMAT,
                 EXIT_ERROR, EXIT_WALL_TIME, INTERRUPTED)
AUTOSUBMIT_STATUSES = frozenset({AUTOSUBMIT_STEPS, AUTOSUBMIT_COST})


MLGYM_REASONS = {AUTOSUBMIT_STEPS: "max_steps", AUTOSUBMIT_COST: "exit_cost", EXIT_CONTEXT: "exit_context",
                 EXIT_FORMAT: "exit_format", EXIT_WALL_TIME: "exit_wall_time"}
"""The word MLGym puts in brackets for each limit (``autosubmission (max_steps)``); the
wall time is ours (MLGym has none), named the same way."""


def mlgym_status(reason: str, *, scored: bool, found: bool) -> str:
    """MLGym's exit status for an episode that ``reason`` ended (``submit`` or a limit).

    ``scored``: the submission was scored; else ``found`` says whether its files were
    there at all. A scored submit is ``submitted``; a scored limit
    ``autosubmission (max_steps)``; a missing submission ``submission_not_found (submit)``;
    one the scorer refused ``evaluation_format_error (exit_context)``, and so on.
    """
    word = MLGYM_REASONS.get(reason, reason)
    if scored:
        return SUBMITTED if word == "submit" else f"autosubmission ({word})"
    return f"{'evaluation_format_error' if found else 'submission_not_found'} ({word})"


def is_autosubmission(status: str | None) -> bool:
    """True for the statuses whose episode ended by scoring the current submission."""
    return status in AUTOSUBMIT_STATUSES or bool(status and status.startswith("autosubmission ("))


def ended_by_agent(status: str | None) -> bool:
    """True when the agent's own replies ended the episode (a submit, malformed replies,
    a failed submit under MLGym's names), not a limit or the harness."""
    return status in (SUBMITTED, EXIT_FORMAT, EXIT_ERROR) or bool(
        status and status.endswith(("(submit)", "(exit_format)")))


@dataclass
class Budget:
    """The limits of one episode and what has been used of them."""

    max_steps: int = 50
    """Model replies the agent may make."""
    max_cost: float = 4.0
    """USD the model calls may cost; 0 means no limit."""
    context_tokens: int | None = None
    """The model's context window; None means unchecked."""
    reserve_tokens: int = 0
    """Tokens kept free for the model's reply when checking the context."""
    max_wall_time_s: float | None = None
    """Seconds the episode may take; None means no limit."""
    max_format_errors: int = 3
    """Consecutive malformed replies before the episode ends with ``exit_format``."""

    steps: int = 0
    cost: float = 0.0
    format_errors: int = 0
    started: float = field(default_factory=time.monotonic)

    def start(self) -> None:
        """Restart the wall clock (when the episode really begins)."""
        self.started = time.monotonic()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def add_step(self, cost: float = 0.0) -> None:
        """Count one model reply and its cost."""
        self.steps += 1
        self.cost += cost

    def add_cost(self, cost: float) -> None:
        """Count a reply's cost without a step (a malformed reply asked again)."""
        self.cost += cost

    def format_error(self) -> str | None:
        """Count a malformed reply; ``exit_format`` once there were too many in a row."""
        self.format_errors += 1
        return EXIT_FORMAT if self.format_errors >= self.max_format_errors else None

    def format_ok(self) -> None:
        self.format_errors = 0

    def context_exceeded(self, tokens: int) -> bool:
        return self.context_tokens is not None and tokens + self.reserve_tokens > self.context_tokens

    def exceeded(self, context_tokens: int | None = None) -> str | None:
        """The exit status a limit has reached, or None to go on.

        Checked after each step: steps, then cost, then wall time, then (if given)
        the context size of the next request.
        """
        if self.steps >= self.max_steps:
            return AUTOSUBMIT_STEPS
        if self.max_cost and self.cost >= self.max_cost:
            return AUTOSUBMIT_COST
        if self.max_wall_time_s is not None and self.elapsed_s >= self.max_wall_time_s:
            return EXIT_WALL_TIME
        if context_tokens is not None and self.context_exceeded(context_tokens):
            return EXIT_CONTEXT
        return None
