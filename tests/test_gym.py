"""harness.make: a task as a Gymnasium environment driven one reply at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

pytest.importorskip("gymnasium")

import harness  # noqa: E402
import harness.run.gym  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.run.gym import normalised  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BASELINE_R2 = 0.8799891

BETTER = """cat > better.py <<'PY'
import numpy as np, pandas as pd
from sklearn.linear_model import RidgeCV
train, val = pd.read_csv("data/train.csv"), pd.read_csv("data/validation.csv")
test = pd.read_csv("data/test.csv")
fit = pd.concat([train, val], ignore_index=True)
full = pd.concat([fit.drop(columns="SalePrice"), test], ignore_index=True).drop(columns="Id")
num = full.select_dtypes("number").columns
full[num] = np.log1p(full[num].clip(lower=0).fillna(full[num].median()))
X = pd.get_dummies(full, dtype=float).fillna(0)
X = (X - X.mean()) / (X.std() + 1e-9)
model = RidgeCV(alphas=np.logspace(0, 3, 20)).fit(X[: len(fit)], np.log1p(fit.SalePrice))
pred = np.expm1(model.predict(X[len(fit):]))
pd.DataFrame({"Id": test.Id, "SalePrice": pred}).to_csv("submission.csv", index=False)
PY
python better.py"""


def reply(command: str) -> str:
    return f"DISCUSSION\nThe next step.\n\n```\n{command}\n```\n"


@pytest.fixture
def make_env(house_price, house_price_env):
    """harness.make on house_price; every env made is closed after the test. These tests
    assert the harness profile's statuses, so they ask for it (house_price defaults to mlgym)."""
    made = []

    def make(**limits):
        env = harness.make(house_price, **{"aci_profile": "harness", **limits})
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


def _run(env, commands):
    results = []
    for command in commands:
        observation, reward, terminated, truncated, info = env.step(reply(command))
        results.append((observation, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return results


def test_scripted_policy_runs_reset_step_close_cycles(make_env):
    env = make_env(max_steps=8)
    runs_dir = env.runs_dir
    for seed in (1, 2):
        observation, info = env.reset(seed=seed)
        assert "TASK DESCRIPTION" in observation and "r2: 0.8799891" in observation
        assert "COMMANDS:" in info["system_prompt"] and info["step"] == 0
        assert env.observation_space.contains(observation)
        steps = _run(env, ["ls", "python baseline.py", "validate", "submit"])
        assert "baseline.py" in steps[0][0] and "(Current directory: /home/agent/workspace)" in steps[0][0]
        rewards = [s[1] for s in steps]
        assert rewards == [0.0, 0.0, 0.0, 0.0]  # the baseline reproduced is worth exactly 0
        _obs, _reward, terminated, truncated, info = steps[-1]
        assert (terminated, truncated, info["exit_status"], info["step"]) == (True, False, "submitted", 4)
        assert info["final_metrics"]["r2"] == pytest.approx(BASELINE_R2, abs=1e-6)
        assert steps[2][4]["metrics"]["r2"] == pytest.approx(BASELINE_R2, abs=1e-6)
        records = [json.loads(line) for line in (env.run_dir / "trajectory.jsonl").read_text().splitlines()]
        assert [r["kind"] for r in records] == [
            "start", "step", "step", "score", "step", "score", "step", "end"]
        assert env.unwrapped.chat()[-1]["content"].startswith("Submitted.")
        with pytest.raises(HarnessError, match="call reset"):
            env.step(reply("ls"))
    env.close()
    env.close()  # idempotent
    assert not runs_dir.exists()


def test_rewards_for_a_baseline_and_a_better_submission(make_env):
    env = make_env(max_steps=10)
    env.reset(seed=0)
    steps = _run(env, ["python baseline.py", "validate", BETTER, "validate", "python baseline.py",
                       "validate", "submit"])
    rewards = [s[1] for s in steps]
    r2 = steps[3][4]["metrics"]["r2"]
    assert r2 > 0.9
    expected = (r2 - BASELINE_R2) / BASELINE_R2
    assert rewards[1] == 0.0  # the baseline
    assert rewards[3] == pytest.approx(expected, rel=1e-6) and rewards[3] > 0.02
    # Going back to the baseline costs what it is worse than the best so far.
    assert rewards[5] == pytest.approx(-expected, rel=1e-6)
    assert rewards[6] == pytest.approx(-expected, rel=1e-6)
    assert steps[6][4]["best"]["r2"] == r2 and steps[6][2] is True


def test_invalid_submission_gives_zero_reward_and_the_error(make_env):
    env = make_env(max_steps=5)
    env.reset()
    steps = _run(env, ["echo 'Id,SalePrice' > submission.csv", "validate", "submit"])
    for _obs, reward, _term, _trunc, info in steps[1:]:
        assert reward == 0.0 and info["metrics"] is None
        assert "expected 292" in info["error"]
    assert steps[2][2] is False and steps[2][4]["exit_status"] is None  # submit refused: go on


def test_step_limit_truncates_with_an_autosubmission(make_env):
    env = make_env(max_steps=2)
    env.reset()
    steps = _run(env, ["python baseline.py", "ls"])
    observation, reward, terminated, truncated, info = steps[-1]
    assert (terminated, truncated) == (False, True)
    assert info["exit_status"] == "autosubmission (max_steps)"
    assert info["final_metrics"]["r2"] == pytest.approx(BASELINE_R2, abs=1e-6) and reward == 0.0
    assert "The episode has ended (autosubmission (max_steps))" in observation


def test_repeated_format_errors_terminate(make_env):
    env = make_env(max_steps=10)
    env.reset()
    results = [env.step("I think I will look at the data.") for _ in range(3)]
    assert "not formatted correctly" in results[0][0]
    assert [r[2] for r in results] == [False, False, True]
    assert results[-1][4]["exit_status"] == "exit_format" and results[-1][1] == 0.0


def test_passes_the_gymnasium_env_checker(house_price_env):
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make(harness.run.gym.register(), task="house_price", max_steps=5)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)  # with a spec: the render modes and a double close too
        assert not [str(w.message) for w in caught if "gymnasium" in str(w.filename)]
        action = env.action_space.sample()
        assert env.action_space.contains(action) and "`" not in action
        assert env.spec.id == "harness/Research-v0"
    finally:
        env.close()


def test_no_processes_leak_after_20_resets(make_env):
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    env = make_env(max_steps=5)
    for i in range(20):
        env.reset(seed=i)
        if i % 2 == 0:  # leave a background job and a running episode behind
            env.step(reply("sleep 300 &"))
    env.close()
    leaked = [p for p in me.children(recursive=True) if p.pid not in before]
    assert not leaked, [(p.pid, p.name()) for p in leaked]
    assert not env.runs_dir.exists()


def test_runs_dir_keeps_each_episode(house_price_env, tmp_path):
    env = harness.make("house_price", runs_dir=tmp_path / "runs", max_steps=3)
    try:
        for _ in range(2):
            env.reset()
            env.step(reply("ls"))
    finally:
        env.close()
    episodes = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert episodes == ["episode-0001", "episode-0002"]
    assert (tmp_path / "runs" / "episode-0001" / "trajectory.jsonl").read_text().count('"kind": "end"') == 1


def test_memory_tools_are_on_with_memory(make_env, tmp_path):
    from harness.run.memory import Memory

    store = Memory(tmp_path / "m.sqlite")
    env = make_env(max_steps=5, memory=store)
    env.reset()
    observation, *_ = env.step(reply("memory_write ridge on log prices beats the baseline"))
    assert "Saved to memory" in observation
    assert store.entries()[0].episode == "episode-0001" and store.entries()[0].step == 1


def test_options_are_checked(house_price):
    with pytest.raises(HarnessError, match="unknown option.*max_step"):
        harness.make(house_price, max_step=3)


@pytest.mark.parametrize("direction,score,expected", [
    ("maximize", 2.2, 0.1), ("maximize", 1.8, -0.1), ("minimize", 1.8, 0.1), ("minimize", 2.2, -0.1),
    ("maximize", 2.0 + 1e-7, 0.0),
])
def test_normalised_score_is_zero_at_the_baseline_and_signed_by_direction(direction, score, expected):
    task = SimpleNamespace(baseline={"m": 2.0}, tolerance=1e-6, data=None,
                           primary=SimpleNamespace(name="m", direction=direction))
    assert normalised(task, score) == pytest.approx(expected)


def test_the_readme_example_runs(house_price_env):
    result = subprocess.run([sys.executable, str(REPO / "docs" / "gym_example.py")], cwd=REPO,
                            capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("submitted, return +0.0000") == 2, result.stdout


def test_a_model_reply_carries_its_cost_and_the_cost_limit_truncates(make_env):
    from harness.models import Reply

    env = make_env(max_steps=10, cost_limit=0.05)
    env.reset()
    _obs, _r, terminated, truncated, info = env.step(Reply(text=reply("ls"), cost=0.02))
    assert info["cost"] == 0.02 and not (terminated or truncated)
    _obs, reward, terminated, truncated, info = env.step(Reply(text=reply("ls"), cost=0.04))
    assert (terminated, truncated, info["exit_status"]) == (False, True, "autosubmission (exit_cost)")
    assert reward == 0.0 and info["final_metrics"] is None and "submission.csv" in info["error"]


def test_tool_calls_are_offered_and_answered_as_in_solve(make_env):
    from harness.models import Reply

    env = make_env(max_steps=5, tool_calls=True)
    _observation, info = env.reset()
    assert "Call exactly one tool" in info["system_prompt"]
    assert {t["function"]["name"] for t in info["tools"]} >= {"bash", "validate", "submit"}
    assert env.unwrapped.tools == info["tools"]
    call = {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "ls data"}'}}
    observation, *_ = env.step(Reply(text="Look at the data.", tool_calls=[call]))
    assert "train.csv" in observation
    chat = env.unwrapped.chat()
    assert chat[-2]["tool_calls"] == [call]
    assert chat[-1]["role"] == "tool" and chat[-1]["tool_call_id"] == "call_1"
    step = [json.loads(line) for line in (env.run_dir / "trajectory.jsonl").read_text().splitlines()][1]
    assert step["action"] == "ls data" and step["thought"] == "Look at the data." and step["tool_calls"] == [call]


def test_the_context_window_truncates_with_exit_context(make_env):
    _observation, info = make_env(max_steps=5).reset()
    env = make_env(max_steps=5, context_tokens=2 * info["tokens"])  # room for the prompt, not for the data
    env.reset()
    observation, _reward, terminated, truncated, info = env.step(reply("cat data/train.csv"))
    assert (terminated, truncated, info["exit_status"]) == (False, True, "exit_context")
    assert "The episode has ended (exit_context)" in observation and info["final_metrics"] is None


def test_make_finds_the_readme_task_path_from_any_directory(tmp_path, house_price_env):
    """harness.make("tasks/house_price") outside the checkout: the relative path falls
    back to the installed checkout's tasks/; an unknown task is one line naming the known."""
    code = """
import harness
env = harness.make("tasks/house_price", max_steps=2)
print("dir", env.task.dir)
env.close()
for ref in ("tasks/no_such_task", "no_such_task"):
    try:
        harness.make(ref)
    except harness.HarnessError as err:
        print("error", err)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"dir {REPO / 'tasks' / 'house_price'}"
    errors = [line for line in lines if line.startswith("error ")]
    assert len(errors) == 2 and all("known tasks: " in e and "house_price" in e and "titanic" in e
                                    for e in errors)
    assert "'tasks/no_such_task'" in errors[0]
