"""The sat_3 task: MLGym-Bench's DPLL solver and heuristic interface, scored by the
time of one pass over a formula set.

Real scorer and sandboxes on a tiny copy of the task (one formula per size and
ratio, 96 in all, instead of 24,000): the heuristic runs in a child sandbox, timed
by the kernel's CPU clock of that process; every answer is checked, and a single
wrong answer invalidates the submission.
"""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.scoring.scorer import Score, Scorer
from harness.task.env import TaskEnv
from harness.task.spec import Task

TASK_DIR = Path(__file__).resolve().parent.parent / "tasks" / "sat_3"

# MLGym-shaped heuristic, written for this test: the global random module reseeded on
# every call, a random unassigned variable, value True.
MLGYM_SHAPED = """\
import random


def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):
    random.seed(10)
    candidates = list(set([abs(l) for c in clauses for l in c if abs(l) not in assignments]))
    if not candidates:
        return None, True
    return random.choice(candidates), True
"""


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_task(tmp_path_factory) -> tuple[Task, TaskEnv]:
    """A copy of the task whose two formula sets hold one formula per cell."""
    root = tmp_path_factory.mktemp("tiny") / "sat_3"
    shutil.copytree(TASK_DIR, root)
    generator = load("sat_3_make_instances_tiny", root / "make_instances.py")
    for split, relative in generator.SPLITS.items():
        generator.write(root / relative, generator.instances(split, per_cell=1))
    task = Task.load(root)
    return task, TaskEnv.ensure(task)


def score_heuristic(tiny, tmp_path: Path, source: str | None = None) -> Score:
    task, env = tiny
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    if source is not None:
        (workspace / "heuristic.py").write_text(source)
    return Scorer(task, env).score(workspace)


def demo_heuristic() -> str:
    return load("sat_3_demo", TASK_DIR / "demo.py").SOLUTION


def test_baseline_mlgym_shaped_and_demo_heuristics_are_valid(tiny_task, tmp_path):
    task, _ = tiny_task
    # MLGym's agents import the solver's helpers, as its evaluate.py in the workspace allows
    importing = "from solver import DPLL, clause_satisfied  # noqa\n" + MLGYM_SHAPED
    for name, source in [("base", None), ("mlgym", MLGYM_SHAPED), ("demo", demo_heuristic()),
                         ("imports-solver", importing)]:
        score = score_heuristic(tiny_task, tmp_path / name, source)
        assert score.ok, (name, score.error)
        assert 0 < score.metrics["time"] < 30
    assert task.primary.name == "time" and task.primary.direction == "minimize"
    assert task.mlgym.id == "3SATTime" and not task.mlgym.same_scale


WRONG = [
    (
        # Empties the solver's clause list: it "finds" an assignment that violates one.
        "def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):\n"
        "    free = [abs(l) for c in clauses for l in c if abs(l) not in assignments]\n"
        "    clauses.clear()\n"
        "    return (free[0], True) if free else (None, True)\n",
        "leaves clause",
    ),
    (
        # Gives up at once: satisfiable formulas come out unsatisfiable.
        "def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):\n"
        "    return None, True\n",
        "the solver says unsatisfiable but it is satisfiable; a wrong answer invalidates",
    ),
    (
        "def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):\n"
        "    return 99, True\n",
        "heuristic_fn returned variable 99: return an unassigned variable of the formula",
    ),
    (
        "def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):\n"
        "    free = [abs(l) for c in clauses for l in c if abs(l) not in assignments]\n"
        "    return free[0], 'yes'\n",
        "heuristic_fn returned value 'yes': return True or False",
    ),
    (
        "def choose(clauses, assignments):\n    return 1, True\n",
        "heuristic.py defines no function heuristic_fn: define it",
    ),
    (
        "import threading\n"
        "def heuristic_fn(clauses, assignments, conflict_count, assignment_history, level):\n"
        "    worker = threading.Thread(target=len, args=(clauses,))\n"
        "    worker.start()\n"
        "    worker.join()\n"
        "    free = [abs(l) for c in clauses for l in c if abs(l) not in assignments]\n"
        "    return (free[0], True) if free else (None, True)\n",
        "heuristic.py: started a process or thread during solve_all()",
    ),
]


@pytest.mark.parametrize("source, message", WRONG)
def test_a_wrong_or_unfair_heuristic_invalidates_the_submission(
    tiny_task, source, message, tmp_path
):
    score = score_heuristic(tiny_task, tmp_path, source)
    assert not score.ok
    assert message in score.error
    assert "\n" not in score.error and "Traceback" not in score.error


def test_the_shipped_sets_are_the_generators_shape():
    """24,000 formulas per set, MLGym's row layout, sorted by size from 3 variables and
    6 clauses; the answers of a sample are re-checked by brute force."""
    for relative in ("data/dataset.json.gz", "scoring/dataset.json.gz"):
        with gzip.open(TASK_DIR / relative, "rt") as file:
            rows = json.load(file)
        assert len(rows) == 24_000
        assert rows[0][:3] == [1, 3, 6] and rows[0][5] is None
        assert [row[0] for row in rows] == list(range(1, 24_001))
        for row in rows[:: 24_000 // 40]:
            index, n, m, clauses, is_sat, _ = row
            assert len(clauses) == m and all(len(set(map(abs, c))) == 3 for c in clauses)
            truth = any(
                all(any(bits[abs(x) - 1] == (x > 0) for x in c) for c in clauses)
                for bits in itertools.product([False, True], repeat=n)
            )
            assert truth == is_sat, index
    assert "scoring" not in {p.name for p in (TASK_DIR / "workspace").iterdir()}


def test_the_solver_agrees_with_brute_force_and_counts_decisions():
    solver = load("sat_3_solver", TASK_DIR / "workspace" / "solver.py")
    baseline = load("sat_3_heuristic", TASK_DIR / "workspace" / "heuristic.py")
    rng = random.Random(7)
    answers = set()
    for _ in range(60):
        n = 7
        clauses = [
            [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)]
            for _ in range(rng.randint(20, 45))
        ]
        truth = any(
            all(any(bits[abs(x) - 1] == (x > 0) for x in c) for c in clauses)
            for bits in itertools.product([False, True], repeat=n)
        )
        dpll = solver.DPLL([list(c) for c in clauses], baseline.heuristic_fn)
        assert dpll.solve() == truth
        if truth:
            assert all(any(dpll.model.get(abs(x)) is (x > 0) for x in c) for c in clauses)
        answers.add(truth)
    assert answers == {True, False}  # both kinds of formula were tried


def test_evaluate_runs_mlgym_like_and_checks_answers(tiny_task, tmp_path):
    task, _ = tiny_task
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    run = subprocess.run(
        [sys.executable, "evaluate.py"], cwd=workspace, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["Correct"] == 96 and result["Incorrect"] == 0 and result["Decisions"] > 0
    (workspace / "heuristic.py").write_text(WRONG[1][0])
    run = subprocess.run(
        [sys.executable, "evaluate.py"], cwd=workspace, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0 and "wrong answer on formula" in run.stderr


def test_demo_finishes_a_real_episode_with_a_valid_score(tiny_task, tmp_path):
    from harness.models.demo import DemoModel
    from harness.run.episode import Episode

    task, _ = tiny_task
    result = Episode(task, DemoModel.for_task(task.dir), tmp_path / "run").run()
    trajectory = (tmp_path / "run" / "trajectory.jsonl").read_text()
    assert result.exit_status == "submitted", trajectory[-3000:]
    assert "cat > heuristic.py" not in trajectory  # the ACI edit worked
    assert result.final_metrics["time"] > 0


def test_demo_replies_are_valid_actions_even_when_everything_fails():
    from demo_replies import commands_under_failure

    commands = commands_under_failure(TASK_DIR)
    assert commands[-2:] == ["validate", "submit"]
    assert any(c.startswith("edit 1:") for c in commands)
    assert any(c.startswith("cat > heuristic.py <<'PYEOF'") for c in commands)  # the fallback
