"""The episodes of a study directory, finished or not, as the report needs them.

A study written by ``harness bench`` keeps one run directory per episode under
``episodes/<task>/<model-slug>/run-<i>/``; a directory of ``harness solve`` runs works
too (every directory holding a ``trajectory.jsonl`` or ``results.json``). An episode
without ``results.json`` did not finish (killed, still running, or never started
properly): it is kept, as ``incomplete``, so the report can say what is missing
instead of silently dropping it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.run.trajectory import RESULTS, TRAJECTORY, read_records
from harness.study.directory import STUDY_FILE, UNFINISHED_STATUSES, slug
from harness.textsafe import visible

INCOMPLETE = "incomplete"
"""The exit status shown for an episode with no ``results.json``."""

FORMAT_ERROR = "(format error)"
"""The action type of a step whose reply held no parsable command."""

_RUN = re.compile(r"run-(\d+)$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")


def action_type(action: str) -> str:
    """The first word of an ACI command: ``python``, ``edit``, ``validate``, ``ls``...

    Leading ``VAR=value`` assignments are skipped (``CUDA_VISIBLE_DEVICES=0 python x``
    is a ``python`` action); an empty action is a reply the ACI could not parse.
    The word is the agent's: made :func:`~harness.textsafe.visible`, as it becomes a
    label in tables and in the figures' SVG, where a control character is not even
    valid XML.
    """
    words = (action or "").split()
    while words and _ASSIGNMENT.match(words[0]):
        words.pop(0)
    return visible(words[0]) if words else FORMAT_ERROR


@dataclass
class EpisodeRun:
    """One episode of the study: where it lives, its results (None if unfinished), its steps."""

    task: str
    model: str
    run: int | None
    path: Path
    results: dict[str, Any] | None
    actions: list[tuple[int, str]] = field(default_factory=list)
    """``(step number, action type)`` of each recorded step."""
    step_cost: float = 0.0
    """The summed cost of the recorded steps (what an unfinished episode spent)."""

    @property
    def finished(self) -> bool:
        """Whether the episode ended and counts in the score tables (as bench counts it)."""
        return self.results is not None and self.exit_status not in UNFINISHED_STATUSES

    @property
    def exit_status(self) -> str:
        if self.results is None:
            return INCOMPLETE
        return str(self.results.get("exit_status") or "unknown")

    @property
    def primary(self) -> str | None:
        return (self.results or {}).get("primary_metric")

    def score(self, which: str) -> float | None:
        """The primary metric of ``final_metrics`` or ``best_validation``, if valid."""
        metrics = (self.results or {}).get(which)
        if not isinstance(metrics, dict) or self.primary is None:
            return None
        value = metrics.get(self.primary)
        return float(value) if isinstance(value, int | float) else None

    @property
    def cost(self) -> float:
        if self.results is not None and isinstance(self.results.get("cost_usd"), int | float):
            return float(self.results["cost_usd"])
        return self.step_cost

    @property
    def steps(self) -> int:
        if self.results is not None and isinstance(self.results.get("steps"), int):
            return self.results["steps"]
        return len(self.actions)

    @property
    def problems(self) -> list[str]:
        """Why this run counts as failed: incomplete, interrupted, exit_error, no valid final score."""
        if self.results is None:
            return [INCOMPLETE]
        if not self.finished:
            return [self.exit_status]
        found = []
        if self.exit_status == "exit_error":
            found.append("exit_error")
        if self.score("final_metrics") is None:
            found.append("no valid final score")
        return found


@dataclass
class Study:
    """Everything the report reads from a study directory."""

    path: Path
    info: dict[str, Any] | None
    """``study.json``, or None for a plain directory of runs."""
    episodes: list[EpisodeRun]
    tasks: list[str]
    models: list[str]

    @property
    def config(self) -> dict[str, Any]:
        return (self.info or {}).get("config") or {}

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def finished(self) -> list[EpisodeRun]:
        return [e for e in self.episodes if e.finished]

    def not_started(self) -> dict[tuple[str, str], int]:
        """Planned episodes (tasks × models × runs of ``study.json``) with no run directory."""
        runs = self.config.get("runs")
        if not isinstance(runs, int):
            return {}
        found: dict[tuple[str, str], int] = {}
        for episode in self.episodes:
            found[(episode.task, episode.model)] = found.get((episode.task, episode.model), 0) + 1
        missing = {}
        for task in self.config.get("tasks") or []:
            for model in self.config.get("models") or []:
                gap = runs - found.get((task, model), 0)
                if gap > 0:
                    missing[(task, model)] = gap
        return missing


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def model_column(results: dict[str, Any]) -> str:
    """The model's name in tables: the study's alias if bench labelled it, else the model id."""
    labels = results.get("labels") or {}
    if labels.get("model"):
        return str(labels["model"])
    model = results.get("model")
    if isinstance(model, dict):
        return str(model.get("model") or model.get("name") or "unknown")
    return str(model or "unknown")


def _run_dirs(root: Path, skip: Path | None) -> list[Path]:
    """Run directories of a study: ``episodes/*/*/run-*`` or any dir with a record."""
    episodes = root / "episodes"
    if episodes.is_dir():
        return sorted(p for p in episodes.glob("*/*/*") if p.is_dir())
    found = set()
    for name in (TRAJECTORY, RESULTS):
        for hit in root.rglob(name):
            if skip is not None and skip in hit.parents:
                continue
            if "workspace" in hit.relative_to(root).parts:
                continue  # a file the agent wrote, not a record
            found.add(hit.parent)
    return sorted(found)


def _steps(run_dir: Path) -> tuple[dict[str, Any], list[tuple[int, str]], float]:
    """The start record, the action types by step, and the summed step cost."""
    start: dict[str, Any] = {}
    actions: list[tuple[int, str]] = []
    cost = 0.0
    if not (run_dir / TRAJECTORY).is_file():
        return start, actions, cost
    try:
        for record in read_records(run_dir):
            kind = record.get("kind")
            if kind == "start":
                start = record
            elif kind == "step":
                number = record.get("n")
                actions.append((number if isinstance(number, int) else len(actions) + 1,
                                action_type(str(record.get("action") or ""))))
                if isinstance(record.get("cost"), int | float):
                    cost += float(record["cost"])
    except HarnessError:
        pass  # a corrupted trajectory: keep what was read; the transcript shows the rest
    return start, actions, cost


def _ordered(preferred: list[str], seen: list[str]) -> list[str]:
    """``preferred`` first (the study's configured order, met or not yet), then the others as met."""
    out = list(dict.fromkeys(preferred))
    return out + [x for x in seen if x not in out]


def load_study(path: Path, *, skip: Path | None = None,
               progress: Callable[[str], None] | None = None) -> Study:
    """Read every episode of the study at ``path`` (``skip``: the report's own directory)."""
    path = Path(path)
    if not path.is_dir():
        raise HarnessError(f"{path}: no such study directory (give the --out directory of harness bench)")
    say = progress or (lambda text: None)
    info = _read_json(path / STUDY_FILE)
    dirs = _run_dirs(path, skip.resolve() if skip else None)
    if not dirs:
        raise HarnessError(
            f"{path} holds no episodes: expected episodes/<task>/<model>/run-<i>/ as harness bench "
            "writes, or run directories with trajectory.jsonl")
    config_models = [str(m) for m in ((info or {}).get("config") or {}).get("models") or []]
    raw = []
    for index, run_dir in enumerate(dirs, 1):
        say(f"reading episode {index}/{len(dirs)}: {run_dir.relative_to(path)}")
        results = _read_json(run_dir / RESULTS)
        start, actions, cost = _steps(run_dir)
        raw.append((run_dir, results, start, actions, cost))
    # Unfinished episodes of a bench study have no labels: their model is the alias
    # whose finished episodes share the slug directory, else a configured alias that
    # the slug names, else the slug itself.
    slug_alias = {}
    for run_dir, results, *_ in raw:
        if results is not None:
            slug_alias.setdefault(run_dir.parent.name, model_column(results))
    episodes = []
    for run_dir, results, start, actions, cost in raw:
        bench_layout = run_dir.parent.parent.parent.name == "episodes"
        if results is not None:
            task = str(results.get("task") or start.get("task") or run_dir.parent.parent.name)
            model = model_column(results)
            run = (results.get("labels") or {}).get("run")
        else:
            task = str(start.get("task") or (run_dir.parent.parent.name if bench_layout else run_dir.name))
            slug_name = run_dir.parent.name
            model = slug_alias.get(slug_name) or next(
                (m for m in config_models if slug(m) == slug_name), None) or (
                slug_name if bench_layout else model_column(start) if start else "unknown")
            run = None
        if not isinstance(run, int):
            match = _RUN.search(run_dir.name)
            run = int(match.group(1)) if match else None
        episodes.append(EpisodeRun(task, model, run, run_dir, results, actions, cost))
    config = (info or {}).get("config") or {}
    tasks = _ordered([str(t) for t in config.get("tasks") or []], list(dict.fromkeys(e.task for e in episodes)))
    models = _ordered(config_models, list(dict.fromkeys(e.model for e in episodes)))
    episodes.sort(key=lambda e: (tasks.index(e.task), models.index(e.model), e.run or 0, str(e.path)))
    return Study(path, info, episodes, tasks, models)

