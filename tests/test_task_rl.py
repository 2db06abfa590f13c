"""The reinforcement-learning tasks: mountain_car, breakout and meta_maze.

Each ships a PPO baseline (train.py + config.yaml), a read-only policy.py (the network
family and checkpoint format) and evaluate.py, and scores a checkpoint of weights on
hidden seeds. The tests score the shipped baseline checkpoints, train on a tiny budget,
feed the scorer hostile files and run each demo agent through a real episode.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]
RL_TASKS = ["mountain_car", "breakout", "meta_maze"]
CHECKPOINT = "checkpoints/policy.pt"
WORKSPACE_MODULES = ("policy", "evaluate", "train", "env")

TINY = {
    "mountain_car": {"total_steps": 400, "num_envs": 2, "rollout_steps": 100, "minibatches": 2},
    "breakout": {"total_steps": 128, "num_envs": 2, "rollout_steps": 64, "minibatches": 2},
    "meta_maze": {"total_steps": 400, "num_envs": 2, "minibatches": 2},
}


@functools.cache
def task_and_env(name: str):
    from harness.task.env import TaskEnv
    from harness.task.spec import Task

    task = Task.load(REPO / "tasks" / name)
    return task, TaskEnv.ensure(task)


def workspace_module(name: str, module: str):
    """Import ``module`` from the task's workspace under a private name (each task has
    its own policy.py and evaluate.py, so the plain names must not stay cached)."""
    workspace = REPO / "tasks" / name / "workspace"
    sys.path.insert(0, str(workspace))
    try:
        for other in WORKSPACE_MODULES:
            sys.modules.pop(other, None)
        spec = importlib.util.spec_from_file_location(
            f"_rl_{name}_{module}", workspace / f"{module}.py"
        )
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        return loaded
    finally:
        sys.path.remove(str(workspace))
        for other in WORKSPACE_MODULES:
            sys.modules.pop(other, None)


def submission_with(tmp_path: Path, checkpoint: Path | bytes | None) -> Path:
    """A workspace whose checkpoints/policy.pt is ``checkpoint`` (a file or raw bytes)."""
    workspace = tmp_path / "ws"
    (workspace / "checkpoints").mkdir(parents=True)
    target = workspace / CHECKPOINT
    if isinstance(checkpoint, Path):
        shutil.copyfile(checkpoint, target)
    elif checkpoint is not None:
        target.write_bytes(checkpoint)
    return workspace


def score(name: str, workspace: Path):
    from harness.scoring.scorer import Scorer

    task, env = task_and_env(name)
    return Scorer(task, env).score(workspace)


@pytest.mark.parametrize("name", RL_TASKS)
def test_the_agent_cannot_change_the_evaluation_code_the_scorer_runs(name):
    """The scorer imports the task's own workspace/policy.py and evaluate.py (and env.py);
    the agent's copies are read-only, so the validation score and the test score come
    from the same code."""
    task = task_and_env(name)[0]
    shared = {"policy.py", "evaluate.py"} | ({"env.py"} if name == "meta_maze" else set())
    assert shared <= set(task.readonly)
    assert sorted(p.name for p in (task.dir / "scoring").glob("*.py")) == ["score.py"]


@pytest.mark.parametrize("name", RL_TASKS)
def test_shipped_baseline_checkpoint_scores_as_recorded(name, tmp_path):
    """The checkpoint `harness task check` trained here scores the recorded baseline,
    to the third decimal: episodes, seeds and the policy's actions are deterministic."""
    task, _ = task_and_env(name)
    shipped = REPO / "tasks" / name / "baseline_checkpoint" / "policy.pt"
    result = score(name, submission_with(tmp_path, shipped))
    assert result.ok, result.error
    assert result.metrics["mean_return"] == pytest.approx(task.baseline["mean_return"], abs=5e-4)


def test_missing_checkpoint_gets_one_clear_line(tmp_path):
    result = score("mountain_car", submission_with(tmp_path, None))
    assert not result.ok
    assert result.error.startswith(f"{CHECKPOINT} not found") and "\n" not in result.error


class _Payload:
    """A pickle that would print a perfect score and exit if it were ever unpickled."""

    def __reduce__(self):
        code = "print('{\"metrics\": {\"mean_return\": 1000000.0}}') or __import__('os')._exit(0)"
        return (eval, (code,))


@pytest.mark.parametrize("name", RL_TASKS)
def test_checkpoint_with_code_is_refused_without_running_it(name, tmp_path):
    """A checkpoint is weights only: a pickle carrying code is rejected, its code never runs."""
    result = score(name, submission_with(tmp_path, pickle.dumps({"state_dict": _Payload()})))
    assert not result.ok
    assert "is not a checkpoint save_policy() wrote" in result.error
    assert "1000000" not in result.error


@pytest.mark.parametrize("name", RL_TASKS)
def test_malformed_checkpoints_are_explained(name, tmp_path):
    policy = workspace_module(name, "policy")
    good = torch.load(
        REPO / "tasks" / name / "baseline_checkpoint" / "policy.pt", weights_only=True
    )
    first = next(iter(good["state_dict"]))

    def variant(**changes):
        data = {**good, **changes}
        path = tmp_path / f"v{len(list(tmp_path.iterdir()))}.pt"
        torch.save(data, path)
        return path

    nan_weights = {k: v.clone() for k, v in good["state_dict"].items()}
    nan_weights[first].view(-1)[0] = float("nan")
    huge = dict(good["config"], hidden=[10**6])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    cases = {
        tmp_path / "absent.pt": "not found: train a policy and save it with save_policy()",
        garbage: "is not a checkpoint save_policy() wrote",
        variant(format="something-else"): "checkpoint: save it with save_policy()",
        variant(state_dict={first: good["state_dict"][first]}): "do not fit the config",
        variant(state_dict=nan_weights): "NaN or infinite",
        variant(config=huge): "bad config",
        variant(config={"layers": 3}): "config",
    }
    for path, message in cases.items():
        with pytest.raises(
            policy.CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")
        ):
            policy.load_policy(path)


@pytest.mark.parametrize("name", RL_TASKS)
def test_training_runs_on_a_tiny_budget_and_saves_a_loadable_checkpoint(name, tmp_path):
    task, env = task_and_env(name)
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    config = yaml.safe_load((workspace / "config.yaml").read_text())
    config.update(TINY[name])
    (workspace / "tiny.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run(
        [env.python, "train.py", "tiny.yaml"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        env={"DEVICE": "cpu", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "training on cpu" in run.stdout and f"saved {CHECKPOINT}" in run.stdout
    validation = json.loads(run.stdout.strip().splitlines()[-1])["validation_mean_return"]
    assert validation >= 0 or name == "mountain_car"  # returns are negative only there
    policy = workspace_module(name, "policy").load_policy(workspace / CHECKPOINT)
    assert {k: policy.config[k] for k in config["policy"]} == config["policy"]


@pytest.mark.parametrize("name", RL_TASKS)
def test_device_is_the_gpu_when_there_is_one_else_the_cpu(name, capsys):
    pick_device = workspace_module(name, "train").pick_device
    assert pick_device("auto", 0) == "cpu"
    assert pick_device("auto", 2) == "cuda:0"
    assert pick_device("cpu", 2) == "cpu"
    assert pick_device("cuda", 1) == "cuda:0"
    assert pick_device("cuda:1", 2) == "cuda:1"
    assert pick_device("CUDA:3", 2) == "cpu"  # not there: the CPU, with a warning
    assert "using the CPU" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="device must be"):
        pick_device("tpu", 1)


@pytest.mark.slow
@pytest.mark.parametrize("name", RL_TASKS)
def test_demo_beats_the_baseline_through_a_real_episode(name, tmp_path):
    from harness.models.demo import DemoModel
    from harness.run.episode import Episode

    task, _ = task_and_env(name)
    result = Episode(task, DemoModel.for_task(task.dir), tmp_path / "run").run()
    trajectory = (tmp_path / "run" / "trajectory.jsonl").read_text()
    assert result.exit_status == "submitted", trajectory[-3000:]
    assert f"saved {CHECKPOINT}" in trajectory  # the demo's own script, not the fallback
    assert result.final_metrics["mean_return"] > task.baseline["mean_return"]


def test_meta_maze_rewards_the_hidden_goal_and_jumps_away():
    """The rules env.py documents: walls block, the goal pays 10 and moves the agent to
    another cell, the observation shows the last reward, episodes last 200 steps."""
    env_module = workspace_module("meta_maze", "env")
    env = env_module.MetaMaze()
    obs, _ = env.reset(seed=3)
    assert obs.shape == (15,) and env.pos == env_module.START and env.goal != env.pos
    assert obs[9:13].sum() == 0 and obs[13] == 0 and obs[14] == 0
    # Left from the centre, then up into a pillar: the agent stays put.
    env.goal = (9, 9)
    obs, *_ = env.step(3)
    assert env.pos == (5, 4) and obs[1] == 1 and obs[9 + 3] == 1  # a pillar above; went left
    obs, *_ = env.step(0)
    assert env.pos == (5, 4) and obs[9 + 0] == 1
    env.pos, env.goal = (1, 1), (1, 2)
    obs, reward, terminated, truncated, _ = env.step(1)
    assert reward == 10.0 and env.pos != (1, 2) and obs[13] == 1.0
    assert not terminated and not truncated
    steps = 2 + 1
    while not truncated:
        _, _, terminated, truncated, _ = env.step(2)
        steps += 1
        assert not terminated
    assert steps == env_module.EPISODE_STEPS


def test_meta_maze_goals_and_jumps_follow_the_seed():
    env_module = workspace_module("meta_maze", "env")

    def run(seed):
        env = env_module.MetaMaze()
        env.reset(seed=seed)
        cells = [env.goal]
        for _ in range(3):
            env.pos = (env.goal[0], env.goal[1] - 1) if env.goal[1] > 1 else (env.goal[0], 2)
            env.step(1 if env.goal[1] > 1 else 3)
            cells.append(env.pos)
        return cells

    assert run(5) == run(5)
    assert len({tuple(run(seed)[0]) for seed in range(20)}) > 5
