"""The repeated-game tasks: battle_of_sexes, prisoners_dilemma and blotto.

Real scorer, real sandboxes (the strategy runs in a child sandbox inside the
scorer's), real demo episodes. Scores are reproducible to every decimal; every
broken strategy gets one line saying what is wrong; the strategy never sees the
scorer's directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from harness.scoring.scorer import Score, Scorer
from harness.task.env import TaskEnv
from harness.task.spec import Task

REPO = Path(__file__).resolve().parent.parent
GAMES = ["battle_of_sexes", "prisoners_dilemma", "blotto"]
MISSING = "<no strategy.py>"


@cache
def task_and_env(name: str) -> tuple[Task, TaskEnv]:
    task = Task.load(REPO / "tasks" / name)
    return task, TaskEnv.ensure(task)


def score_strategy(name: str, tmp_path: Path, source: str | None = None) -> Score:
    """Score a fresh workspace of task ``name``, its strategy.py replaced by ``source``
    (or deleted, for MISSING)."""
    task, env = task_and_env(name)
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    if source == MISSING:
        (workspace / "strategy.py").unlink()
    elif source is not None:
        (workspace / "strategy.py").write_text(source)
    return Scorer(task, env).score(workspace)


@pytest.mark.parametrize("name", GAMES)
def test_baseline_scores_as_recorded_and_the_same_every_time(name, tmp_path):
    task, _ = task_and_env(name)
    first = score_strategy(name, tmp_path / "a")
    second = score_strategy(name, tmp_path / "b")
    assert first.ok, first.error
    assert first.metrics == second.metrics  # the baseline is randomised, the score is not
    assert first.metrics["score"] == pytest.approx(task.baseline["score"], abs=1e-9)
    assert task.primary.name == "score" and task.primary.direction == "maximize"
    assert task.submission == ["strategy.py"]


@pytest.mark.parametrize("name", GAMES)
def test_evaluate_estimates_the_score_on_other_seeds(name, tmp_path):
    task, _ = task_and_env(name)
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    run = subprocess.run(
        [sys.executable, "evaluate.py"], cwd=workspace, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    estimate = json.loads(run.stdout)["Score"]  # MLGym's key, unseeded as MLGym's
    assert estimate == pytest.approx(task.baseline["score"], abs=0.03)


@pytest.mark.parametrize("name", GAMES)
def test_the_agent_cannot_change_the_opponent_evaluate_plays(name):
    """The scorer imports the task's own workspace/target.py; the agent's copy, which
    evaluate.py plays, is read-only, so validation and test play the same opponent."""
    task, _ = task_and_env(name)
    assert {"target.py", "evaluate.py"} <= set(task.readonly)
    assert not (task.dir / "scoring" / "target.py").exists()


# Strategies shaped like MLGym-Bench's starter files (module-level `import random`, the
# global random module, a bare `row_strategy(history)`), written for these tests: each
# plays MLGym's baseline algorithm, so the scorer must accept it unchanged and land
# within evaluation noise of MLGym's published baseline.
MLGYM_SHAPED = {
    "battle_of_sexes": """\
import random


def row_strategy(history):
    # open with my favourite, then mostly follow the partner
    if not history:
        return 0
    x = random.random()
    if x < 0.1:
        return 0
    elif x < 0.2:
        return 1
    elif x < 0.9:
        return history[-1][1]
    return history[-1][0]
""",
    "prisoners_dilemma": """\
import random


def row_strategy(history):
    if len(history) == 0:
        return 0 if random.random() < 0.5 else 1
    prev_me, prev_them = history[-1]
    x = random.random()
    if prev_them > 0:
        return 1 if x < 0.75 else (prev_me if x < 0.9 else 0)
    return 0 if x < 0.6 else (prev_me if x < 0.9 else 1)
""",
    "blotto": """\
import random


def row_strategy(history):
    alloc = [0] * 6
    for _ in range(random.randint(1, 6)):
        alloc[random.randint(0, 5)] += random.randint(10, 30)
    rest = 120 - sum(alloc)
    if rest > 0:
        for i in [j for j in range(6) if alloc[j] == 0]:
            alloc[i] = random.randint(0, rest)
            rest -= alloc[i]
    s = sum(alloc)
    out = [int(a * 120 / s) for a in alloc]
    while sum(out) != 120:
        out[random.randint(0, 5)] += 120 - sum(out)
    return out
""",
}


@pytest.mark.parametrize("name", GAMES)
def test_an_mlgym_shaped_strategy_is_accepted_and_scores_as_published(name, tmp_path):
    task, _ = task_and_env(name)
    score = score_strategy(name, tmp_path, MLGYM_SHAPED[name])
    assert score.ok, score.error
    # The scorer's protocol (opponent, rounds, games) is MLGym's: its published
    # baseline lies within the evaluation's noise (about 0.005) of this score.
    assert score.metrics["score"] == pytest.approx(task.published_baseline["score"], abs=0.01)
    assert task.mlgym is not None and task.mlgym.same_scale


def load_target(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"{name}_target", REPO / "tasks" / name / "workspace" / "target.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_battle_of_sexes_column_player_follows_the_first_move_not_the_last():
    import random

    target = load_target("battle_of_sexes")
    rng = random.Random(5)
    assert target.column_strategy([], rng) == 1
    opened_with_1 = [target.column_strategy([(1, 1), (0, 1)], rng) for _ in range(4000)]
    opened_with_0 = [target.column_strategy([(0, 1), (1, 0)], rng) for _ in range(4000)]
    assert sum(opened_with_1) / 4000 == pytest.approx(0.8, abs=0.03)
    assert opened_with_0.count(0) / 4000 == pytest.approx(0.8, abs=0.03)


def test_prisoners_dilemma_column_player_draws_a_strategy_every_round():
    import random

    target = load_target("prisoners_dilemma")
    assert len(target.STRATEGIES) == 11
    column = target.new_opponent(random.Random(3))  # one game's column player
    first_moves = [column([]) for _ in range(11_000)]
    # 3 of the 11 strategies defect first, 2 flip a coin: P(defect) = 4/11, in every
    # round of the same game (a strategy drawn once per game would always answer alike).
    assert sum(first_moves) / 11_000 == pytest.approx(4 / 11, abs=0.02)


def test_blotto_column_player_uses_all_its_soldiers():
    import random

    target = load_target("blotto")
    rng = random.Random(2)
    allocations = [target.column_strategy([], rng) for _ in range(3000)]
    assert all(len(a) == 6 and sum(a) == 120 and min(a) >= 0 for a in allocations)
    assert all(type(v) is int for a in allocations for v in a)
    assert sum(a[0] for a in allocations) / 3000 == pytest.approx(20, abs=1)


MOVE_ERRORS = [
    (MISSING, "strategy.py not found"),
    (
        "def row_strategy(history)\n    return 0\n",
        "strategy.py fails to import (line 1): SyntaxError",
    ),
    ("import no_such_module\n", "fails to import (strategy.py line 1): ModuleNotFoundError"),
    ("def strategy(history):\n    return 0\n", "strategy.py defines no function row_strategy"),
    (
        "def row_strategy(history):\n    return 1 // len(history)\n",
        "row_strategy raised ZeroDivisionError: integer division or modulo by zero "
        "(strategy.py line 2)",
    ),
    (
        "def row_strategy(history):\n    return 2\n",
        "returned 2 in round 1 of game 1: a move is 0 or 1",
    ),
    (
        "def row_strategy(history):\n    return 0 if len(history) < 3 else '1'\n",
        "returned '1' in round 4 of game 1: a move is 0 or 1",
    ),
    ("def row_strategy(history):\n    return True\n", "returned True in round 1"),
    (
        "def row_strategy(history):\n    return object()\n",
        "returned an unusable value (a object is not a plain value",
    ),
    (
        "import sys\ndef row_strategy(history):\n    sys.exit(0)\n",
        "row_strategy raised SystemExit",
    ),
    (
        "import os\ndef row_strategy(history):\n    os._exit(3)\n",
        "the process running it ended during row_strategy() (exit code 3",
    ),
]


@pytest.mark.parametrize("source, message", MOVE_ERRORS)
def test_a_broken_strategy_gets_one_clear_line(source, message, tmp_path):
    score = score_strategy("battle_of_sexes", tmp_path, source)
    assert not score.ok
    assert message in score.error
    assert "\n" not in score.error and "Traceback" not in score.error


@pytest.mark.parametrize(
    "allocation",
    [
        "[30, 30, 30, 30, 1, 0]",
        "[30, 30, 30, 30, 0]",
        "[140, -20, 0, 0, 0, 0]",
        "[20.0] * 6",
        "'abc'",
    ],
)
def test_blotto_rejects_invalid_allocations(allocation, tmp_path):
    source = f"def row_strategy(history):\n    return {allocation}\n"
    score = score_strategy("blotto", tmp_path, source)
    assert not score.ok
    assert (
        "in round 1 of game 1: an allocation is a list of 6 whole numbers >= 0 that sum to "
        "at most 120" in score.error
    )


def test_blotto_accepts_fewer_than_120_soldiers(tmp_path):
    score = score_strategy(
        "blotto", tmp_path, "def row_strategy(history):\n    return [25] * 4 + [0, 0]\n"
    )
    assert score.ok, score.error
    assert -1 <= score.metrics["score"] <= 1


def test_numpy_moves_and_printing_strategies_are_fine(tmp_path):
    source = (
        "import numpy as np\n"
        "def row_strategy(history):\n"
        "    print('thinking about', history)\n"
        "    return np.int64(0)\n"
    )
    score = score_strategy("battle_of_sexes", tmp_path, source)
    assert score.ok, score.error
    assert score.metrics["score"] > 1.4


SNOOP = """\
import os
from pathlib import Path


def row_strategy(history):
    seen = {}
    for path in ("/scoring", "/opt/harness_scoring"):
        try:
            seen[path] = sorted(os.listdir(path))
        except OSError as err:
            seen[path] = type(err).__name__
    for path in ("/scoring/score.py", "/scoring/target.py"):
        try:
            seen[path] = Path(path).read_text()[:200]
        except OSError as err:
            seen[path] = type(err).__name__
    try:
        Path("strategy.py").write_text("changed")
        seen["write"] = "written"
    except OSError as err:
        seen["write"] = type(err).__name__
    seen["proc"] = os.listdir("/proc")
    raise RuntimeError(repr(seen))
"""


def test_the_strategy_cannot_see_the_scorer_or_change_the_submission(tmp_path):
    score = score_strategy("prisoners_dilemma", tmp_path, SNOOP)
    assert not score.ok
    assert "'/scoring': []" in score.error  # an empty directory where the scorer is
    assert "'/scoring/score.py': 'FileNotFoundError'" in score.error
    assert "'/scoring/target.py': 'FileNotFoundError'" in score.error
    assert "'write': 'OSError'" in score.error  # read-only file system
    assert "'proc': []" in score.error
    assert "SEED" not in score.error and "52_906_338" not in score.error


def test_a_strategy_that_never_returns_is_stopped(tmp_path):
    from harness.scoring.helpers import SubmissionError
    from harness.scoring.submitted import SubmittedCode, TooSlow

    path = tmp_path / "strategy.py"
    path.write_text("def row_strategy(history):\n    while True:\n        pass\n")
    with SubmittedCode(path, hide=[]) as code, pytest.raises(TooSlow) as caught:
        code.play("row_strategy", 3, None, timeout=1.0)
    assert "row_strategy() did not finish within its time limit (1s): make it faster" in str(
        caught.value
    )
    assert isinstance(caught.value, SubmissionError)


@pytest.mark.parametrize("name", GAMES)
def test_demo_beats_the_baseline_through_a_real_episode(name, tmp_path):
    from harness.models.demo import DemoModel
    from harness.run.episode import Episode

    task, _ = task_and_env(name)
    result = Episode(task, DemoModel.for_task(task.dir), tmp_path / "run").run()
    trajectory = (tmp_path / "run" / "trajectory.jsonl").read_text()
    assert result.exit_status == "submitted", trajectory[-3000:]
    assert "cat > strategy.py" not in trajectory  # the ACI edit worked
    margin = {"battle_of_sexes": 0.3, "prisoners_dilemma": 0.2, "blotto": 0.4}[name]
    assert result.final_metrics["score"] > task.baseline["score"] + margin


@pytest.mark.parametrize("name", GAMES)
def test_demo_replies_are_valid_actions_even_when_everything_fails(name):
    from demo_replies import commands_under_failure

    commands = commands_under_failure(REPO / "tasks" / name)
    assert commands[-2:] == ["validate", "submit"]
    assert any(c.startswith("edit 1:") for c in commands)
    assert any(c.startswith("cat > strategy.py <<'PYEOF'") for c in commands)  # the fallback
