"""MLGym trajectories (``<task>.traj`` and the ``results.json`` beside it) read as ours.

A published run is a directory ``<model>__<task>__<config>__..._run_N/`` holding
``<task>.traj`` (``{"trajectory": [{"thought", "action", "observation",
"execution_time", ...}], "history": [...], "info": {...}}``) and ``results.json``
(``{"agent": [scores...], "baseline": {...}}``). ``info`` has ``exit_status``,
``submission``, ``model_stats`` (cost, tokens sent and received, API calls) and
``score``: one metrics dict per scored attempt, in order: each ``validate`` that
produced a score (its observation says ``Evaluation Score: {...}``), then the
final submission (``submit``, or the autosubmission that closed the episode).

The MLGym task id comes from the file name (``battleOfSexes.traj``) or the
directory name; our task is the one whose ``mlgym:`` block has that id, and
MLGym's metric names become ours through :meth:`MlgymLink.our_metric`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

_EVALUATION = re.compile(r"Evaluation Score:\s*(\{.*?\})", re.S)


@dataclass
class RecordedScore:
    """One scored attempt of a recorded run."""

    step: int | None
    """The step that asked for it (None: an autosubmission after the last step)."""
    source: str
    """``validate`` or ``submit``."""
    metrics: dict[str, float]
    """In the task's names (MLGym's where no task maps them)."""
    raw: dict[str, Any] = field(default_factory=dict)
    """As the run recorded them (MLGym's names)."""


@dataclass
class MlgymRun:
    """What an MLGym ``.traj`` (and its ``results.json``) recorded."""

    path: Path
    mlgym_task: str
    model: str
    steps: list[dict[str, Any]]
    scores: list[RecordedScore]
    exit_status: str
    cost: float | None
    tokens_in: int | None
    tokens_out: int | None
    api_calls: int | None
    submission: str | None
    baseline: dict[str, Any] | None
    task: Any = None
    """Our Task linked to ``mlgym_task`` (None when no task here has that id)."""


def _numbers(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for key, number in value.items():
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            out[str(key)] = float(number)
    return out


def _names(path: Path) -> tuple[str, str]:
    """(MLGym task id, model) from ``<model>__<task>__...`` and ``<task>.traj``."""
    parts = path.parent.name.split("__")
    task = path.stem
    model = ""
    if len(parts) >= 2:
        model = parts[0].removeprefix("metagen-")
        task = parts[1] if path.stem in ("", "trajectory") else path.stem
    return task, model


def find_linked_task(mlgym_task: str) -> Any:
    """The task here whose ``mlgym.id`` is ``mlgym_task`` (None if none)."""
    from harness.errors import TaskError
    from harness.task.spec import Task, list_tasks

    for directory in list_tasks():
        try:
            task = Task.load(directory)
        except TaskError:
            continue
        if task.mlgym is not None and task.mlgym.id == mlgym_task:
            return task
    return None


def our_metrics(task: Any, raw: dict[str, float]) -> dict[str, float]:
    """MLGym's metric names -> the task's (names it does not map are dropped; all of
    them kept as they are when there is no linked task)."""
    if task is None or task.mlgym is None:
        return dict(raw)
    ours = [m.name for m in task.metrics]
    out = {}
    for name, value in raw.items():
        mapped = task.mlgym.our_metric(name, ours)
        if mapped is not None:
            out[mapped] = value
    return out


def read_mlgym(path: str | Path, task: Any = None) -> MlgymRun:
    """Read an MLGym ``.traj`` (with ``results.json`` beside it when present).

    ``task``: our task to map metric names to (default: the one linked by its
    ``mlgym:`` block). Raises HarnessError (one line) for a file that is no .traj.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HarnessError(f"{path}: not a readable MLGym .traj JSON file ({err})") from None
    steps = data.get("trajectory") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        raise HarnessError(f"{path}: no 'trajectory' list: is this an MLGym .traj file?")
    steps = [s for s in steps if isinstance(s, dict)]
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    mlgym_task, model = _names(path)
    if isinstance(info.get("task"), str) and info["task"]:
        mlgym_task = info["task"]
    if isinstance(info.get("model"), str) and info["model"]:
        model = info["model"]
    results = _results_beside(path)
    raw_scores = results.get("agent") if isinstance(results.get("agent"), list) else info.get("score")
    raw_scores = [_numbers(s) for s in raw_scores] if isinstance(raw_scores, list) else []
    if task is None:
        task = find_linked_task(mlgym_task)
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    run = MlgymRun(
        path=path, mlgym_task=mlgym_task, model=model, steps=steps, scores=[],
        exit_status=str(info.get("exit_status") or ""), cost=_number(stats.get("total_cost")),
        tokens_in=_integer(stats.get("tokens_sent")), tokens_out=_integer(stats.get("tokens_received")),
        api_calls=_integer(stats.get("api_calls")),
        submission=info.get("submission") if isinstance(info.get("submission"), str) else None,
        baseline=_numbers(results.get("baseline")) or None, task=task,
    )
    run.scores = _attach(steps, raw_scores, task)
    return run


def _results_beside(path: Path) -> dict:
    beside = path.with_name("results.json")
    try:
        data = json.loads(beside.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _command(step: dict) -> str:
    action = step.get("action")
    return action.strip().split()[0] if isinstance(action, str) and action.strip() else ""


def _attach(steps: list[dict], raw_scores: list[dict[str, float]], task: Any) -> list[RecordedScore]:
    """Pair the run's scores with the steps that asked for them: each validate whose
    observation shows a score takes the next one; the rest is the final submission."""
    out: list[RecordedScore] = []
    queue = list(raw_scores)
    for number, step in enumerate(steps, 1):
        if not queue:
            break
        command = _command(step)
        observation = step.get("observation") if isinstance(step.get("observation"), str) else ""
        if command == "validate" and _EVALUATION.search(observation):
            raw = queue.pop(0)
            out.append(RecordedScore(number, "validate", our_metrics(task, raw), raw))
        elif command == "submit":
            raw = queue.pop(-1)
            out.append(RecordedScore(number, "submit", our_metrics(task, raw), raw))
            queue.clear()
    if queue:  # an autosubmission closed the episode: its score is the last
        raw = queue[-1]
        out.append(RecordedScore(None, "submit", our_metrics(task, raw), raw))
    return out

