"""The MLGym-Bench metrics: Best Attempt@k, Best Submission@k, performance profiles, AUP.

Scores of different tasks live on different scales (R², seconds, BLEU, rewards), so
the benchmark compares models by *performance profiles* (Dolan & Moré, 2002, as
extended by the AutoML Decathlon) and summarises each by the Area Under its Profile
(AUP). This module reproduces the procedure of the MLGym authors so our numbers
compare with the paper's; it is pure Python (the base install has no numpy).

For each task t and method m (every model, *and the baseline*, which is a method in
the profile like any model):

- Best Attempt@k: the best score over k runs of the run's best validation;
  Best Submission@k: the best over k runs of the run's final submission.
- Feasible: a score that exists, is not negative and is not worse than the task's
  baseline (strictly: equal to the baseline is feasible). Over the feasible methods
  take the best score b and the ratio r = b / s (higher-is-better tasks) or
  r = s / b (lower-is-better tasks), so r >= 1 and the best method has r = 1.
- Infeasible or missing scores get the task's penalty ratio
  (worst feasible ratio) × (1 + 0.05).
- ρ_m(τ) = |{t : log10 r_{t,m} <= τ}| / |T| on the grid τ_i = linspace(0, τmax, 500),
  and AUP_m = Σ_{i<499} (τ_{i+1} - τ_i) · ρ_m(τ_i) (left Riemann sum of the step
  function).
- τmax: over every task of both tables (best attempt and best submission), the
  penalty ratio rounded up to an integer, then the largest one's log10 rounded up to
  one decimal. Both tables share this grid, so their AUPs are comparable.

Choices matched to the MLGym authors' code (``scripts/evaluation/get_ranks.py`` and
``mlgym/evaluation/utils.py`` of facebookresearch/MLGym; read in the public forks
tonydavis629/MLGym@b813721 and, for the later τmax rule, omi-n/MLGym@0b665e9):

- The baseline is one of the methods: it gets a profile and an AUP, and is feasible
  unless negative (``all_models = models + ["baseline"]``).
- Feasibility uses strict comparisons (``score < 0`` or ``score < baseline`` when
  maximizing, ``score > baseline`` when minimizing), so ties with the baseline are
  feasible; "negative" applies to lower-is-better tasks too.
- Best and worst scores are taken over feasible methods only; the worst ratio is
  best/worst (maximize) or worst/best (minimize), i.e. the largest feasible ratio.
  Missing scores take the same penalty as infeasible ones.
- Ties need no rule: tied methods get equal ratios (all best ones get exactly 1).
- ρ counts ``log10(ratio) <= τ`` (so ρ(0) is the share of tasks a method wins or
  ties), and divides by the number of tasks, including tasks no method solved.
- τmax = ceil₀.₁(log10(max_t ceil(penalty_t))) (``round_up_to_one_decimal`` of the
  later code; the first release rounded up to an integer, which gave the paper's
  first AUPs near 2). The grid has 500 points including both ends, built like
  numpy's linspace (τ_i = i · step, last point exactly τmax), and the AUP sums in
  grid order, the same floating-point operations as theirs.
- Best Attempt@k/Best Submission@k take the best over runs in the metric's
  direction; runs without a score do not count, and a model without any is missing.
  Best Submission uses the run's final submission (``final_metrics``); theirs takes
  the run's last scored entry, which is that submission whenever it was scored.

Checked against their published AUPs (tests/test_metrics.py): from their 7-model
tables (omi-n fork) every AUP is within 0.001 of theirs, with the same ranking;
their AUPs came from unrounded scores, the tables hold 3 decimals. With an integer
τmax, the 5-model tables of the first release give 11 of their 12 AUPs exactly.

Where their code would crash we choose: a task where no method is feasible gives
every method an infinite ratio (it counts against all of them) and does not set
τmax; a feasible score of 0 whose ratio is undefined (0 when maximizing while the
best is positive, or a positive score when the best of a minimize task is 0) counts
as infeasible, and methods tied at 0 get ratio 1. If no task has a feasible method
τmax falls back to 1.0. A task without a baseline score applies only the
"negative" rule, and the baseline counts as missing there.

AUP depends on the set of methods compared: adding a model changes the best score,
hence every ratio, τmax and every other model's AUP.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.textsafe import one_line

BASELINE = "baseline"
"""The baseline's column in score tables and its name among the profiled methods."""
TASK_COLUMN = "Task"
EPSILON = 0.05
"""Infeasible and missing scores get the worst feasible ratio × (1 + EPSILON)."""
POINTS = 500

KNOWN_MINIMIZE = frozenset({"3-SAT", "Language Modeling", "sat_3", "language_modeling"})
"""Lower-is-better MLGym-Bench tasks, by published name and by harness task id
(``baselines/mlgym_bench/tasks.csv``); the ``harness profile`` default."""

PUBLISHED_DIR = Path(__file__).resolve().parents[2] / "baselines" / "mlgym_bench"
"""The published tables, at the repository root beside the package (``pip install -e .``)."""


class ScoreTableError(HarnessError):
    """A score table that cannot be read or does not fit the published layout."""


@dataclass
class ScoreTable:
    """Per-task scores of several models plus the baseline (one of the published tables)."""

    tasks: list[str]
    """Row order."""
    models: list[str]
    """Column order; the baseline is not among them."""
    scores: dict[str, dict[str, float | None]]
    """task -> model -> score; None when the model has no valid score there."""
    baseline: dict[str, float | None]
    """task -> the baseline's score."""
    minimize: set[str] = field(default_factory=set)
    """Tasks whose metric is lower-is-better."""


@dataclass
class Profiles:
    """Performance profiles and AUPs of every model and the baseline."""

    taus: list[float]
    """The grid linspace(0, tau_max, points) over log10 ratios."""
    tau_max: float
    best: dict[str, list[float]]
    """method -> ρ(τ) on ``taus`` for Best Attempt; models in table order, then baseline."""
    last: dict[str, list[float]] | None
    """The same for Best Submission, when a last table was given."""
    aup_best: dict[str, float]
    aup_last: dict[str, float] | None


# --- tables ---------------------------------------------------------------------


def read_table(path: str | os.PathLike[str], minimize: Iterable[str] = ()) -> ScoreTable:
    """A score table in the published layout: ``Task``, ``baseline``, one column per model.

    Empty cells (and ``nan``) are missing scores. ``minimize`` names the rows whose
    metric is lower-is-better; naming a task the table lacks is an error, since a
    typo there would silently flip a task's direction.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScoreTableError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ScoreTableError(f"{path}: is a directory, not a score table") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScoreTableError(f"{path}: cannot read: {err}") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise ScoreTableError(f"{path}: empty file; expected a score table with a "
                              f"'{TASK_COLUMN}' column, a '{BASELINE}' column and one column per model")
    header = [cell.strip() for cell in rows[0]]
    if TASK_COLUMN not in header:
        raise ScoreTableError(f"{path}: no '{TASK_COLUMN}' column in the header "
                              f"(got: {one_line(', '.join(header), 120)})")  # a quoted cell may span lines
    if BASELINE not in header:
        raise ScoreTableError(f"{path}: no '{BASELINE}' column in the header "
                              f"(the baseline decides which scores are feasible)")
    for i, name in enumerate(header):
        if not name:
            raise ScoreTableError(f"{path}: column {i + 1} of the header has no name")
        if header.count(name) > 1:
            raise ScoreTableError(f"{path}: column '{name}' appears twice in the header")
    models = [name for name in header if name not in (TASK_COLUMN, BASELINE)]
    table = ScoreTable(tasks=[], models=models, scores={}, baseline={})
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ScoreTableError(f"{path}: row {number} has {len(row)} cells, the header {len(header)}")
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        task = cells[TASK_COLUMN]
        if not task:
            raise ScoreTableError(f"{path}: row {number} has no task name")
        if task in table.scores:
            raise ScoreTableError(f"{path}: task '{task}' appears twice")
        table.tasks.append(task)
        table.baseline[task] = _number(cells[BASELINE], path, number, BASELINE)
        table.scores[task] = {m: _number(cells[m], path, number, m) for m in models}
    if not table.tasks:
        raise ScoreTableError(f"{path}: the table has a header but no tasks")
    table.minimize = _check_minimize(table, minimize, path)
    return table


def _number(cell: str, path: Path, row: int, column: str) -> float | None:
    if not cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        raise ScoreTableError(f"{path}: row {row}, column '{column}': {cell!r} is not a number") from None
    if math.isnan(value):
        return None
    if math.isinf(value):
        raise ScoreTableError(f"{path}: row {row}, column '{column}': {cell!r} is not a finite number")
    return value


def _check_minimize(table: ScoreTable, names: Iterable[str], path: Path) -> set[str]:
    chosen = set(names)
    unknown = sorted(chosen - set(table.tasks))
    if unknown:
        raise ScoreTableError(f"{path}: no task named {unknown[0]!r} to minimize "
                              f"(tasks: {', '.join(table.tasks)})")
    return chosen


def write_table(table: ScoreTable, path: str | os.PathLike[str]) -> None:
    """Write ``table`` in the published layout (full precision; empty cell = missing).

    Written to a temporary file and renamed, so a reader never sees half a table.
    """
    path = Path(path)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([TASK_COLUMN, BASELINE, *table.models])
    for task in table.tasks:
        row = table.scores.get(task, {})
        writer.writerow([task, _cell(table.baseline.get(task)), *(_cell(row.get(m)) for m in table.models)])
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(out.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def _cell(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def tables_from_results(results: Iterable[dict[str, Any]]) -> tuple[ScoreTable, ScoreTable]:
    """(Best Attempt@k, Best Submission@k) tables from episode ``results.json`` dicts.

    Per task and model, Best Attempt@k is the best ``best_validation[primary]`` over
    the runs, Best Submission@k the best ``final_metrics[primary]``, in the task's
    direction; runs without that score are skipped, as MLGym skips runs without
    agent scores. A model's column is ``labels.model`` (set by bench), else
    ``model.model``. Rows and columns keep the order first seen.
    """
    tasks: list[str] = []
    models: list[str] = []
    attempts: dict[tuple[str, str], list[float]] = {}
    submissions: dict[tuple[str, str], list[float]] = {}
    baseline: dict[str, float | None] = {}
    minimize: set[str] = set()
    for result in results:
        task = result.get("task")
        model = (result.get("labels") or {}).get("model") or (result.get("model") or {}).get("model")
        if not task or not model:
            continue
        task, model = str(task), str(model)
        primary = result.get("primary_metric")
        if task not in baseline:
            tasks.append(task)
            baseline[task] = None
        if model not in models:
            models.append(model)
        if result.get("direction") == "minimize":
            minimize.add(task)
        if baseline[task] is None:
            baseline[task] = _metric(result.get("baseline"), primary)
        for store, key in ((attempts, "best_validation"), (submissions, "final_metrics")):
            value = _metric(result.get(key), primary)
            if value is not None:
                store.setdefault((task, model), []).append(value)

    def table(store: dict[tuple[str, str], list[float]]) -> ScoreTable:
        scores: dict[str, dict[str, float | None]] = {}
        for task in tasks:
            pick = min if task in minimize else max
            scores[task] = {m: (pick(store[task, m]) if store.get((task, m)) else None) for m in models}
        return ScoreTable(tasks=list(tasks), models=list(models), scores=scores,
                          baseline=dict(baseline), minimize=set(minimize))

    return table(attempts), table(submissions)


def _metric(metrics: Any, name: Any) -> float | None:
    if not isinstance(metrics, dict) or name not in metrics:
        return None
    value = metrics[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


# --- profiles -------------------------------------------------------------------


def profiles(best: ScoreTable, last: ScoreTable | None = None, points: int = POINTS) -> Profiles:
    """Performance profiles and AUPs of every model and the baseline.

    ``best`` is the Best Attempt table, ``last`` the Best Submission one; both must
    have the same tasks and models, and share one τ grid (τmax from both).
    """
    if points < 2:
        raise ValueError("a profile needs at least 2 grid points")
    if last is not None and (set(last.tasks) != set(best.tasks) or set(last.models) != set(best.models)):
        raise ScoreTableError("the best-attempt and best-submission tables must have the same "
                              "tasks and models")
    methods = [*best.models, BASELINE]
    best_ratios, ceilings = _table_ratios(best, methods)
    last_ratios = None
    if last is not None:
        last_ratios, more = _table_ratios(last, methods)
        ceilings += more
    tau_max = _round_up_one_decimal(math.log10(max(ceilings))) if ceilings else 1.0
    step = tau_max / (points - 1)
    taus = [i * step for i in range(points - 1)] + [tau_max]
    rho_best = {m: _rho(best_ratios[m], taus) for m in methods}
    rho_last = {m: _rho(last_ratios[m], taus) for m in methods} if last_ratios is not None else None
    return Profiles(
        taus=taus, tau_max=tau_max, best=rho_best, last=rho_last,
        aup_best={m: _aup(rho, taus) for m, rho in rho_best.items()},
        aup_last={m: _aup(rho, taus) for m, rho in rho_last.items()} if rho_last is not None else None,
    )


def _table_ratios(table: ScoreTable, methods: list[str]) -> tuple[dict[str, list[float]], list[int]]:
    """method -> log10 performance ratio per task, and each solved task's ceil(penalty)."""
    logs: dict[str, list[float]] = {m: [] for m in methods}
    ceilings: list[int] = []
    for task in table.tasks:
        row = dict(table.scores.get(task, {}))
        row[BASELINE] = table.baseline.get(task)
        ratios, penalty = task_ratios(row, table.baseline.get(task), task in table.minimize, methods)
        if penalty is not None:
            ceilings.append(math.ceil(penalty))
        for m in methods:
            logs[m].append(math.log10(ratios[m]))
    return logs, ceilings


def task_ratios(scores: dict[str, float | None], baseline: float | None, minimize: bool,
                methods: Iterable[str]) -> tuple[dict[str, float], float | None]:
    """Performance ratios of ``methods`` on one task, and the penalty ratio (None if none is feasible).

    ``scores`` maps method -> score (None = missing) and includes the baseline's own
    score if the baseline is a method.
    """
    feasible: dict[str, float] = {}
    for m in methods:
        s = scores.get(m)
        if s is None or not math.isfinite(s) or s < 0:
            continue
        if baseline is not None and (s > baseline if minimize else s < baseline):
            continue
        feasible[m] = s
    if not feasible:
        return {m: math.inf for m in methods}, None
    best = min(feasible.values()) if minimize else max(feasible.values())
    ratios: dict[str, float] = {}
    for m, s in feasible.items():
        num, den = (s, best) if minimize else (best, s)
        if den > 0:
            ratios[m] = num / den
        elif num == 0:  # tied with the best at zero
            ratios[m] = 1.0
    penalty = max(ratios.values()) * (1 + EPSILON)
    return {m: ratios.get(m, penalty) for m in methods}, penalty


def _round_up_one_decimal(x: float) -> float:
    return math.ceil(x * 10) / 10


def _rho(logs: list[float], taus: list[float]) -> list[float]:
    n = len(logs)
    if n == 0:
        return [0.0] * len(taus)
    return [sum(1 for v in logs if v <= tau) / n for tau in taus]


def _aup(rho: list[float], taus: list[float]) -> float:
    """Left Riemann sum of the step function ρ over the grid."""
    total = 0.0
    for i in range(len(taus) - 1):
        total += (taus[i + 1] - taus[i]) * rho[i]
    return total


def aup_csv(p: Profiles) -> str:
    """``Model,Best AUP,Last AUP`` rows, 3 decimals (Last AUP empty without a last table)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Model", "Best AUP", "Last AUP"])
    for m, aup in p.aup_best.items():
        last = "" if p.aup_last is None else f"{p.aup_last[m]:.3f}"
        writer.writerow([m, f"{aup:.3f}", last])
    return out.getvalue()


# --- published results ----------------------------------------------------------


def published_tables() -> tuple[ScoreTable, ScoreTable]:
    """(Best Attempt@4, Best Submission@4) of the 12 models in the MLGym-Bench results.

    Rows carry the published task names (see :func:`published_task_names`).
    """
    minimize = [row["published_name"] for row in _published_tasks() if row["direction"] == "minimize"]
    return (read_table(_published_file("best_scores_test_results.csv"), minimize),
            read_table(_published_file("last_scores_test_results.csv"), minimize))


def published_task_names() -> dict[str, str]:
    """Our task id -> the task's name in the published tables (tasks the paper has)."""
    return {row["task"]: row["published_name"] for row in _published_tasks()}


def _published_tasks() -> list[dict[str, str]]:
    with open(_published_file("tasks.csv"), encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _published_file(name: str) -> Path:
    path = PUBLISHED_DIR / name
    if not path.is_file():
        raise ScoreTableError(f"the published MLGym-Bench tables are missing ({path}); they ship "
                              f"in the source tree: install the harness with pip install -e .")
    return path


# --- comparability with the published numbers ----------------------------------------


def unlike_published(task_ids: Iterable[str]) -> dict[str, str]:
    """Tasks whose numbers are not on the benchmark's scale, each with one line why:
    no ``mlgym:`` block (nothing says which MLGym task it reproduces, or how
    closely) or ``mlgym.same_scale: false`` (its ``differs``). Comparing such a task's
    scores with the paper's would rank models by the scale mismatch (our titanic
    baseline scores 0.94 where the paper's baseline scored 0.77), so AUP against the
    published models leaves them out unless asked."""
    from harness.errors import TaskError
    from harness.task.spec import Task, find_task

    out = {}
    for task_id in task_ids:
        try:
            task = Task.load(find_task(task_id))
        except TaskError:
            out[task_id] = "no task of this name here to say how it compares"
            continue
        if task.mlgym is None:
            out[task_id] = "its task.yaml has no 'mlgym:' block saying which MLGym-Bench task it reproduces"
        elif not task.mlgym.same_scale:
            out[task_id] = task.mlgym.differs or "mlgym.same_scale is false"
    return out
