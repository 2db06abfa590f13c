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
    estimate = json.loads(run.stdout)["score"]
    assert estimate != task.baseline["score"]
    assert estimate == pytest.approx(task.baseline["score"], abs=0.03)


@pytest.mark.parametrize("name", GAMES)
def test_the_agent_cannot_change_the_opponent_evaluate_plays(name):
    """The scorer imports the task's own workspace/opponent.py; the agent's copy, which
    evaluate.py plays, is read-only, so validation and test play the same opponent."""
    task, _ = task_and_env(name)
    assert {"opponent.py", "evaluate.py"} <= set(task.readonly)
    assert not (task.dir / "scoring" / "opponent.py").exists()


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
        "[20, 20, 20, 20, 20, 19]",
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
        "in round 1 of game 1: an allocation is a list of 6 whole numbers >= 0 that sum to 120"
        in score.error
    )


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
    for path in ("/scoring/score.py", "/scoring/opponent.py"):
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
    assert "'/scoring/opponent.py': 'FileNotFoundError'" in score.error
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
    margin = {"battle_of_sexes": 0.3, "prisoners_dilemma": 0.3, "blotto": 0.4}[name]
    assert result.final_metrics["score"] > task.baseline["score"] + margin


@pytest.mark.parametrize("name", GAMES)
def test_demo_replies_are_valid_actions_even_when_everything_fails(name):
    from demo_replies import commands_under_failure

    commands = commands_under_failure(REPO / "tasks" / name)
    assert commands[-2:] == ["validate", "submit"]
    assert any(c.startswith("edit 1:") for c in commands)
    assert any(c.startswith("cat > strategy.py <<'PYEOF'") for c in commands)  # the fallback
