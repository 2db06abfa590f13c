"""The sat_3 task: a DPLL solver's branching heuristic, scored by solve time.

Real scorer and sandboxes: the heuristic runs in a child sandbox, timed by the
kernel's CPU clock of that process; every answer is checked, and a single wrong
answer invalidates the submission. The instances are the generator's.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
import sys
from functools import cache
from pathlib import Path

import pytest

from harness.scoring.scorer import Score, Scorer
from harness.task.env import TaskEnv
from harness.task.spec import Task

TASK_DIR = Path(__file__).resolve().parent.parent / "tasks" / "sat_3"


@cache
def task_and_env() -> tuple[Task, TaskEnv]:
    task = Task.load(TASK_DIR)
    return task, TaskEnv.ensure(task)


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_heuristic(tmp_path: Path, source: str | None = None) -> Score:
    """Score a fresh workspace, its heuristic.py replaced by ``source``."""
    task, env = task_and_env()
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    if source is not None:
        (workspace / "heuristic.py").write_text(source)
    return Scorer(task, env).score(workspace)


def demo_heuristic() -> str:
    return load("sat_3_demo", TASK_DIR / "demo.py").SOLUTION


def test_baseline_and_demo_are_valid_and_the_demo_is_much_faster(tmp_path):
    task, _ = task_and_env()
    baseline = score_heuristic(tmp_path / "baseline")
    demo = score_heuristic(tmp_path / "demo", demo_heuristic())
    assert baseline.ok, baseline.error
    assert demo.ok, demo.error
    assert task.primary.name == "time" and task.primary.direction == "minimize"
    # The recorded baseline is this machine's; elsewhere it is only the same size.
    assert task.baseline["time"] / 3 < baseline.metrics["time"] < task.baseline["time"] * 3
    assert demo.metrics["time"] < baseline.metrics["time"] / 2


WRONG = [
    (
        # Drops the clauses: the solver "finds" an assignment that violates one.
        "def choose_literal(clauses, assignment):\n"
        "    literal = clauses[0][0]\n"
        "    clauses.clear()\n"
        "    return literal\n",
        "wrong answer on instance 000.cnf: the assignment found violates clause",
    ),
    (
        # Adds a contradiction: every branch fails, satisfiable instances come out UNSAT.
        "def choose_literal(clauses, assignment):\n"
        "    clauses += [[1], [-1]]\n"
        "    return clauses[0][0]\n",
        "the solver says unsatisfiable but it is satisfiable; a wrong answer invalidates",
    ),
    (
        "def choose_literal(clauses, assignment):\n    return 0\n",
        "choose_literal returned 0: return v or -v for a variable v in 1..60 that is not "
        "assigned yet",
    ),
    (
        "def choose_literal(clauses, assignment):\n"
        "    return next(iter(assignment), clauses[0][0]) if len(assignment) > 3 else clauses[0][0]\n",
        "that is not assigned yet",
    ),
    (
        "def choose_literal(clauses, assignment):\n    return str(clauses[0][0])\n",
        "choose_literal returned '",
    ),
    (
        "def choose(clauses, assignment):\n    return 1\n",
        "raised LookupError: heuristic.py defines no function choose_literal: define it",
    ),
    (
        "import threading\n"
        "def choose_literal(clauses, assignment):\n"
        "    worker = threading.Thread(target=len, args=(clauses,))\n"
        "    worker.start()\n"
        "    worker.join()\n"
        "    return clauses[0][0]\n",
        "heuristic.py: started a process or thread during solve_instance()",
    ),
    (
        "import subprocess\n"
        "HELPER = subprocess.Popen(['sleep', '60'])\n"
        "def choose_literal(clauses, assignment):\n"
        "    return clauses[0][0]\n",
        "heuristic.py: started a process while loading",
    ),
]


@pytest.mark.parametrize("source, message", WRONG)
def test_a_wrong_or_unfair_heuristic_invalidates_the_submission(source, message, tmp_path):
    score = score_heuristic(tmp_path, source)
    assert not score.ok
    assert message in score.error
    assert "\n" not in score.error and "Traceback" not in score.error


def test_missing_heuristic_is_named(tmp_path):
    task, env = task_and_env()
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    (workspace / "heuristic.py").unlink()
    score = Scorer(task, env).score(workspace)
    assert not score.ok and "heuristic.py not found" in score.error


def test_instances_are_the_generators_and_the_answers_check_out():
    generator = load("sat_3_make_instances", TASK_DIR / "make_instances.py")
    solver = load("sat_3_solver", TASK_DIR / "workspace" / "solver.py")
    for split, count in generator.SPLITS.items():
        directory = TASK_DIR / split / "instances"
        expected = json.loads((directory / "expected.json").read_text())
        assert sorted(expected) == [generator.name(i) for i in range(count)]
        assert sorted(p.name for p in directory.glob("*.cnf")) == sorted(expected)
        for index in range(count):
            path = directory / generator.name(index)
            assert path.read_text() == generator.instance(split, index)
            clauses, num_vars = solver.read_dimacs(path)
            assert (num_vars, len(clauses)) == (60, 256)
            sat, values = solver.solve(clauses, num_vars, generator.jeroslow_wang)
            assert ("SAT" if sat else "UNSAT") == expected[path.name]
            if sat:
                assert all(any(values[abs(x) - 1] == (x > 0) for x in c) for c in clauses)
    assert "scoring" not in {p.name for p in (TASK_DIR / "workspace").iterdir()}


def test_the_solver_agrees_with_brute_force_on_small_formulas():
    solver = load("sat_3_solver", TASK_DIR / "workspace" / "solver.py")
    baseline = load("sat_3_heuristic", TASK_DIR / "workspace" / "heuristic.py")
    rng = random.Random(7)
    answers = set()
    for _ in range(60):
        n = 8
        clauses = [
            [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)]
            for _ in range(rng.randint(25, 45))
        ]
        truth = any(
            all(any(bits[abs(x) - 1] == (x > 0) for x in c) for c in clauses)
            for bits in itertools.product([False, True], repeat=n)
        )
        sat, values = solver.solve(clauses, n, baseline.choose_literal)
        assert sat == truth
        if sat:
            assert all(any(values[abs(x) - 1] == (x > 0) for x in c) for c in clauses)
        answers.add(sat)
    assert answers == {True, False}  # both kinds of formula were tried


def test_demo_beats_the_baseline_through_a_real_episode(tmp_path):
    from harness.models.demo import DemoModel
    from harness.run.episode import Episode

    task, _ = task_and_env()
    result = Episode(task, DemoModel.for_task(task.dir), tmp_path / "run").run()
    trajectory = (tmp_path / "run" / "trajectory.jsonl").read_text()
    assert result.exit_status == "submitted", trajectory[-3000:]
    assert "cat > heuristic.py" not in trajectory  # the ACI edit worked
    assert result.final_metrics["time"] < task.baseline["time"] / 2


def test_evaluate_checks_answers_in_the_workspace(tmp_path):
    import subprocess

    task, _ = task_and_env()
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    (workspace / "heuristic.py").write_text(demo_heuristic())
    run = subprocess.run(
        [sys.executable, "evaluate.py"], cwd=workspace, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["instances"] == 20
    (workspace / "heuristic.py").write_text(WRONG[1][0])
    run = subprocess.run(
        [sys.executable, "evaluate.py"], cwd=workspace, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0 and "wrong answer on" in run.stderr


def test_demo_replies_are_valid_actions_even_when_everything_fails():
    from demo_replies import commands_under_failure

    commands = commands_under_failure(TASK_DIR)
    assert commands[-2:] == ["validate", "submit"]
    assert any(c.startswith("edit 1:") for c in commands)
    assert any(c.startswith("cat > heuristic.py <<'PYEOF'") for c in commands)  # the fallback
