"""Score tables and performance profiles of a study, optionally beside the published ones.

The numbers come from :mod:`harness.study.metrics` (the published MLGym-Bench procedure);
this module only decides which rows and columns the report shows: every model and
task of the study, even one with no valid score yet, and with ``--with-published``
the paper's models on the tasks both share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError
from harness.report.data import Study

BEST, LAST = "Best Attempt", "Best Submission"


@dataclass
class Scores:
    """What the score tables and profiles show."""

    best: Any
    """ScoreTable of Best Attempt@k (task -> model -> score)."""
    last: Any
    """ScoreTable of Best Submission@k."""
    ours: list[str]
    """The study's models (the others, if any, are published)."""
    valid: dict[str, dict[str, dict[str, tuple[int, int]]]] = field(default_factory=dict)
    """Table -> task -> model -> (runs with a valid score, finished runs)."""
    profiles: Any = None
    """metrics.Profiles, or None when no task has a score to compare."""
    profile_tasks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What is missing or left out, said on the page."""
    published: bool = False
    task_names: dict[str, str] = field(default_factory=dict)
    """Row name -> the study's task id, for rows named after the published tasks."""


def _metrics() -> Any:
    try:
        from harness.study import metrics
    except ImportError:
        raise HarnessError("the report needs harness.study.metrics, which this installation lacks; "
                           "reinstall the harness") from None
    return metrics


def _widen(table: Any, tasks: Sequence[str], models: Sequence[str]) -> Any:
    """``table`` with a row for each task and a column for each model, missing ones empty."""
    metrics = _metrics()
    rows = list(tasks) + [t for t in table.tasks if t not in tasks]
    cols = list(models) + [m for m in table.models if m not in models]
    scores = {t: {m: (table.scores.get(t) or {}).get(m) for m in cols} for t in rows}
    return metrics.ScoreTable(tasks=rows, models=cols, scores=scores,
                              baseline={t: table.baseline.get(t) for t in rows},
                              minimize={t for t in rows if t in table.minimize})


def study_scores(study: Study) -> Scores:
    """Best Attempt@k and Best Submission@k of the study's finished episodes."""
    metrics = _metrics()
    results = [e.results for e in study.finished]
    if results:
        best, last = metrics.tables_from_results(results)
    else:
        empty = metrics.ScoreTable(tasks=[], models=[], scores={}, baseline={}, minimize=set())
        best, last = empty, empty
    best, last = _widen(best, study.tasks, study.models), _widen(last, study.tasks, study.models)
    _fill_baselines(study, best, last)
    scores = Scores(best, last, list(best.models))
    for name, which in ((BEST, "best_validation"), (LAST, "final_metrics")):
        cells: dict[str, dict[str, tuple[int, int]]] = {}
        for episode in study.finished:
            cell = cells.setdefault(episode.task, {}).setdefault(episode.model, (0, 0))
            ok = episode.score(which) is not None
            cells[episode.task][episode.model] = (cell[0] + ok, cell[1] + 1)
        scores.valid[name] = cells
    if not results:
        scores.notes.append("No episode has finished yet: the score tables are empty and there are no profiles.")
    return scores


def _fill_baselines(study: Study, *tables: Any) -> None:
    """Baselines and directions of tasks whose episodes all lack results, from their start records."""
    for episode in study.episodes:
        if episode.results is None:
            continue
        primary = episode.primary
        baseline = (episode.results.get("baseline") or {}).get(primary) if primary else None
        for table in tables:
            if table.baseline.get(episode.task) is None and isinstance(baseline, int | float):
                table.baseline[episode.task] = float(baseline)
            if episode.results.get("direction") == "minimize":
                table.minimize.add(episode.task)


def add_profiles(scores: Scores, tasks: Sequence[str] | None = None,
                 why: str = "as no episode of theirs has finished") -> None:
    """Performance profiles (the baseline is one of the methods, as in the paper).

    ``tasks``: the rows to profile (default all). A task where no model has a valid
    score stays in: it counts against every model, as the published procedure does.
    """
    metrics = _metrics()
    keep = [t for t in scores.best.tasks if tasks is None or t in tasks]
    if not keep:
        return
    dropped = [t for t in scores.best.tasks if t not in keep]
    if dropped:
        scores.notes.append(f"Left out of the profiles, {why}: {', '.join(dropped)}.")
    scores.profile_tasks = keep
    scores.profiles = metrics.profiles(_rows(scores.best, keep), _rows(scores.last, keep))


def _rows(table: Any, tasks: Sequence[str]) -> Any:
    metrics = _metrics()
    return metrics.ScoreTable(tasks=list(tasks), models=list(table.models),
                              scores={t: dict(table.scores[t]) for t in tasks},
                              baseline={t: table.baseline.get(t) for t in tasks},
                              minimize={t for t in tasks if t in table.minimize})


UNLIKE_MARK = " *"
"""Appended to the row of a task whose scale is not the benchmark's."""


def with_published(scores: Scores, include_unlike: bool = False) -> Scores:
    """The study's models beside the paper's, on the tasks both have (published task names).

    Tasks not on the benchmark's scale (:func:`~harness.study.metrics.unlike_published`)
    are marked with ``*`` and left out of the profiles unless ``include_unlike``.
    """
    metrics = _metrics()
    pub_best, pub_last, names = _published(metrics)
    shared = [t for t in scores.best.tasks if t in names and names[t] in pub_best.tasks]
    if not shared:
        known = ", ".join(sorted(names)) or "none"
        raise HarnessError(f"--with-published: none of the study's tasks is in the published benchmark "
                           f"(tasks with published scores: {known})")
    unlike = metrics.unlike_published(shared)
    rows = [names[t] + (UNLIKE_MARK if t in unlike else "") for t in shared]
    published_row = {row: names[t] for t, row in zip(shared, rows, strict=True)}
    ours = list(scores.best.models)
    renamed = {m: (f"{m} (ours)" if m in pub_best.models else m) for m in ours}
    merged = []
    for mine, theirs in ((scores.best, pub_best), (scores.last, pub_last)):
        table_scores = {}
        for task, row in zip(shared, rows, strict=True):
            line = {m: theirs.scores.get(published_row[row], {}).get(m) for m in theirs.models}
            line.update({renamed[m]: mine.scores[task].get(m) for m in ours})
            table_scores[row] = line
        merged.append(metrics.ScoreTable(
            tasks=rows, models=list(theirs.models) + [renamed[m] for m in ours], scores=table_scores,
            baseline={row: theirs.baseline.get(published_row[row]) for row in rows},
            minimize={row for task, row in zip(shared, rows, strict=True)
                      if published_row[row] in theirs.minimize or task in mine.minimize}))
    out = Scores(merged[0], merged[1], [renamed[m] for m in ours], published=True,
                 task_names={row: task for task, row in zip(shared, rows, strict=True)})
    for name in (BEST, LAST):
        out.valid[name] = {rows[shared.index(t)]: {renamed[m]: v for m, v in cells.items()}
                           for t, cells in scores.valid.get(name, {}).items() if t in shared}
    left = [t for t in scores.best.tasks if t not in shared]
    if left:
        out.notes.append(f"Not in the published benchmark, so left out of these tables: {', '.join(left)}.")
    out.profile_tasks = [row for task, row in zip(shared, rows, strict=True) if include_unlike or task not in unlike]
    for task in shared:
        if task in unlike:
            kept = "kept in the profiles as asked (--include-unlike)" if include_unlike else "left out of the profiles"
            out.notes.append(f"{names[task]}{UNLIKE_MARK}: not on the benchmark's scale ({unlike[task]}); {kept}.")
    out.notes.append("Baselines are the published ones. AUP depends on the set of models compared: these "
                     "values rank the models among the paper's and differ from the study-only AUPs above.")
    return out


def _published(metrics: Any) -> tuple[Any, Any, dict[str, str]]:
    """(best, last, our task id -> published task name) from harness.study.metrics."""
    best, last = metrics.published_tables()
    return best, last, metrics.published_task_names()
