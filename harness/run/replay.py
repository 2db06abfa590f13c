"""`harness replay`: re-execute a recorded trajectory and compare its scores.

The recorded actions (ours, ``trajectory.jsonl``, or MLGym's ``.traj``) are fed to
a fresh episode as the model's replies. Then each scored attempt (every
``validate`` and the submission) is compared with the replay's, in order, within
the task's ``tolerance`` (relative), and for our own trajectories each step's
observation too, so a task author sees where a task or the harness stopped
reproducing a run. MLGym's scores are read in the task's metric names (its
``mlgym:`` block maps them).

A published MLGym run is replayed as it ran: the workspace files its trajectory
showed whole before any change are laid over the task's own starter files
(:mod:`harness.run.mlgym_files`), so its edits land on the lines they landed on;
the step limit is the run's (an autosubmission at MLGym's ``max_steps`` happens
at the same step); the file viewer's and editor's observations are compared with
the recorded ones; and a score within the task's declared ``mlgym.noise`` (MLGym's
evaluation is unseeded for some tasks) of the recorded one counts as reproduced.
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from harness.errors import HarnessError
from harness.models.replay import ReplayModel
from harness.run.episode import Episode, StepInfo
from harness.run.mlgym_files import RebuiltFiles, rebuild
from harness.run.mlgym_traj import MlgymRun, RecordedScore, read_mlgym
from harness.run.options import EpisodeOptions
from harness.run.trajectory import read_records
from harness.task.spec import Task, find_task


def _is_mlgym(path: Path) -> bool:
    return Path(path).suffix == ".traj"


def resolve_task(trajectory: Path, task_ref: str | None, mlgym: MlgymRun | None = None) -> Task:
    """The task to replay on: ``--task``, else the one the trajectory names (ours), or
    the one whose ``mlgym:`` block links the MLGym task it was recorded on (``mlgym``:
    the run, when the caller has read it already)."""
    if task_ref:
        return Task.load(find_task(task_ref))
    if _is_mlgym(trajectory):
        run = mlgym or read_mlgym(trajectory)
        if run.task is None:
            raise HarnessError(f"{trajectory}: no task here links MLGym task {run.mlgym_task!r} "
                               "(an 'mlgym: {id: ...}' block in task.yaml): pass --task")
        return run.task
    for record in read_records(trajectory):
        if record.get("kind") == "start" and isinstance(record.get("task"), str) and record["task"]:
            return Task.load(find_task(record["task"]))
        break
    raise HarnessError(f"{trajectory}: its start record names no task: pass --task")


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


NOISE_SIGMAS = 3.0
"""A published score within this many of the task's ``mlgym.noise`` of the replayed one
is MLGym's own evaluation noise."""


def within_noise(recorded: dict[str, Any], replayed: dict[str, Any], names: list[str],
                 noise: dict[str, float]) -> bool:
    """Whether every metric in ``names`` differs by at most NOISE_SIGMAS x its noise."""
    if not names or any(name not in noise for name in names):
        return False
    try:
        return all(abs(float(recorded[n]) - float(replayed[n])) <= NOISE_SIGMAS * noise[n] for n in names)
    except (KeyError, TypeError, ValueError):
        return False


def _shown(metrics: dict[str, Any]) -> str:
    if not metrics:
        return "invalid"
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in metrics.items())


def _where(score: RecordedScore) -> str:
    return f"step {score.step} {score.source}" if score.step is not None else f"final {score.source}"


def recorded_options(records: list[dict], total: int, tool_files: tuple[Path, ...]) -> EpisodeOptions:
    """The options a harness run was recorded with, so that it replays under the same
    interface: profile, window, history, timeouts, memory; and the custom tools'
    files, which a trajectory names only by their tools."""
    start = next((r for r in records if r.get("kind") == "start"), {})
    config = start.get("config") or {}
    options = EpisodeOptions.build(
        "the recorded run",
        max_steps=total + 1,
        tool_files=tuple(tool_files),
        **{key: config[key] for key in ("aci_profile", "window", "command_timeout", "memory")
           if config.get(key) is not None},
        **({"keep_last": config["keep_last"]} if isinstance(config.get("keep_last"), int) else {}),
    )
    used = [name for name in config.get("tools") or [] if isinstance(name, str)]
    if used and not tool_files:
        from aci.registry import ToolRegistry

        known = set(ToolRegistry.load().names())
        missing = [name for name in used if name not in known and not name.startswith("memory_")]
        if missing:
            raise HarnessError(
                f"the run used tools that are not built in ({', '.join(missing)}): "
                "pass the files that define them with --tools FILE"
            )
    return options


def replay_and_compare(trajectory: Path, task_ref: str | None, out: Path | None,
                       echo: Callable[[str], None] = print,
                       progress: Callable[[str], None] | None = None,
                       tool_files: tuple[Path, ...] = ()) -> bool:
    """Replay, print recorded against replayed scores; True when every score reproduced
    within the task's tolerance, or for an MLGym run within its evaluation noise (and
    the replay scored as often as the recording)."""
    trajectory = Path(trajectory)
    mlgym: MlgymRun | None = None
    if _is_mlgym(trajectory):  # read once: the task it links, its actions and its scores
        given = Task.load(find_task(task_ref)) if task_ref else None
        mlgym = read_mlgym(trajectory, given)
        task = given or resolve_task(trajectory, None, mlgym)
        model = ReplayModel.from_steps(mlgym.steps, trajectory)
    else:
        task = resolve_task(trajectory, task_ref)
        model = ReplayModel.from_file(trajectory)
    total = len(model.actions)
    say = progress or echo
    old = [] if mlgym else list(read_records(trajectory))
    old_scores = mlgym.scores if mlgym else _scores(old)
    run_task = task
    if mlgym is not None:
        rebuilt = rebuild(mlgym.steps)
        echo(rebuilt.summary())
        run_task = with_files(task, rebuilt)
        options = EpisodeOptions(max_steps=mlgym_step_limit(mlgym, task, total), aci_profile="mlgym",
                                 tool_files=tuple(tool_files))
    else:
        options = recorded_options(old, total, tuple(tool_files))
    run_dir = out or Path(tempfile.mkdtemp(prefix="harness-replay-")) / "run"

    def on_step(info: StepInfo) -> None:
        best = "-" if info.best is None else f"{info.best:.6g}"
        say(f"step {info.n}/{total}: {info.action[:60]} · best {task.primary.name} {best}")

    result = Episode(run_task, model, run_dir, options, on_step=on_step).run()
    new = list(read_records(run_dir))
    differing = _mlgym_observations(mlgym.steps, new, echo) if mlgym else _observations(old, new, echo)
    noise = dict(task.mlgym.noise) if mlgym is not None and task.mlgym is not None else {}
    new_scores = _scores(new)
    problems = []
    for before, after in pair_scores(old_scores, new_scores):
        if before is None and after is not None and not after.metrics:
            continue  # a validate that scored in neither
        if after is None or before is None:
            where = _where(before) if before is not None else f"step {after.step} {after.source}"
            echo(f"{where}: recorded {_shown(before.metrics) if before else 'no score'} · "
                 f"replayed {_shown(after.metrics) if after else 'no score'} · DIFFERENT")
            problems.append(f"{where} scored only in the {'recording' if after is None else 'replay'}")
            continue
        bad = differs(before.metrics, after.metrics, task.tolerance)
        if bad and bad != ["validity"] and within_noise(before.metrics, after.metrics, bad, noise):
            verdict = f"within noise (3 sd = {', '.join(f'{n} {NOISE_SIGMAS * noise[n]:.3g}' for n in bad)})"
        elif bad:
            verdict = "DIFFERENT"
            problems.append(f"{_where(before)} {', '.join(bad)} recorded {_shown(before.metrics)}, "
                            f"replayed {_shown(after.metrics)}")
        else:
            verdict = "same"
        echo(f"{_where(before)}: recorded {_shown(before.metrics)} · replayed {_shown(after.metrics)} · {verdict}")
    echo(f"replayed {result.steps} steps into {run_dir}: {differing} observations differ; exit {result.exit_status}")
    if problems:
        echo(f"scores did NOT reproduce (tolerance {task.tolerance:g}"
             + (f", noise {_shown(noise)}" if noise else "") + f"): {'; '.join(problems)}")
        return False
    echo(f"scores reproduced ({len(old_scores)} compared, tolerance {task.tolerance:g}"
         + (f", noise {_shown(noise)}" if noise else "") + ")")
    return True


def pair_scores(old: list[RecordedScore], new: list[RecordedScore]
                ) -> list[tuple[RecordedScore | None, RecordedScore | None]]:
    """Recorded and replayed scores paired by the step that asked for them (a validate
    that scored in one and not the other stays unpaired); the recorded final submission
    pairs with the replay's last score not asked for by a validate (an autosubmission
    may come a step earlier than MLGym's unexecuted last reply)."""
    pairs: list[tuple[RecordedScore | None, RecordedScore | None]] = []
    left = list(new)
    for before in old:
        match = next((s for s in left if s.step is not None and s.step == before.step), None)
        if match is None and before.source != "validate":
            match = next((s for s in reversed(left) if s.source != "validate"), None)
        if match is not None:
            left.remove(match)
        pairs.append((before, match))
    pairs += [(None, after) for after in left]
    return sorted(pairs, key=lambda p: min(s.step if s.step is not None else 10**9 for s in p if s is not None))


def mlgym_step_limit(run: MlgymRun, task: Task, actions: int) -> int:
    """The replay's step limit: MLGym's ``(max_steps)`` ending asked the model once more
    and submitted without running that reply, so the run's limit is one step less than
    its replies; otherwise the task's limit, raised to let every recorded action run."""
    if run.exit_status.endswith("(max_steps)") and actions > 1:
        return actions - 1
    return max(task.limits.max_steps, actions + 1)


class _TaskWithFiles(Task):
    """The task, whose fresh workspace gets the files a recorded run saw laid over it."""

    _files: dict[str, str] = PrivateAttr(default_factory=dict)

    def make_workspace(self, dest: str | os.PathLike[str]) -> None:
        super().make_workspace(dest)
        root = Path(dest)
        for rel, text in self._files.items():
            path = root / rel
            if path.is_symlink() or (path.exists() and path.stat().st_nlink > 1):
                path.unlink()  # shared with a prepared copy: never write through it
            mode = path.stat().st_mode if path.exists() else None
            path.parent.mkdir(parents=True, exist_ok=True)
            if mode is not None:
                path.chmod(mode | stat.S_IWUSR)
            path.write_text(text, encoding="utf-8")
            if mode is not None:
                path.chmod(stat.S_IMODE(mode))  # a read-only file stays read-only


def with_files(task: Task, rebuilt: RebuiltFiles) -> Task:
    """``task`` with ``rebuilt.files`` laid over every fresh workspace it makes."""
    if not rebuilt.files:
        return task
    copy = _TaskWithFiles.model_construct(**{name: getattr(task, name) for name in Task.model_fields})
    copy._dir = task.dir
    copy._files = dict(rebuilt.files)
    return copy


_COMPARED = frozenset({"open", "goto", "scroll_up", "scroll_down", "edit", "create",
                       "search_file", "search_dir", "find_file"})
"""MLGym commands whose observation depends only on the workspace's files: the file
viewer's and editor's (a program's output, ls and validate are expected to differ)."""


def _ours(observation: str) -> str:
    """Our observation without the state lines the mlgym profile appends to it (MLGym's
    trajectory records them in the next prompt, not in the observation)."""
    for marker in ("\n(Current Step:", "\n(Open file:"):
        at = observation.rfind(marker)
        if at >= 0:
            observation = observation[:at]
    return observation.rstrip()


def _line(lines: list[str], at: int) -> str:
    return repr(lines[at][:70]) if at < len(lines) else "(end)"


def _mlgym_observations(recorded: list[dict], new: list[dict], echo: Callable[[str], None]) -> int:
    """Viewer and editor steps whose replayed observation differs from the recorded one
    (counted; the first few named with their first differing line)."""
    steps = {r.get("n"): r for r in new if r.get("kind") == "step"}
    differing = compared = 0
    for number, step in enumerate(recorded, 1):
        action = step.get("action") if isinstance(step.get("action"), str) else ""
        command = (action.split() or [""])[0]
        mine = steps.get(number)
        if command not in _COMPARED or mine is None:
            continue
        compared += 1
        # MLGym's recorded observations have their blank lines removed.
        a = [line for line in str(step.get("observation") or "").splitlines() if line.strip()]
        b = [line for line in _ours(str(mine.get("observation") or "")).splitlines() if line.strip()]
        if a == b:
            continue
        differing += 1
        if differing <= 5:
            at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            echo(f"step {number} ({action.splitlines()[0][:40]}): observation differs at line {at + 1}: "
                 f"recorded {_line(a, at)}, replayed {_line(b, at)}")
    echo(f"viewer/editor observations: {compared - differing} of {compared} identical to the recording")
    return differing


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
