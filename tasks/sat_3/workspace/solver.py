"""The DPLL solver whose branching heuristic you improve (read-only; the scorer
runs its own copy).

MLGym-Bench's 3-SAT solver, re-implemented for this harness with the same
algorithm and the same state, so a heuristic sees what it would see there:

- ``DPLL(clauses, heuristic_function)`` keeps ``assignments`` (variable -> bool),
  ``conflict_count`` (variable -> how often it took part in a conflict),
  ``assignment_history`` (variables in the order they were assigned), ``level``
  (one list of variables per decision: the decision and what unit propagation
  then assigned), ``unresolved_clauses`` (clauses not yet satisfied by a True
  literal) and ``resolved_clauses``.
- ``solve()``: stop if every clause is satisfied (True) or one is falsified
  (False); run unit propagation; otherwise ask the heuristic for ``(variable,
  value)``, try ``value`` then its opposite, recursing, and undo the decision's
  level after a failed branch. ``num_decisions`` counts the heuristic's calls.

The heuristic is called as ``heuristic_function(unresolved_clauses, assignments,
conflict_count, assignment_history, level)`` and returns ``(variable, value)``:
an unassigned variable of the formula (a negative literal assigns its variable the
opposite value) and a bool; ``(None, ...)`` gives up on the branch. It gets the
solver's own objects: changing them changes the search, and a wrong answer is
caught by the scorer.
"""

from __future__ import annotations


def literal_true(literal, assignments) -> bool:
    """Whether ``literal`` is made True by ``assignments``."""
    var = abs(literal)
    if var not in assignments:
        return False
    return assignments[var] is True if literal > 0 else assignments[var] is False


def clause_satisfied(clause, assignments) -> bool:
    return any(literal_true(lit, assignments) for lit in clause)


def clause_falsified(clause, assignments) -> bool:
    """All literals assigned and all False."""
    for lit in clause:
        var = abs(lit)
        if var not in assignments:
            return False
        if (assignments[var] is True) if lit > 0 else (assignments[var] is False):
            return False
    return True


def clause_is_unit(clause, assignments) -> bool:
    """Exactly one literal unassigned and at least one assigned (MLGym's test: it
    does not look at the assigned literals' values)."""
    free = sum(1 for lit in clause if abs(lit) not in assignments)
    return free == 1 and free < len(clause)


class DPLL:
    """A DPLL solver for one CNF formula (a list of clauses, each a list of literals)."""

    def __init__(self, clauses, heuristic_function):
        self.heuristic_function = heuristic_function
        self.assignments = {}
        self.conflict_count = {}
        self.assignment_history = []
        self.resolved_clauses = []
        self.unresolved_clauses = clauses
        self.level = []
        self.num_decisions = 0
        self.model = None
        """A satisfying assignment once solve() returned True (for checking answers)."""
        self._variables = {abs(lit) for clause in clauses for lit in clause}

    def _count_conflict(self, var) -> None:
        self.conflict_count[var] = self.conflict_count.get(var, 0) + 1

    def is_satisfied(self) -> bool:
        return all(clause_satisfied(c, self.assignments) for c in self.unresolved_clauses)

    def has_conflict(self) -> bool:
        """Whether a clause is falsified; counts a conflict for each of its variables."""
        found = False
        for clause in self.unresolved_clauses:
            if clause_falsified(clause, self.assignments):
                found = True
                for lit in clause:
                    self._count_conflict(abs(lit))
        return found

    def unit_propagate(self):
        """Assign unit clauses' last literals until none is left. Returns True when
        that satisfies every clause, False on a conflict (both without keeping the
        propagated assignments, as MLGym's solver), None otherwise (kept, added to
        the current level)."""
        assignments = dict(self.assignments)
        history = list(self.assignment_history)
        unresolved = list(self.unresolved_clauses)
        resolved = list(self.resolved_clauses)
        units = [c for c in unresolved if clause_is_unit(c, assignments)]
        while units:
            for clause in units:
                free = [lit for lit in clause if abs(lit) not in assignments]
                if not free:
                    continue
                literal = free[0]
                var = abs(literal)
                assignments[var] = True if literal > 0 else False
                history.append(var)
                kept = []
                for other in unresolved:
                    (resolved if literal in other else kept).append(other)
                unresolved = kept
                if all(clause_satisfied(c, assignments) for c in unresolved):
                    self.model = assignments
                    return True
                if any(clause_falsified(c, assignments) for c in unresolved):
                    self._count_conflict(var)
                    return False
            units = [c for c in unresolved if clause_is_unit(c, assignments)]
        if assignments:
            self.level[-1].extend(v for v in assignments if v not in self.assignments)
        self.assignments = assignments
        self.assignment_history = history
        self.resolved_clauses = resolved
        self.unresolved_clauses = unresolved
        return None

    def assign(self, literal, value) -> None:
        """A decision: a new level holding ``literal``'s variable."""
        var = abs(literal)
        self.assignments[var] = value if literal > 0 else not value
        self.assignment_history.append(var)
        self.level.append([var])
        kept = []
        for clause in self.unresolved_clauses:
            if (literal in clause and value is True) or (-literal in clause and value is False):
                self.resolved_clauses.append(clause)
            else:
                kept.append(clause)
        self.unresolved_clauses = kept

    def backtrack(self) -> None:
        """Undo the last level: unassign its variables, reopen the clauses that lose
        their last True literal."""
        for var in self.level.pop():
            del self.assignments[var]
            still = []
            for clause in self.resolved_clauses:
                if clause_satisfied(clause, self.assignments):
                    still.append(clause)
                else:
                    self.unresolved_clauses.append(clause)
            self.resolved_clauses = still

    def _decision(self):
        variable, value = self.heuristic_function(
            self.unresolved_clauses,
            self.assignments,
            self.conflict_count,
            self.assignment_history,
            self.level,
        )
        self.num_decisions += 1
        if variable is None:
            return None, None
        if abs(variable) not in self._variables or abs(variable) in self.assignments:
            raise ValueError(
                f"heuristic_fn returned variable {variable!r}: return an unassigned "
                "variable of the formula (or None)"
            )
        if value not in (True, False):
            raise ValueError(f"heuristic_fn returned value {value!r}: return True or False")
        return variable, bool(value)

    def solve(self) -> bool:
        """Whether the formula is satisfiable (``model`` holds a witness if so)."""
        if self.is_satisfied():
            self.model = dict(self.assignments)
            return True
        if self.has_conflict():
            return False
        propagated = self.unit_propagate()
        if propagated is not None:
            return propagated
        variable, value = self._decision()
        if variable is None:
            return False
        for choice in (value, not value):
            self.assign(variable, choice)
            if self.solve():
                return True
            self.backtrack()
        return False
