"""The reinforcement-learning tasks: mountain_car, breakout and meta_maze (MLGym-Bench's
rlMountainCarContinuous, rlBreakoutMinAtar, rlMetaMazeMisc).

A submission is MLGym's: config.yaml, five checkpoints/config*.pkl and src/ (the network
code). The tests score freshly initialised networks with the real scorer on a reduced
environment count and compare with evaluate.py's own numbers, feed the scorer hostile
and malformed submissions, train on a tiny budget and run a demo agent through a real
episode. JAX work runs in subprocesses with the task environment's Python (one jax import
and compile each), so the fixtures are shared per module.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("gymnax")
pytest.importorskip("flax")

REPO = Path(__file__).resolve().parents[1]
RL_TASKS = ["mountain_car", "breakout", "meta_maze"]
MLGYM_IDS = {"mountain_car": "rlMountainCarContinuous", "breakout": "rlBreakoutMinAtar",
             "meta_maze": "rlMetaMazeMisc"}
ENVS = 8  # environments per seed in the reduced evaluation (MLGym: 256)
TINY = {"num_train_steps": 256, "evaluate_every_epochs": 1000, "num_test_rollouts": 4,
        "num_train_envs": 4, "n_steps": 15, "n_minibatch": 2, "epoch_ppo": 1}

# Writes five fresh checkpoints of a small network, as src/train.py would, then prints
# evaluate.py's metrics for them on ENVS environments per seed, in one process.
MAKE_AND_EVALUATE = """
import json, os, sys
sys.path.insert(0, os.getcwd())
import jax
import evaluate
from src.helpers import load_config, save_pkl_object
from src.networks import get_model_ready
config = load_config("config.yaml").train_config
for i, key in enumerate(jax.random.split(jax.random.PRNGKey(7), 5)):
    _, params = get_model_ready(key, config)
    save_pkl_object({"network": params, "train_config": config.toDict()},
                    f"checkpoints/config-42-{i}.pkl")
returns = []
for checkpoint in evaluate.find_checkpoints(os.getcwd()):
    function, params = evaluate.read_policy(
        evaluate.export_policy(os.getcwd(), "config.yaml", checkpoint.name, ENVS))
    returns += [evaluate.rollout_returns(function.call, params, s, ENVS) for s in evaluate.SEEDS]
print(json.dumps(evaluate.metrics(returns)))
"""


@functools.cache
def task_and_env(name: str):
    from harness.task.env import TaskEnv
    from harness.task.spec import Task

    task = Task.load(REPO / "tasks" / name)
    return task, TaskEnv.ensure(task)


def small_config(name: str, **train) -> dict:
    config = yaml.safe_load((REPO / "tasks" / name / "workspace/src/config.yaml").read_text())
    config["train_config"].update(train)
    config["train_config"]["network_config"].update(num_hidden_units=8, num_hidden_layers=1)
    return config


def new_workspace(name: str, where: Path, **train) -> Path:
    """The task's workspace with a small config.yaml in its root."""
    task, _ = task_and_env(name)
    task.make_workspace(where)
    (where / "config.yaml").write_text(yaml.safe_dump(small_config(name, **train)))
    return where


def python(name: str, code: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    _, env = task_and_env(name)
    return subprocess.run([env.python, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "JAX_PLATFORMS": "cpu"})


def score_reduced(name: str, submission: Path) -> dict:
    """The task's scorer on ``submission`` with ENVS environments per seed, run as the
    harness runs it but outside its outer sandbox (the agent's code still runs in the
    scorer's child sandbox); its one JSON line."""
    _, env = task_and_env(name)
    helpers = submission.parent / "helpers"
    helpers.mkdir(exist_ok=True)
    shutil.copy(REPO / "harness/scoring/helpers.py", helpers / "harness_scoring.py")
    shutil.copy(REPO / "harness/scoring/submitted.py", helpers / "harness_submitted.py")
    run = subprocess.run(
        [env.python, str(REPO / "tasks" / name / "scoring/score.py"), "."],
        cwd=submission, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(helpers), "HARNESS_RL_EVAL_ENVS": str(ENVS),
             "HARNESS_TASK_WORKSPACE": str(REPO / "tasks" / name / "workspace"),
             "JAX_PLATFORMS": "cpu"},
    )
    lines = run.stdout.strip().splitlines()
    assert lines, run.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in run.stdout, run.stdout
    return json.loads(lines[-1])


@functools.cache
def fresh(name: str, root: str) -> tuple[Path, dict]:
    """A submission of five freshly initialised networks, and evaluate.py's metrics."""
    workspace = new_workspace(name, Path(root) / f"{name}-fresh" / "ws")
    run = python(name, MAKE_AND_EVALUATE.replace("ENVS", str(ENVS)), workspace)
    assert run.returncode == 0, run.stderr[-2000:]
    return workspace, json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def root():
    """Outside /tmp: the scorer's child sandbox mounts a fresh /tmp, which would hide a
    submission kept there (the harness's scorer keeps it at /home/agent/workspace)."""
    import tempfile

    path = tempfile.mkdtemp(prefix="harness-rl-test-", dir="/var/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def variant(name: str, root: str, tag: str) -> Path:
    """A copy of the fresh submission, to spoil."""
    source, _ = fresh(name, root)
    target = Path(root) / f"{name}-{tag}" / "ws"
    shutil.copytree(source, target)
    return target


# -- what the tasks are ----------------------------------------------------------------------


@pytest.mark.parametrize("name", RL_TASKS)
def test_task_links_mlgym_and_takes_its_submission(name):
    task, _ = task_and_env(name)
    assert task.mlgym.id == MLGYM_IDS[name]
    assert task.mlgym.our_metric("Reward Mean", [m.name for m in task.metrics]) == "reward_mean"
    assert task.submission == ["config.yaml", "checkpoints", "src"]
    assert task.baseline_source == "published"
    assert task.baseline == task.published_baseline
    assert "evaluate.py" in task.readonly


def test_the_three_tasks_share_one_ppo_and_one_evaluation():
    """Only the environment (and evaluate.py's step count) differs between the tasks."""
    def text(name, rel):
        body = (REPO / "tasks" / name / "workspace" / rel).read_text()
        return "\n".join(line for line in body.splitlines()
                         if not line.startswith(("ENV_ID =", "MAX_FRAMES =")))

    for rel in ("evaluate.py", "src/policy.py", "src/train.py", "src/helpers.py"):
        assert text("breakout", rel) == text("mountain_car", rel) == text("meta_maze", rel), rel
    assert text("breakout", "src/networks.py") == text("meta_maze", "src/networks.py")
    scorer = {(REPO / "tasks" / n / "scoring/score.py").read_text() for n in RL_TASKS}
    assert len(scorer) == 1


# -- scoring -----------------------------------------------------------------------------------


@pytest.mark.slow
# One environment is enough here: the three tasks share one evaluation (asserted above);
# meta_maze's and mountain_car's scorers run in the training and demo tests below.
@pytest.mark.parametrize("name", ["breakout"])
def test_scorer_reproduces_evaluate_py_on_fresh_networks(name, root):
    """The sandboxed path (export in the child, rollout in the scorer) gives exactly the
    numbers evaluate.py computes in one process."""
    workspace, expected = fresh(name, root)
    result = score_reduced(name, workspace)
    assert result == {"metrics": {"reward_mean": expected["Reward Mean"],
                                  "reward_std": expected["Reward Std"]}}
    if name == "breakout":  # a random paddle hits the ball a few times, never 0 or 1e3
        assert 0 < expected["Reward Mean"] < 5


class _Forge:
    """A pickle that would print a perfect score line and exit, if unpickled here."""

    def __reduce__(self):
        code = ("print('{\"metrics\": {\"reward_mean\": 1000000.0, \"reward_std\": 0}}', "
                "flush=True) or __import__('os')._exit(0)")
        return (exec, (code,))


SNOOP_NETWORK = """
import os
raise RuntimeError("seen: " + repr(os.listdir(os.environ["SCORING_DIR"])))
"""


def spoil(case: str, ws: Path) -> str:
    """Spoil the submission ``ws`` as ``case`` says; the words the error must contain."""
    if case == "no_config":
        (ws / "config.yaml").unlink()
        return "config.yaml not found"
    if case == "bad_yaml":
        (ws / "config.yaml").write_text("train_config: [unclosed\n")
        return "config.yaml is not valid YAML"
    if case == "four_checkpoints":
        (ws / "checkpoints/config-42-4.pkl").unlink()
        return "expected 5 checkpoint files"
    if case == "garbage_checkpoint":
        (ws / "checkpoints/config-42-2.pkl").write_bytes(b"not a pickle")
        return "config-42-2.pkl is not a checkpoint"
    if case == "forged_score":
        (ws / "checkpoints/config-42-0.pkl").write_bytes(pickle.dumps(_Forge()))
        return "checkpoints/config-42-0.pkl (loaded with your src/): the process running it ended"
    if case == "no_networks":
        (ws / "src/networks.py").unlink()
        return "src/networks.py not found"
    if case == "callback":  # a host callback could see every observation and act on it
        network = ws / "src/networks.py"
        anchor = "        hidden = self.num_hidden_units, self.num_hidden_layers\n"
        assert anchor in network.read_text()
        network.write_text(network.read_text().replace(
            anchor, "        jax.debug.print('peek {}', x.sum())\n" + anchor))
        return "does not compile to a pure JAX function"
    if case == "snoop":
        (ws / "src/networks.py").write_text(
            SNOOP_NETWORK.replace('os.environ["SCORING_DIR"]',
                                  repr(str(REPO / "tasks/mountain_car/scoring"))))
        return "seen: []"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["no_config", "bad_yaml", "four_checkpoints", "no_networks",
                                  "garbage_checkpoint", "forged_score", "callback", "snoop"])
def test_bad_submissions_get_one_line_and_run_nothing_here(case, root):
    ws = variant("mountain_car", root, case)
    words = spoil(case, ws)
    result = score_reduced("mountain_car", ws)
    assert "metrics" not in result, result
    assert words in result["error"], result["error"]
    assert "\n" not in result["error"] and "Traceback" not in result["error"]


def test_policy_whose_actions_do_not_fit_the_environment_is_refused(root):
    """Mountain car takes one force per environment; three are refused in one line."""
    ws = variant("mountain_car", root, "three_forces")
    network = ws / "src/networks.py"
    network.write_text(network.read_text().replace("num_output_units=env.num_actions",
                                                   "num_output_units=3"))
    run = python("mountain_car", MAKE_AND_EVALUATE.replace("ENVS", str(ENVS)), ws)
    assert run.returncode != 0  # evaluate.py cannot play it either
    result = score_reduced("mountain_car", ws)
    assert "its actions do not fit the environment" in result.get("error", ""), result


# -- training and the demo ---------------------------------------------------------------------


@pytest.mark.slow
def test_baseline_trains_on_a_tiny_budget_into_a_valid_submission(root):
    """src/train.py (MLGym's flow: seed 42, five initialisations) writes the five
    checkpoints the scorer takes."""
    ws = new_workspace("meta_maze", Path(root) / "trained" / "ws", **TINY)
    _, env = task_and_env("meta_maze")
    run = subprocess.run([env.python, "src/train.py", "-config", "config.yaml"], cwd=ws,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "average reward:" in run.stdout
    names = sorted(p.name for p in (ws / "checkpoints").iterdir())
    assert names == [f"config-42-{i}.pkl" for i in range(5)]
    with open(ws / "checkpoints/config-42-0.pkl", "rb") as file:
        saved = pickle.load(file)
    assert set(saved) >= {"network", "log_return", "train_config"}
    result = score_reduced("meta_maze", ws)
    assert 0 <= result["metrics"]["reward_mean"] <= 10 * 199


@pytest.mark.slow
def test_demo_gets_a_valid_score_through_a_real_episode(tmp_path):
    """The demo agent trains on a tiny budget and submits; the real scorer (the harness's
    sandbox, 256 environments per seed) scores it."""
    from harness.models.demo import DemoModel
    from harness.run.episode import Episode

    task, _ = task_and_env("mountain_car")
    result = Episode(task, DemoModel.for_task(task.dir), tmp_path / "run").run()
    trajectory = (tmp_path / "run" / "trajectory.jsonl").read_text()
    assert result.exit_status == "submitted", trajectory[-3000:]
    assert "Stored data at ./checkpoints/config-42-4.pkl" in trajectory
    assert -200 < result.final_metrics["reward_mean"] < 100


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
