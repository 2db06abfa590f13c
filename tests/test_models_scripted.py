"""The scripted models: replay of trajectories, the human prompt, and task demos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.models import HumanQuit, Model, format_reply
from harness.models.demo import DemoModel, load_agent
from harness.models.human import HumanModel
from harness.models.replay import ReplayModel, load_actions

REPO = Path(__file__).resolve().parents[1]
SYSTEM = {"role": "system", "content": "You are an agent."}


def action_of(text: str) -> str:
    from aci import parse_reply

    return parse_reply(text).command


# -- replay ---------------------------------------------------------------------------


def write_jsonl(path: Path) -> Path:
    records = [
        {"kind": "start", "task": "house_price", "model": "x"},
        {
            "kind": "step",
            "n": 1,
            "thought": "Look first.",
            "action": "ls -la",
            "observation": "a b",
        },
        {
            "kind": "step",
            "n": 2,
            "thought": "Fix line 3.",
            "action": "edit 3:3\nx = 1\nend_of_edit",
        },
        {"kind": "score", "split": "test", "metrics": {"r2": 0.9}},
        {"kind": "step", "n": 3, "thought": "", "action": "validate"},
        {"kind": "end", "exit_status": "submitted"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def write_traj(path: Path) -> Path:
    traj = {
        "environment": "mlgym_main",
        "trajectory": [
            {
                "action": "ls -a\n",
                "thought": "DISCUSSION\nLet me look.\n",
                "observation": "x",
                "response": "...",
            },
            {
                "action": "python baseline.py\n",
                "thought": "Run the baseline.",
                "observation": "",
                "response": "",
            },
            {"action": "submit\n", "thought": "Done.", "observation": "", "response": ""},
        ],
        "history": [{"role": "system", "content": "..."}],
        "info": {"exit_status": "submitted"},
    }
    path.write_text(json.dumps(traj))
    return path


def test_load_actions_reads_our_jsonl_trajectory(tmp_path):
    actions = load_actions(write_jsonl(tmp_path / "run.jsonl"))
    assert actions == [
        ("Look first.", "ls -la"),
        ("Fix line 3.", "edit 3:3\nx = 1\nend_of_edit"),
        ("", "validate"),
    ]


def test_load_actions_reads_an_mlgym_traj(tmp_path):
    actions = load_actions(write_traj(tmp_path / "run.traj"))
    assert [a for _, a in actions] == ["ls -a", "python baseline.py", "submit"]
    assert actions[0][0].startswith("DISCUSSION")


def test_load_actions_rejects_other_files(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    with pytest.raises(HarnessError, match="notes.txt:1 is not JSON"):
        load_actions(bad)
    with pytest.raises(HarnessError, match="cannot read trajectory"):
        load_actions(tmp_path / "missing.jsonl")


def test_replay_replies_each_action_then_submit(tmp_path):
    model = ReplayModel.from_file(write_jsonl(tmp_path / "run.jsonl"))
    assert isinstance(model, Model)
    messages = [SYSTEM, {"role": "user", "content": "task"}]
    commands = []
    for _ in range(5):
        reply = model.complete(messages)
        assert reply.cost == 0 and reply.usage.prompt_tokens == 0
        commands.append(action_of(reply.text))
        messages += [
            {"role": "assistant", "content": reply.text},
            {"role": "user", "content": "ok"},
        ]
    assert commands == ["ls -la", "edit 3:3\nx = 1\nend_of_edit", "validate", "submit", "submit"]
    assert model.info()["actions"] == 3


def test_replay_of_an_mlgym_traj_keeps_the_thoughts(tmp_path):
    model = ReplayModel.from_file(write_traj(tmp_path / "run.traj"))
    text = model.complete([SYSTEM]).text
    assert text.startswith("DISCUSSION\nLet me look.") and action_of(text) == "ls -a"


def test_format_reply_survives_fences_in_the_action():
    action = 'edit 1:1\nprint("```")\nend_of_edit'
    assert action_of(format_reply(action, "why")) == action


# -- human ----------------------------------------------------------------------------


def scripted_input(lines):
    feed = iter(lines)

    def read(prompt):
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    return read


def test_human_types_one_line_actions_and_sees_the_observation():
    shown = []
    model = HumanModel(read=scripted_input(["", "ls -la"]), write=shown.append)
    reply = model.complete([SYSTEM, {"role": "user", "content": "OBSERVATION: a b c"}])
    assert action_of(reply.text) == "ls -la"
    assert shown == ["OBSERVATION: a b c"]


def test_human_edit_block_reads_to_end_of_edit():
    lines = ["edit 1:2", "import os", "", "print(os.getcwd())", "end_of_edit", "never read"]
    model = HumanModel(read=scripted_input(lines), write=lambda _: None)
    assert (
        action_of(model.complete([SYSTEM]).text)
        == "edit 1:2\nimport os\n\nprint(os.getcwd())\nend_of_edit"
    )


def test_human_heredoc_and_continuation_lines():
    model = HumanModel(
        read=scripted_input(["cat > a.txt <<'EOF'", "hi", "EOF"]), write=lambda _: None
    )
    assert model.read_action() == "cat > a.txt <<'EOF'\nhi\nEOF"
    model = HumanModel(
        read=scripted_input(["python train.py \\", "  --fast"]), write=lambda _: None
    )
    assert model.read_action() == "python train.py \n  --fast"


def test_human_end_of_input_quits_cleanly():
    model = HumanModel(read=scripted_input([]), write=lambda _: None)
    with pytest.raises(HumanQuit):
        model.complete([SYSTEM])
    assert issubclass(HumanQuit, KeyboardInterrupt)


# -- demo protocol --------------------------------------------------------------------


def test_demo_model_drives_the_generator_and_submits_when_it_ends(tmp_path):
    (tmp_path / "demo.py").write_text(
        "def agent(task_dir):\n"
        "    seen = yield 'DISCUSSION\\nfirst\\n\\n```\\nls\\n```'\n"
        "    yield f'DISCUSSION\\n{seen}\\n\\n```\\ncat {seen}\\n```'\n"
    )
    model = DemoModel.for_task(tmp_path)
    messages = [SYSTEM, {"role": "user", "content": "task"}]
    first = model.complete(messages)
    assert action_of(first.text) == "ls" and first.cost == 0
    messages += [
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "train.csv"},
    ]
    assert action_of(model.complete(messages).text) == "cat train.csv"
    messages += [{"role": "assistant", "content": "..."}, {"role": "user", "content": "x"}]
    assert action_of(model.complete(messages).text) == "submit"
    assert action_of(model.complete(messages).text) == "submit"
    # A new conversation starts the agent over.
    assert action_of(model.complete([SYSTEM, {"role": "user", "content": "task"}]).text) == "ls"


def test_task_without_demo_says_so(tmp_path):
    with pytest.raises(HarnessError, match="ships no demo agent"):
        load_agent(tmp_path)


@pytest.mark.parametrize("task", ["house_price", "titanic"])
def test_demo_replies_are_valid_actions(task):
    """Every reply parses to one command, whatever the observations say."""
    from demo_replies import commands_under_failure

    commands = commands_under_failure(REPO / "tasks" / task)
    assert commands[-1] == "submit" and "validate" in commands
    assert any(c.startswith("edit 1:1\n") and c.endswith("end_of_edit") for c in commands)
    assert "python baseline.py" in commands  # the fallback when train.py fails


# -- demo solutions on the real task data ---------------------------------------------


def _solution(task: str) -> str:
    gen = load_agent(REPO / "tasks" / task)(REPO / "tasks" / task)
    for text in gen:
        command = action_of(text)
        if command.startswith("edit 1:1\n"):
            return command.split("\n", 1)[1].rsplit("\nend_of_edit", 1)[0] + "\n"
    raise AssertionError("the demo writes no solution")


@pytest.mark.parametrize("task_name", ["house_price", "titanic"])
def test_demo_solution_beats_the_baseline_on_the_test_split(task_name, tmp_path):
    import subprocess
    import sys

    from harness.scoring.scorer import Scorer
    from harness.task.env import TaskEnv
    from harness.task.spec import Task

    task = Task.load(REPO / "tasks" / task_name)
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    (workspace / "train.py").write_text(_solution(task_name))
    run = subprocess.run(
        [sys.executable, "train.py"], cwd=workspace, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "wrote submission.csv" in run.stdout
    score = Scorer(task, TaskEnv.ensure(task)).score(workspace)
    assert score.ok, score.error
    metric = task.primary.name
    baseline = task.baseline[metric]
    print(f"{task_name}: demo {metric} {score.metrics[metric]:.4f} vs baseline {baseline:.4f}")
    assert task.is_better(score.metrics[metric], baseline)
    margin = {"house_price": 0.03, "titanic": 0.005}[task_name]
    assert score.metrics[metric] >= baseline + margin


def test_demo_works_house_price_through_the_aci(tmp_path, house_price):
    """The demo agent, the real ACI tools, a bwrap sandbox and the scorer: a whole run,
    through the one episode engine."""
    from harness.run.episode import Episode
    from harness.run.options import EpisodeOptions
    from harness.run.trajectory import read_records

    model = DemoModel.for_task(house_price.dir)
    result = Episode(house_price, model, tmp_path / "run", EpisodeOptions(max_steps=20)).run()
    steps = [r for r in read_records(tmp_path / "run") if r.get("kind") == "step"]
    observations = "\n".join(str(r.get("observation") or "") for r in steps)
    commands = [r.get("action") for r in steps]
    assert result.exit_status == "submitted", observations[-3000:]
    assert "wrote submission.csv" in observations
    assert not any(c.startswith("cat > train.py") for c in commands)  # the edit worked
    assert commands[-2:] == ["validate", "submit"]
    assert result.final_metrics["r2"] > house_price.baseline["r2"] + 0.03


def test_demo_baseline_reproduces_the_recorded_baseline(tmp_path):
    from harness.models import resolve_model
    from harness.run.episode import Episode
    from harness.task.spec import Task

    task = Task.load(REPO / "tasks" / "titanic")
    model = resolve_model("demo-baseline", task=task)
    assert model.info()["model"] == "demo-baseline"
    result = Episode(task, model, tmp_path / "run").run()
    assert result.exit_status == "submitted" and result.steps == 4
    assert result.final_metrics["accuracy"] == pytest.approx(task.baseline["accuracy"], abs=1e-6)
