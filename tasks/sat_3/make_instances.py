"""Generate the instance sets of the 3-SAT task: ``python make_instances.py``.

MLGym-Bench's instance file is not public, so the sets here are generated to its
known shape: 24,000 random 3-SAT formulas (three distinct variables per clause,
random signs) stored as ``(index, num_vars, num_clauses, formula, is_sat, None)``,
ordered by size from 3 variables and 6 clauses up. Here: VARIABLES 3..14 times
RATIOS 2..9 clauses per variable, PER_CELL formulas each, from
``random.Random(f"sat_3-{split}-{num_vars}-{ratio}-{k}")``. Writes
data/dataset.json.gz (the agent's set, for evaluate.py) and scoring/dataset.json.gz
(the hidden set the score is measured on). ``is_sat`` is found by solver.py with
two different heuristics that must agree; every satisfying assignment is checked.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIABLES = range(3, 15)
RATIOS = range(2, 10)
PER_CELL = 250  # 12 sizes x 8 ratios x 250 = 24,000 formulas per set
SPLITS = {"data": "data/dataset.json.gz", "scoring": "scoring/dataset.json.gz"}


def formula(split: str, num_vars: int, ratio: int, k: int) -> list[list[int]]:
    rng = random.Random(f"sat_3-{split}-{num_vars}-{ratio}-{k}")
    return [
        [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, num_vars + 1), 3)]
        for _ in range(ratio * num_vars)
    ]


def jeroslow_wang(clauses, assignments, conflict_count, assignment_history, level):
    scores: dict[int, float] = {}
    for clause in clauses:
        free = [lit for lit in clause if abs(lit) not in assignments]
        for lit in free:
            scores[lit] = scores.get(lit, 0.0) + 2.0 ** -len(free)
    if not scores:
        return None, True
    best = max(scores, key=scores.get)
    return abs(best), best > 0


def first_free(clauses, assignments, conflict_count, assignment_history, level):
    for clause in clauses:
        for lit in clause:
            if abs(lit) not in assignments:
                return abs(lit), lit < 0
    return None, True


def satisfiable(clauses: list[list[int]]) -> bool:
    sys.path.insert(0, str(HERE / "workspace"))
    from solver import DPLL

    answers = set()
    for heuristic in (jeroslow_wang, first_free):
        solver = DPLL([list(c) for c in clauses], heuristic)
        sat = solver.solve()
        if sat:
            model = solver.model
            assert all(any(model.get(abs(x)) is (x > 0) for x in c) for c in clauses)
        answers.add(sat)
    assert len(answers) == 1, "the heuristics disagree: solver bug"
    return answers.pop()


def instances(split: str, per_cell: int = PER_CELL) -> list[list]:
    """The set ``split`` as ``[index, num_vars, num_clauses, formula, is_sat, None]`` rows."""
    rows = []
    for num_vars in VARIABLES:
        for ratio in RATIOS:
            for k in range(per_cell):
                clauses = formula(split, num_vars, ratio, k)
                rows.append(
                    [len(rows) + 1, num_vars, len(clauses), clauses, satisfiable(clauses), None]
                )
    return rows


def write(path: Path, rows: list[list]) -> None:
    """Gzipped JSON, byte-identical on every run (no timestamp)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(rows, separators=(",", ":")).encode()
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(data)


def main() -> None:
    for split, relative in SPLITS.items():
        rows = instances(split)
        write(HERE / relative, rows)
        sat = sum(row[4] for row in rows)
        print(f"{relative}: {len(rows)} formulas, {sat} satisfiable")


if __name__ == "__main__":
    main()
