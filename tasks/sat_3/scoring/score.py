"""Score a DPLL branching heuristic: ``python score.py SUBMISSION_DIR``.

The task's own solver.py (workspace/solver.py as shipped, the one the agent's
evaluate.py uses, never the agent's copy) solves the hidden instances with the
submitted choose_literal, in a child process that cannot see this directory. The
solve time of an instance is the CPU time the child's process spends on it, read
here from the kernel's clock of that process (so the child cannot misreport it,
and other work on a busy machine barely changes it); the child may not start
processes or threads, whose work would go unmeasured. REPEATS passes, each in a
fresh process; an instance's time is its fastest pass, the metric the sum over
instances. Every answer of every
pass is checked: a satisfying assignment must satisfy every clause, an UNSAT
answer must match the known result. One wrong answer invalidates the submission.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness_scoring import SubmissionError, run, task_workspace
from harness_submitted import SubmittedCode, TooSlow

HERE = Path(__file__).resolve().parent
WORKSPACE = task_workspace()
REPEATS = 3
PASS_LIMIT = 60.0  # seconds for one pass over all instances
SEED = 0

from solver import read_dimacs  # noqa: E402

ENTRY = """

def solve_instance(clauses, num_vars):
    if not callable(getattr(submission, "choose_literal", None)):
        raise LookupError("heuristic.py defines no function choose_literal: define it")
    return solve(clauses, num_vars, submission.choose_literal)
"""


def load_instances() -> list[tuple[str, list[list[int]], int, str]]:
    directory = HERE / "instances"
    expected = json.loads((directory / "expected.json").read_text())
    return [(name, *read_dimacs(directory / name), answer) for name, answer in expected.items()]


def check(result, name: str, clauses: list[list[int]], num_vars: int, answer: str) -> None:
    """Raise SubmissionError unless ``result`` is a right answer for the instance."""
    sat, values = result if isinstance(result, list) and len(result) == 2 else (None, None)
    if sat is True:
        if not (
            isinstance(values, list)
            and len(values) == num_vars
            and all(isinstance(v, bool) for v in values)
        ):
            raise SubmissionError(
                f"heuristic.py: the solver returned a malformed assignment for instance {name}"
            )
        broken = next(
            (c for c in clauses if not any(values[abs(x) - 1] == (x > 0) for x in c)), None
        )
        if broken is not None:
            raise SubmissionError(
                f"heuristic.py: wrong answer on instance {name}: the assignment found violates "
                f"clause {broken}; a wrong answer invalidates the submission (does "
                "choose_literal modify clauses or assignment?)"
            )
    elif sat is False and values is None:
        if answer != "UNSAT":
            raise SubmissionError(
                f"heuristic.py: wrong answer on instance {name}: the solver says unsatisfiable "
                "but it is satisfiable; a wrong answer invalidates the submission (does "
                "choose_literal modify clauses or assignment?)"
            )
    else:
        raise SubmissionError(f"heuristic.py: the solver returned a malformed answer for {name}")


def score(submission_dir: Path) -> dict[str, float]:
    source = (WORKSPACE / "solver.py").read_text() + ENTRY
    instances = load_instances()
    best = [float("inf")] * len(instances)
    for _ in range(REPEATS):
        with SubmittedCode(
            submission_dir / "heuristic.py", hide=[HERE], seed=SEED, measure_cpu=True
        ) as code:
            spent = 0.0
            for i, (name, clauses, num_vars, answer) in enumerate(instances):
                try:
                    result = code.run(
                        source, "solve_instance", clauses, num_vars, timeout=PASS_LIMIT - spent
                    )
                except TooSlow:
                    raise SubmissionError(
                        f"heuristic.py: solving the {len(instances)} instances took longer than "
                        f"{PASS_LIMIT:g}s (stopped at {name}): make choose_literal faster or "
                        "its choices better"
                    ) from None
                spent += code.elapsed
                check(result, name, clauses, num_vars, answer)
                best[i] = min(best[i], code.cpu)
    return {"time": sum(best)}


if __name__ == "__main__":
    run(score)
