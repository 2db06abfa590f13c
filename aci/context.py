"""What a tool may touch: the :class:`ToolContext` of one episode.

Tools never see the Task, the model or the sandbox object: they get the
workspace's host-side file API, a way to run a shell command, the scorer, the
memory store and a little per-episode state. The episode builds one context and
passes it to every tool call.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from aci.protocols import Files, Linter, Memory, ScoreLike, Scorer, Shell

_CHECKOUT = str(Path(__file__).resolve().parent.parent)
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~/:>-])/[^\s'\"`:,;()\[\]{}<>|]+")
"""An absolute path in a message (not the tail of ``a/b``, ``../x`` or a URL)."""


@dataclass
class ScoreRecord:
    """One scoring of the submission during the episode."""

    kind: str
    """``validate``, ``submit`` or the autosubmission status."""
    step: int
    metrics: dict[str, float] | None
    error: str | None


@dataclass
class ToolContext:
    """Everything a tool call may use; one per episode."""

    files: Files
    """The workspace, by workspace-relative path; refuses paths that escape it."""
    run: Shell | None = None
    """Run a shell command in the sandbox: ``run(command, timeout) -> Result``."""
    command_timeout: float = 600.0
    """Seconds a shell command may run (the task's per-command timeout)."""
    score: Scorer | None = None
    """Score the current submission; None when the task has no scorer."""
    baseline: dict[str, float] | None = None
    """The task's baseline metrics, shown next to validation scores."""
    memory: Memory | None = None
    """The memory store; None turns the memory tools off."""
    window: int = 100
    """Lines the file viewer shows at a time."""
    lint: Linter | None = None
    """Optional linter ``(filename, text) -> error lines`` run on edits of .py files."""
    cwd: Callable[[], str] | None = None
    """The shell's current directory (a sandbox path); relative tool paths start there."""
    on_score: Callable[[ScoreRecord], None] | None = None
    """Called for every validate/submit/autosubmit score, e.g. to write the trajectory."""
    step: int = 0
    """The current step; the episode updates it."""
    submission: tuple[str, ...] = ()
    """The submission's workspace-relative paths (to tell a missing one from a bad one)."""
    mlgym_exits: bool = False
    """MLGym's exit statuses; a submit that cannot be scored ends the episode (the
    ``mlgym`` profile)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Per-episode tool state (the viewer's open file and line live here)."""
    scores: list[ScoreRecord] = field(default_factory=list)
    exit_status: str | None = None
    """Set by ``submit`` (or :meth:`autosubmit`): the episode ends when it is not None."""
    final_metrics: dict[str, float] | None = None

    # -- ending the episode and recording scores -----------------------------------

    @property
    def open_file(self) -> str | None:
        """The sandbox path of the file open in the viewer, if any."""
        return self.state.get("open_display") if "open_file" in self.state else None

    @property
    def done(self) -> bool:
        return self.exit_status is not None

    def finish(self, status: str, metrics: dict[str, float] | None = None) -> None:
        self.exit_status = status
        self.final_metrics = metrics

    def record_score(self, kind: str, result: ScoreLike | None) -> ScoreRecord:
        record = ScoreRecord(
            kind=kind,
            step=self.step,
            metrics=dict(result.metrics) if result is not None and result.metrics else None,
            error=None if result is None else result.error,
        )
        self.scores.append(record)
        if self.on_score is not None:
            self.on_score(record)
        return record

    def autosubmit(self, status: str) -> ScoreRecord | None:
        """Score the workspace's current submission and end with ``status``.

        For the step and cost limits: ``autosubmission (max_steps)`` and
        ``autosubmission (exit_cost)``. With :attr:`mlgym_exits` the status becomes
        MLGym's for the outcome (``submission_not_found (exit_format)`` …). Returns the
        record (None without a scorer).
        """
        record = None
        if self.score is not None:
            try:
                result = self.score()
            except Exception as err:  # noqa: BLE001 - a failed autosubmission is a result
                failure = ScoreFailure(self.hide_host_paths(f"{type(err).__name__}: {err}"))
                record = self.record_score(status, failure)
            else:
                record = self.record_score(status, result)
        if record is not None and self.mlgym_exits:
            status = self.mlgym_status(status, record)
        self.finish(status, record.metrics if record else None)
        return record

    def mlgym_status(self, reason: str, record: ScoreRecord) -> str:
        """MLGym's name for ending by ``reason`` (``submit`` or a limit) with ``record``."""
        from aci.limits import mlgym_status

        found = all(self._present(path) for path in self.submission)
        return mlgym_status(reason, scored=record.metrics is not None and not record.error, found=found)

    def _present(self, path: str) -> bool:
        """Whether the agent left something at ``path``; a link out of the workspace is
        there (and was refused by the scorer: an evaluation format error, not a crash)."""
        from aci.errors import PathEscapeError

        try:
            return self.files.exists(path)
        except PathEscapeError:
            return True

    # -- paths ---------------------------------------------------------------------

    def hide_host_paths(self, text: str, *, every_path: bool = False) -> str:
        """``text`` without the host's paths, for an exception message shown to the agent.

        A crash deep in the harness (the scorer's sandbox, its temp dir) names host
        paths; the agent must learn neither where its workspace lives nor where the
        harness is installed. The workspace, the checkout and the temp dir get names;
        with ``every_path`` any other absolute path outside the sandbox's workspace
        becomes ``<host path>`` too (for exceptions from code we did not write, such
        as a custom tool's).
        """
        shown_root = str(self.files.display_root)
        text = text.replace(str(self.files.root), shown_root)
        for host, shown in ((_CHECKOUT, "<harness>"), (tempfile.gettempdir(), "<host temp dir>")):
            text = re.sub(re.escape(host.rstrip("/")) + r"(?=/|\b)", shown, text)
        if every_path:
            text = _ABSOLUTE_PATH.sub(
                lambda m: m.group(0) if _inside(m.group(0), shown_root) else "<host path>", text)
        return text

    def sandbox_path(self, path: str | None = None) -> str:
        """The absolute sandbox path of a path the agent typed (relative to its cwd)."""
        raw = (path or ".").strip()
        posix = PurePosixPath(raw)
        if not posix.is_absolute():
            base = PurePosixPath(self.cwd()) if self.cwd is not None else self.files.display_root
            posix = base / posix
        # Normalise '..' lexically for display; WorkspaceFiles does the real check.
        parts: list[str] = []
        for part in posix.parts[1:]:
            if part == "..":
                if parts:
                    parts.pop()
            elif part != ".":
                parts.append(part)
        return str(PurePosixPath("/", *parts))

    def resolve(self, path: str | None = None) -> tuple[str, str]:
        """(workspace-relative path, sandbox path to display) of an agent's path.

        Raises PathEscapeError for paths outside the workspace.
        """
        relative = self.files.locate(self.sandbox_path(path))
        return relative, self.files.display(relative)


@dataclass
class ScoreFailure:
    """A score that could not be computed (the scorer crashed)."""

    error: str
    metrics: dict[str, float] | None = None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
