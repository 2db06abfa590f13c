"""`harness replay`: re-execute a recorded trajectory and compare its scores.

The recorded actions (ours, ``trajectory.jsonl``, or MLGym's ``.traj``) are fed to
a fresh episode as the model's replies. Then each scored attempt (every
``validate`` and the submission) is compared with the replay's, in order, within
the task's ``tolerance`` (relative), and for our own trajectories each step's
observation too, so a task author sees where a task or the harness stopped
reproducing a run. MLGym's scores are read in the task's metric names (its
``mlgym:`` block maps them).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.models.replay import ReplayModel
from harness.run.episode import Episode, StepInfo
from harness.run.mlgym_traj import RecordedScore, read_mlgym
from harness.run.options import EpisodeOptions
from harness.run.trajectory import read_records
from harness.task.spec import Task, find_task


def _is_mlgym(path: Path) -> bool:
    return Path(path).suffix == ".traj"


def resolve_task(trajectory: Path, task_ref: str | None) -> Task:
    """The task to replay on: ``--task``, else the one the trajectory names (ours), or
    the one whose ``mlgym:`` block links the MLGym task it was recorded on."""
    if task_ref:
        return Task.load(find_task(task_ref))
    if _is_mlgym(trajectory):
        run = read_mlgym(trajectory)
        if run.task is None:
            raise HarnessError(f"{trajectory}: no task here links MLGym task {run.mlgym_task!r} "
                               "(an 'mlgym: {id: ...}' block in task.yaml): pass --task")
        return run.task
    for record in read_records(trajectory):
        if record.get("kind") == "start" and isinstance(record.get("task"), str) and record["task"]:
            return Task.load(find_task(record["task"]))
        break
    raise HarnessError(f"{trajectory}: its start record names no task: pass --task")


def recorded_scores(trajectory: Path, task: Task) -> list[RecordedScore]:
    """The scored attempts a trajectory recorded, in order, in the task's metric names."""
    if _is_mlgym(trajectory):
        return read_mlgym(trajectory, task).scores
    return _scores(list(read_records(trajectory)))


def _scores(records: list[dict]) -> list[RecordedScore]:
    out = []
    for record in records:
        if record.get("kind") == "score":
            metrics = record.get("metrics") if isinstance(record.get("metrics"), dict) else {}
            out.append(RecordedScore(record.get("step"), str(record.get("source") or "score"), metrics))
    return out


def differs(recorded: dict[str, Any], replayed: dict[str, Any], tolerance: float) -> list[str]:
    """Metrics (present in both) whose values differ beyond the relative tolerance,
    or ``["validity"]`` when one scored and the other did not."""
    if bool(recorded) != bool(replayed):
        return ["validity"]
    out = []
    for name in sorted(set(recorded) & set(replayed)):
        try:
            a, b = float(recorded[name]), float(replayed[name])
        except (TypeError, ValueError):
            out.append(name)
            continue
        if not math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-12):
            out.append(name)
    return out


def _shown(metrics: dict[str, Any]) -> str:
    if not metrics:
        return "invalid"
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in metrics.items())


def _where(score: RecordedScore) -> str:
    return f"step {score.step} {score.source}" if score.step is not None else f"final {score.source}"


def replay_and_compare(trajectory: Path, task_ref: str | None, out: Path | None,
                       echo: Callable[[str], None] = print,
                       progress: Callable[[str], None] | None = None) -> bool:
    """Replay, print recorded against replayed scores; True when every score reproduced
    within the task's tolerance (and the replay scored as often as the recording)."""
    trajectory = Path(trajectory)
    task = resolve_task(trajectory, task_ref)
    old_scores = recorded_scores(trajectory, task)
    model = ReplayModel.from_file(trajectory)
    old = [] if _is_mlgym(trajectory) else list(read_records(trajectory))
    run_dir = out or Path(tempfile.mkdtemp(prefix="harness-replay-")) / "run"
    total = len(model.actions)
    say = progress or echo

    def on_step(info: StepInfo) -> None:
        best = "-" if info.best is None else f"{info.best:.6g}"
        say(f"step {info.n}/{total}: {info.action[:60]} · best {task.primary.name} {best}")

    options = EpisodeOptions(max_steps=total + 1)
    result = Episode(task, model, run_dir, options, on_step=on_step).run()
    new = list(read_records(run_dir))
    differing = _observations(old, new, echo)
    new_scores = _scores(new)
    problems = []
    for before, after in zip(old_scores, new_scores, strict=False):
        bad = differs(before.metrics, after.metrics, task.tolerance)
        echo(f"{_where(before)}: recorded {_shown(before.metrics)} · replayed {_shown(after.metrics)} · "
             + ("DIFFERENT" if bad else "same"))
        if bad:
            problems.append(f"{_where(before)} {', '.join(bad)} recorded {_shown(before.metrics)}, "
                            f"replayed {_shown(after.metrics)}")
    if len(old_scores) != len(new_scores):
        problems.append(f"recorded {len(old_scores)} scores, the replay {len(new_scores)}")
    echo(f"replayed {result.steps} steps into {run_dir}: {differing} observations differ; exit {result.exit_status}")
    if problems:
        echo(f"scores did NOT reproduce (tolerance {task.tolerance:g}): {'; '.join(problems)}")
        return False
    echo(f"scores reproduced ({len(old_scores)} compared, tolerance {task.tolerance:g})")
    return True


def _observations(old: list[dict], new: list[dict], echo: Callable[[str], None]) -> int:
    """Steps of our own recording whose observation the replay changed (counted, named)."""
    old_steps = {r.get("n"): r for r in old if r.get("kind") == "step"}
    differing = 0
    for step in (r for r in new if r.get("kind") == "step"):
        before = old_steps.get(step.get("n"))
        if before is not None and before.get("observation") != step.get("observation"):
            differing += 1
            first = (str(step.get("action") or "").splitlines() or [""])[0][:60]
            echo(f"step {step.get('n')}: observation differs ({first})")
    return differing
