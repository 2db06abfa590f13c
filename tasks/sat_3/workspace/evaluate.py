"""Time the solver with your heuristic: ``python evaluate.py``.

MLGym-Bench's protocol: one pass of solver.py's DPLL with heuristic.py's
heuristic_fn over the 24,000 formulas of data/dataset.json.gz (literals as numpy
int64, as in MLGym's data set), timed by the wall clock. Every answer is checked
(a satisfying assignment against the clauses, an unsatisfiable answer against the
known one); a wrong answer stops the run. Prints {"Time": seconds, "Correct": ...,
"Incorrect": 0, "Decisions": ...}. The scorer times the same protocol on a hidden
set of the same kind.
"""

import gzip
import json
import sys
import time

import numpy as np
from heuristic import heuristic_fn
from solver import DPLL


def main() -> None:
    with gzip.open("data/dataset.json.gz", "rt") as file:
        rows = json.load(file)
    formulas = [[[np.int64(lit) for lit in clause] for clause in row[3]] for row in rows]
    correct = decisions = 0
    start = time.time()
    for row, formula in zip(rows, formulas, strict=True):
        index, is_sat = row[0], row[4]
        solver = DPLL(formula, heuristic_fn)
        answer = solver.solve()
        if answer != is_sat or (
            answer and not all(any(solver.model.get(abs(x)) is (x > 0) for x in c) for c in row[3])
        ):
            sys.exit(f"wrong answer on formula {index}: a wrong answer invalidates the heuristic")
        correct += 1
        decisions += solver.num_decisions
    elapsed = round(time.time() - start, 3)
    print(json.dumps({"Time": elapsed, "Correct": correct, "Incorrect": 0, "Decisions": decisions}))


if __name__ == "__main__":
    main()
