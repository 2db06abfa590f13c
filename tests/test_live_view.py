"""The live view of `harness solve`, run as a user runs it: a subprocess against the
project's chat server, with a slow reply, a slow command, a failed model call, a
hostile command and a scoring; on a plain pipe and on a terminal (``script``'s pty).
And solve's exit code when the harness, not the agent, failed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from chat_server import ChatServer, Delay, Status

REPO = Path(__file__).resolve().parent.parent
HOSTILE = "echo \x1b]0;pwned\x07 \x1b[2Jcleared"


def say(command: str) -> str:
    return f"DISCUSSION\nNext.\n\n```\n{command}\n```"


SCRIPT = [Delay(1.5, say("sleep 2; echo slow\necho second line")), Status(500), say(HOSTILE), say("validate")]


def solve(server: ChatServer, out: Path, *args: str, tty: bool = False, task: str = "tasks/house_price"):
    command = [sys.executable, "-m", "harness.cli", "solve", task, "--model",
               f"openai:test-model@{server.base_url}", "--out", str(out), *args]
    if tty:  # script(1) runs it on a pseudo-terminal and copies what it drew
        command = ["script", "-qfec", shlex.join(command), "/dev/null"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, timeout=240)
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


def in_order(text: str, parts: list[str]) -> None:
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"{part!r} missing after position {at} in:\n{text}"
        at = found + len(part)


def test_plain_output_has_a_line_per_phase_in_order_and_escapes_agent_text(tmp_path, house_price_env):
    with ChatServer(SCRIPT, default=say("ls")) as server:
        code, out, err = solve(server, tmp_path / "run", "--max-steps", "3", "--aci-profile", "harness")
    assert code == 0, err  # an unscored autosubmission is the agent's failure, not the harness's
    in_order(err, [
        "\n  step 1/3 · waiting for the model\n",  # indented: a step line starts with "step"
        "step 1/3 · the model replied after 1.",
        "step 1/3 · running: sleep 2; echo slow\n",  # the first line only
        "step 1/3 · the command ended after 2.",
        "step 1/3  best r2 -",
        "step 2/3 · waiting for the model\n",
        "step 2/3 · model call failed (HTTP 500",
        "retry 2 of ",
        "step 2/3 · running: echo \\x1b]0;pwned\\x07 \\x1b[2Jcleared\n",
        "step 2/3  best r2 -",
        "step 3/3 · running: validate\n",
        "step 3/3 · scoring the submission\n",
        "step 3/3  best r2 -",
        "after step 3 · autosubmitting (max_steps)\n",
    ])
    assert "\x1b" not in err + out and "\x07" not in err + out
    assert "echo second line" not in err and "preparing the task environment" not in err
    assert err.count("waiting for the model") == 3  # a line a phase, never a line a tick
    assert "exit status: autosubmission (max_steps)" in out


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a pseudo-terminal")
def test_terminal_status_line_ticks_and_never_passes_agent_escapes(tmp_path, house_price_env):
    with ChatServer(SCRIPT, default=say("ls")) as server:
        code, out, _err = solve(server, tmp_path / "run", "--max-steps", "3", "--aci-profile", "harness",
                                tty=True)
    assert code == 0, out
    in_order(out, [
        "step 1/3 · waiting for the model  0 s",
        "step 1/3 · waiting for the model  1 s",  # the same phase, a second later
        "step 1/3 · running: sleep 2; echo slow  0 s",
        "step 1/3 · running: sleep 2; echo slow  1 s",
        "step 1/3  best r2 -",
        "model call failed (HTTP 500",
        "echo \\x1b]0;pwned\\x07 \\x1b[2Jcleared",
        "after step 3 · autosubmitting (max_steps)",
        "exit status: autosubmission (max_steps)",
    ])
    assert "\x1b]0;pwned" not in out and "\x1b[2J" not in out and "\x07" not in out
    first_phase = out.index("waiting for the model")
    assert "preparing the task environment" not in out[first_phase:]


def test_a_crashing_scorer_makes_solve_exit_non_zero(tmp_path, house_price, house_price_env):
    task = tmp_path / "hp"
    shutil.copytree(house_price.dir, task)
    (task / "scoring" / "score.py").write_text("raise RuntimeError('the scorer is broken')\n")
    with ChatServer([say("submit")], default=say("ls")) as server:
        code, out, err = solve(server, tmp_path / "run", "--max-steps", "2", task=str(task))
    assert code == 1, out + err
    assert "the harness failed: scoring the final submission crashed: the scorer failed" in err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["final_metrics"] is None and "the scorer is broken" in results["validations"][-1]["error"]


def test_a_refused_submission_is_the_agents_failure(tmp_path, house_price_env):
    with ChatServer([say("echo Id,SalePrice > submission.csv"), say("submit")], default=say("ls")) as server:
        code, out, err = solve(server, tmp_path / "run", "--max-steps", "2", "-q")
    assert code == 0, out + err
    assert "the harness failed" not in err and "final r2: none" in out
    assert os.path.exists(tmp_path / "run" / "results.json")
