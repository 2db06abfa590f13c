"""The demo agent of the 3-SAT task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would:
it reads the solver and the baseline heuristic, times the baseline, replaces the
heuristic with two-sided Jeroslow-Wang (weights clauses by how few unassigned
literals they have left),
checks it with evaluate.py, validates and submits.
"""

from __future__ import annotations

from pathlib import Path

from harness.models.demo import reply, rewrite

SOLUTION = '''\
"""Branching heuristic: two-sided Jeroslow-Wang.

Only a clause's unassigned literals matter: a clause with few of them left is close
to becoming a unit or a conflict. Each unassigned literal scores 2 ** -k for every
open clause in which it is one of k unassigned literals; branch on the variable
with the highest total over both signs (either value then shortens many short
clauses, so unit propagation does the work and conflicts show up high in the
tree), trying first the sign with the higher score. Reads the solver's state,
changes none of it.
"""


def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):
    scores = {}
    for clause in clauses:
        free = [lit for lit in clause if abs(lit) not in assignments]
        if free:
            weight = 2.0 ** -len(free)
            for lit in free:
                scores[lit] = scores.get(lit, 0.0) + weight
    if not scores:
        return None, True
    best, best_total = None, -1.0
    for lit in scores:
        total = scores[lit] + scores.get(-lit, 0.0)
        if total > best_total:
            best, best_total = lit, total
    positive, negative = scores.get(abs(best), 0.0), scores.get(-abs(best), 0.0)
    return abs(best), bool(positive >= negative)
'''


def agent(task_dir):
    old_lines = len((Path(task_dir) / "workspace" / "heuristic.py").read_text().splitlines())
    yield reply("Let me start by looking at the files in the workspace.", "ls -la")
    yield reply("Let me read the solver to see when it calls the heuristic.", "cat solver.py")
    yield reply(
        "The solver propagates unit clauses and then asks heuristic_fn for a branch. "
        "Let me read the baseline heuristic.",
        "cat heuristic.py",
    )
    yield reply("Let me time the baseline with the evaluation script.", "python evaluate.py")
    yield from rewrite("heuristic.py", SOLUTION, old_lines)
    yield reply("Let me time the new heuristic and check its answers.", "python evaluate.py")
    yield reply("It is several times faster than the baseline. Let me validate it.", "validate")
    yield reply("The heuristic is valid and beats the baseline, so I submit it.", "submit")
