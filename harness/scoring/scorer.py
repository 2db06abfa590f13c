"""Scorer: runs a task's ``scoring/score.py`` on a submission, away from the agent.

Each scoring gets its own short-lived sandbox: a fresh directory holding a copy of the
submission file(s), mounted read-only, plus the task's ``scoring/`` directory (answers
and scorer) read-only at ``/scoring``, the task's pristine ``workspace/`` read-only at
``/task_workspace`` (the evaluation code the scorer shares with the agent, from the
task directory: never the agent's copy) and the scoring helpers
(:mod:`harness.scoring.helpers`) as ``harness_scoring``. The agent's sandbox never sees
``scoring/``, and this one sees nothing of the agent's workspace but the submission.
The scorer prints one JSON line, ``{"metrics": {...}}`` or ``{"error": "..."}``.

    score = Scorer(task, env).score(workspace)
    if score.ok:
        print(score.metrics["r2"])
    else:
        print(score.error)      # one line: what is wrong with the submission

A bad submission never raises: it comes back as ``Score(metrics=None, error=...)``.
:func:`check_task` runs a task's baseline end to end (``harness task check``).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from harness.errors import HarnessError, TaskError
from harness.sandbox import Bind, Limits, Sandbox, WorkspaceFiles
from harness.task.env import TaskEnv
from harness.task.spec import Task

SCORING_MOUNT = "/scoring"
TASK_WORKSPACE_MOUNT = "/task_workspace"
"""Where the scorer sees the task's own ``workspace/`` (``harness_scoring.task_workspace``)."""
HELPERS_MOUNT = "/opt/harness_scoring"
_HELPERS = Path(__file__).resolve().parent / "helpers.py"
_SUBMITTED = Path(__file__).resolve().parent / "submitted.py"
MAX_SUBMISSION_BYTES = 1 << 30
"""Apparent bytes of submission the scorer copies to the host (sparse files count in
full): the largest real submission, a GPT-2 model, is about half of it."""


@dataclass(frozen=True)
class Score:
    """The outcome of scoring one submission."""

    metrics: dict[str, float] | None
    """Metric values by name, when the submission is valid."""
    error: str | None = None
    """One line saying why the submission is invalid (or why scoring failed)."""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.metrics is not None and self.error is None

    def to_json(self) -> dict:
        return {"metrics": self.metrics} if self.ok else {"error": self.error}


class Scorer:
    """Scores submissions of one task with its environment."""

    def __init__(self, task: Task, env: TaskEnv, *, timeout: float | None = None,
                 max_submission_bytes: int = MAX_SUBMISSION_BYTES) -> None:
        self.task = task
        self.env = env
        self.timeout = timeout if timeout is not None else task.limits.score_timeout
        self.max_submission_bytes = max_submission_bytes

    def score(self, workspace: str | Path, timeout: float | None = None) -> Score:
        """Score the ``task.submission`` files found in ``workspace``, within
        ``timeout`` seconds when given (the episode's wall time left), else the task's.

        They are copied out through :meth:`WorkspaceFiles.copy_out`: symlinks may
        not lead out of the workspace, FIFOs and other non-regular files are
        refused, and at most ``max_submission_bytes`` are copied, whatever the
        agent swaps in meanwhile.
        """
        files = WorkspaceFiles(Path(workspace))
        return self._run(files, {rel: rel for rel in self.task.submission}, timeout)

    def score_file(self, path: str | Path) -> Score:
        """Score one file given by path (``harness score``), whatever its name."""
        if len(self.task.submission) != 1:
            return Score(
                None,
                f"task {self.task.id} takes {len(self.task.submission)} submission files "
                f"({', '.join(self.task.submission)}): score a workspace instead",
            )
        path = Path(path)
        if not path.is_file():
            return Score(None, f"{path}: no such file")
        path = path.resolve()
        files = WorkspaceFiles(path.parent, display_root=path.parent)
        return self._run(files, {self.task.submission[0]: path.name})

    # -- internals ------------------------------------------------------------------

    def _copy_in(self, files: WorkspaceFiles, sources: dict[str, str], box: Path) -> list[str]:
        """Copy the submission into ``box``; the names present (a missing one is left
        for the scorer to report, with the format). Raises HarnessError on a refusal."""
        present = []
        budget = self.max_submission_bytes
        for rel, source in sources.items():
            target = box / PurePosixPath(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                budget -= files.copy_out(source, target, budget)
            except FileNotFoundError:
                continue
            present.append(rel)
        return present

    def _run(self, files: WorkspaceFiles, sources: dict[str, str], timeout: float | None = None) -> Score:
        timeout = self.timeout if timeout is None else min(timeout, self.timeout)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="harness-score-") as tmp:
            box = Path(tmp) / "submission"
            box.mkdir()
            try:
                present = self._copy_in(files, sources, box)
            except (HarnessError, OSError) as err:
                return Score(None, _refusal(err), round(time.monotonic() - started, 3))
            binds = [
                *self.env.binds(),
                Bind(self.task.dir / "scoring", SCORING_MOUNT),
                Bind(self.task.dir / "workspace", TASK_WORKSPACE_MOUNT),
                Bind(_HELPERS, f"{HELPERS_MOUNT}/harness_scoring.py"),
                Bind(_SUBMITTED, f"{HELPERS_MOUNT}/harness_submitted.py"),
            ]
            env = {
                **self.env.env(),
                "PYTHONPATH": HELPERS_MOUNT,
                "HARNESS_TASK_WORKSPACE": TASK_WORKSPACE_MOUNT,
            }
            if self.task.data is not None:  # prepared data: the answers live there
                from harness.task.prepare import SCORER_MOUNT, require_prepared

                binds.append(Bind(require_prepared(self.task).path, SCORER_MOUNT))
                env["HARNESS_TASK_DATA"] = SCORER_MOUNT
            binds += _nested_filter(Path(tmp))
            limits = Limits(memory_mb=8192, output_bytes=20_000)
            # Submitted code runs in a sandbox of its own inside this one: it keeps
            # namespaces usable here and applies the full seccomp filter itself.
            with Sandbox(box, binds=binds, env=env, limits=limits, readonly=present,
                         nesting=True) as sb:
                result = sb.run(
                    f"{self.env.python} {SCORING_MOUNT}/score.py .", timeout=timeout
                )
        elapsed = round(time.monotonic() - started, 3)
        if result.timed_out:
            return Score(None, f"scoring timed out after {timeout:g}s", elapsed)
        return _parse(result.output, result.exit_code, self.task, elapsed)


def _refusal(err: Exception) -> str:
    """One line saying why the submission was not copied. The host's own errors carry
    its paths (the temp dir), so only their reason is shown."""
    if isinstance(err, OSError) and err.errno is not None:
        return f"the submission could not be copied: {err.strerror}"
    return " ".join(str(err).split())


def _nested_filter(tmp: Path) -> list[Bind]:
    """The compiled seccomp filter, beside harness_submitted, for the nested sandbox."""
    from harness.sandbox import seccomp
    from harness.scoring.submitted import SECCOMP_FILE

    if seccomp.problem() is not None:
        return []
    path = tmp / SECCOMP_FILE
    path.write_bytes(seccomp.compiled(False))
    path.chmod(0o644)
    return [Bind(path, f"{HELPERS_MOUNT}/{SECCOMP_FILE}")]


def _parse(output: str, exit_code: int | None, task: Task, elapsed: float) -> Score:
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("error"), str):
            return Score(None, data["error"], elapsed)
        metrics = data.get("metrics")
        if isinstance(metrics, dict):
            try:
                values = {str(k): float(v) for k, v in metrics.items()}
            except (TypeError, ValueError):
                return Score(None, f"scorer bug: non-numeric metrics {metrics}", elapsed)
            absent = [m.name for m in task.metrics if m.name not in values]
            if absent:
                return Score(None, f"scorer bug: no value for {', '.join(absent)}", elapsed)
            return Score(values, None, elapsed)
    tail = output.strip().splitlines()[-1:] or ["no output"]
    return Score(None, f"the scorer failed (exit {exit_code}): {tail[0][:300]}", elapsed)


# -- harness task check --------------------------------------------------------------


@dataclass
class CheckReport:
    """What ``harness task check`` found."""

    task: Task
    score: Score
    baseline_output: str = ""
    mismatches: dict[str, tuple[float, float]] = field(default_factory=dict)
    """metric -> (recorded, measured) for metrics beyond the tolerance."""

    @property
    def ok(self) -> bool:
        return self.score.ok and not self.mismatches


def available_gpus() -> int:
    from harness.sandbox.gpu import host_gpus

    return len(host_gpus())


def run_baseline(task: Task, env: TaskEnv, workspace: Path, command: str):
    """Run a baseline ``command`` in ``workspace`` inside the task's sandbox, as an
    episode's shell would; its run, or TaskError naming why it failed and its last line."""
    with Sandbox(
        workspace,
        network=task.needs.network,
        binds=env.binds(),
        env=env.env(),
        gpus=list(range(task.needs.gpus)),
        readonly=task.readonly,
    ) as sb:
        run = sb.run(command, timeout=task.limits.command_timeout)
    if run.timed_out or run.exit_code != 0:
        last = (run.output.strip().splitlines() or ["no output"])[-1]
        why = (
            f"timed out after {task.limits.command_timeout:g}s"
            if run.timed_out
            else f"exit {run.exit_code}"
        )
        raise TaskError(f"task {task.id}: the baseline failed ({why}): {last}")
    return run


def check_task(task: Task, progress: Callable[[str], None] | None = None) -> CheckReport:
    """Build the task's environment, run its baseline in a sandbox, score it and
    compare with the recorded baseline. Raises TaskError when a step fails."""
    say = progress or (lambda message: None)
    if task.needs.gpus > available_gpus():
        raise TaskError(
            f"task {task.id} needs {task.needs.gpus} GPU(s); this machine has {available_gpus()}"
        )
    if task.data is not None:  # before building the environment: fail fast, one line
        from harness.task.prepare import require_prepared

        require_prepared(task)
    env = TaskEnv.ensure(task, progress=say)
    with tempfile.TemporaryDirectory(prefix=f"harness-check-{task.id}-") as tmp:
        workspace = Path(tmp) / "workspace"
        task.make_workspace(workspace)
        say(f"running `{task.baseline_command}` in the sandbox")
        run = run_baseline(task, env, workspace, task.baseline_command)
        say("scoring the baseline's submission")
        score = Scorer(task, env).score(workspace)
    if not score.ok:
        raise TaskError(f"task {task.id}: the baseline's submission is invalid: {score.error}")
    recorded, tolerance = expected_baseline(task)
    mismatches = {}
    for name, value in recorded.items():
        measured = score.metrics[name]
        if not math.isclose(measured, value, rel_tol=tolerance, abs_tol=1e-12):
            mismatches[name] = (value, measured)
    return CheckReport(task, score, run.output, mismatches)


def _prepared_set(task: Task):
    """The data set prepared for ``task`` on this machine (None if none, or it ships its data)."""
    if task.data is None:
        return None
    from harness.task.prepare import find_prepared

    prepared = find_prepared(task)
    return prepared.data_set if prepared is not None else None


def expected_baseline(task: Task) -> tuple[dict[str, float], float]:
    """The baseline scores ``harness task check`` must reproduce, and their tolerance:
    those of the prepared data set when it records its own, none when the task's
    baseline is a published number, else the task's."""
    data_set = _prepared_set(task)
    if data_set is not None and data_set.baseline:
        tolerance = task.tolerance if data_set.tolerance is None else data_set.tolerance
        return dict(data_set.baseline), tolerance
    if task.baseline_source == "published":
        return {}, task.tolerance
    return dict(task.baseline), task.tolerance


def working_baseline(task: Task) -> dict[str, float]:
    """The baseline an episode compares against: the prepared data set's own when it
    records one (a stand-in set for tests), else the task's."""
    data_set = _prepared_set(task)
    if data_set is not None and data_set.baseline:
        return {**task.baseline, **data_set.baseline}
    return dict(task.baseline)


def data_set_in_use(task: Task) -> str | None:
    """The name of the prepared data set (None for tasks that ship their data)."""
    data_set = _prepared_set(task)
    return data_set.name if data_set is not None else None
