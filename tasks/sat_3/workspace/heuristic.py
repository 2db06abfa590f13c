"""The branching heuristic of the DPLL solver in solver.py: improve it.

The solver calls heuristic_fn whenever unit propagation leaves it nothing to
assign. Keep the name and the signature.
"""

import random


def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):
    """The next decision: ``(variable, value)``.

    clauses: the clauses not yet satisfied (lists of literals: 3 is x3, -3 is not
    x3; some may already be assigned False); assignments: variable -> bool so far;
    conflict_count: variable -> number of conflicts it took part in;
    assignment_history: the variables in the order they were assigned; level: one
    list of variables per decision so far. Return an unassigned variable and the
    value to try first (the solver tries the other one if that fails), or
    ``(None, True)`` when there is nothing left to choose.
    """
    # Baseline (MLGym-Bench's): a random unassigned variable, set True. The seed is
    # reset on every call, as MLGym's baseline does, so runs are reproducible.
    random.seed(10)
    free = list({abs(lit) for clause in clauses for lit in clause if abs(lit) not in assignments})
    if not free:
        return None, True
    return random.choice(free), True
