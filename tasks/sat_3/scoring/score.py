"""Score a DPLL branching heuristic: ``python score.py SUBMISSION_DIR``.

MLGym-Bench's protocol on a hidden set: the task's own solver.py (as shipped, never
the agent's copy) makes one pass over the formulas of dataset.json.gz here
(literals as numpy int64, as in MLGym's data set) with the submitted heuristic_fn,
in a child process that cannot see this directory. The metric is the time of that
pass: the CPU time of the child's process, read here from the kernel's clock of
that process (the child cannot misreport it; on an idle machine it equals MLGym's
wall clock, and other work on a busy machine barely changes it). The child may not
start processes or threads. Every answer is checked here, against the scorer's own
copy of the formulas: a satisfying assignment must satisfy every clause, an
unsatisfiable answer must match the known one; one wrong answer invalidates the
submission.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from harness_scoring import SubmissionError, run, task_workspace
from harness_submitted import SubmittedCode, TooSlow

HERE = Path(__file__).resolve().parent
WORKSPACE = task_workspace()
PASS_LIMIT = 900.0  # seconds for the pass over all formulas
SEED = 0

ENTRY = """

import numpy as _np

_FORMULAS = []


def load_formulas(rows):
    _FORMULAS[:] = [[[_np.int64(lit) for lit in clause] for clause in row] for row in rows]
    return len(_FORMULAS)


def solve_all():
    heuristic = getattr(submission, "heuristic_fn", None)
    if not callable(heuristic):
        raise LookupError("heuristic.py defines no function heuristic_fn: define it")
    answers = []
    for formula in _FORMULAS:
        solver = DPLL(formula, heuristic)
        if solver.solve():
            answers.append([int(v) if value else -int(v) for v, value in solver.model.items()])
        else:
            answers.append(None)
    return answers
"""


def load_instances(path: Path = HERE / "dataset.json.gz") -> list[list]:
    with gzip.open(path, "rt") as file:
        return json.load(file)


def check(answer, row: list) -> None:
    """Raise SubmissionError unless ``answer`` is right for the formula ``row``."""
    index, clauses, is_sat = row[0], row[3], row[4]
    advice = (
        "a wrong answer invalidates the submission (does heuristic_fn change the solver's state?)"
    )
    if answer is None:
        if is_sat:
            raise SubmissionError(
                f"heuristic.py: wrong answer on formula {index}: the solver says unsatisfiable "
                f"but it is satisfiable; {advice}"
            )
        return
    if not isinstance(answer, list) or not all(type(x) is int for x in answer):
        raise SubmissionError(f"heuristic.py: the solver returned a malformed answer for {index}")
    true = set(answer)
    broken = next((c for c in clauses if not any(x in true for x in c)), None)
    if broken is not None:
        raise SubmissionError(
            f"heuristic.py: wrong answer on formula {index}: the assignment found leaves "
            f"clause {broken} unsatisfied; {advice}"
        )


def score(submission_dir: Path) -> dict[str, float]:
    source = (WORKSPACE / "solver.py").read_text() + ENTRY
    rows = load_instances()
    with SubmittedCode(
        submission_dir / "heuristic.py", hide=[HERE], seed=SEED, measure_cpu=True,
        modules=[WORKSPACE / "solver.py"],  # as in MLGym, `from solver import ...` works
    ) as code:
        code.run(source, "load_formulas", [row[3] for row in rows], timeout=300)
        try:
            answers = code.run(source, "solve_all", timeout=PASS_LIMIT)
        except TooSlow:
            raise SubmissionError(
                f"heuristic.py: one pass over the {len(rows)} formulas took longer than "
                f"{PASS_LIMIT:g}s: make heuristic_fn faster or its choices better"
            ) from None
        elapsed = code.cpu
    if not isinstance(answers, list) or len(answers) != len(rows):
        raise SubmissionError("heuristic.py: the solver did not answer for every formula")
    for answer, row in zip(answers, rows, strict=True):
        check(answer, row)
    return {"time": round(elapsed, 3)}


if __name__ == "__main__":
    run(score)
