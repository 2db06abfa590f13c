"""--agent-config: an MLGym-shaped agent config's templates drive the prompts of a real episode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chat_server import ChatServer
from click.testing import CliRunner

from harness.cli import main as cli
from harness.run.trajectory import read_records

CONFIG = """\
system_template: |-
  You are a researcher. The viewer shows {WINDOW} lines.
  COMMANDS:
  {command_docs}
  Each action may take {training_timeout} seconds.
task_template: |-
  TASK {id}: {description}
  (Current Step: {current_step}, Remaining Steps: {remaining_steps})
  (Open file: {open_file})
  (Current directory: {working_dir})
  bash-$
next_step_template: |-
  {observation}
  STEP {current_step} LEFT {remaining_steps} FILE {open_file} DIR {working_dir}
next_step_no_output_template: |-
  (no output) STEP {current_step}
format_error_template: |-
  Wrong format: one DISCUSSION and one command block, please.
output_parser: MLGymThoughtActionParser
tools:
  env_variables:
    WINDOW: 8
    OVERLAP: 2
"""


def say(command: str) -> str:
    return f"DISCUSSION\nNext.\n\n```\n{command}\n```\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def test_an_mlgym_agent_config_gives_the_prompts_filled_in(tmp_path):
    config = write(tmp_path, CONFIG)
    out = tmp_path / "run"
    script = [say("seq 20 > n.txt"), "no command here", say("open n.txt"), say("submit")]
    with ChatServer(script) as server:
        outcome = CliRunner().invoke(cli, ["solve", "house_price", "--model", f"openai:test-model@{server.base_url}",
                                           "--agent-config", str(config), "--aci-profile", "mlgym",
                                           "--max-steps", "5", "-q", "--out", str(out)])
        requests = [r["json"]["messages"] for r in server.chat_requests]
    assert outcome.exit_code == 0, outcome.output
    system, task = requests[0][0]["content"], requests[0][1]["content"]
    assert system.startswith("You are a researcher. The viewer shows 8 lines.\nCOMMANDS:\n")
    assert "edit <start_line>:<end_line>" in system and system.endswith("Each action may take 600 seconds.")
    assert task.startswith("TASK regressionKaggleHousePrice: Predict the sale price")
    assert task.endswith("(Current Step: 0, Remaining Steps: 5)\n(Open file: n/a)\n"
                         "(Current directory: /home/agent/workspace)\nbash-$")
    assert requests[1][-1]["content"] == "(no output) STEP 1"  # seq > file prints nothing
    assert requests[2][-1]["content"] == "Wrong format: one DISCUSSION and one command block, please."
    opened = requests[3][-1]["content"]
    assert "8:8" in opened and "9:9" not in opened  # the config's WINDOW
    assert opened.endswith("STEP 2 LEFT 3 FILE /home/agent/workspace/n.txt DIR /home/agent/workspace")
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["window"] == 8 and results["config"]["agent_config"] == str(config.resolve())
    assert [r["kind"] for r in read_records(out)].count("retry") == 1


@pytest.mark.parametrize(("text", "message"), [
    (None, "no such file"),
    ("system_template: [unclosed\n", "not valid YAML at line 2"),
    ("- a list\n", "expected a mapping of MLGym agent settings"),
    ("task_template: hi\n", "'system_template' is missing"),
    ("system_template: 'Hi {user_name}'\ntask_template: t\n",
     "'system_template' uses {user_name}, which this harness cannot fill"),
    ("system_template: 'a {'\ntask_template: t\n", "'system_template' is not a valid template"),
    ("system_template: s\ntask_template: t\ntools: {env_variables: {WINDOW: lots}}\n",
     "tools.env_variables.WINDOW must be a positive number of lines, not 'lots'"),
])
def test_a_missing_or_malformed_agent_config_is_one_line(tmp_path, text, message):
    config = tmp_path / "agent.yaml" if text is None else write(tmp_path, text)
    outcome = CliRunner().invoke(cli, ["solve", "house_price", "--model", "demo", "--agent-config", str(config),
                                       "-q", "--out", str(tmp_path / "run")])
    assert outcome.exit_code == 2
    lines = outcome.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --agent-config {config}: ") and message in lines[0]
    assert not (tmp_path / "run").exists()
