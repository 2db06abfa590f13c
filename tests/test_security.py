"""The attacker, through real episodes: every attempt is blocked, and the checks can see a success."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.attacks import attacks, bait_for, run_attack, run_attacks
from harness.tasks import Task
from harness.trajectory import read_records

REPO = Path(__file__).resolve().parent.parent
QUICK = ["answers-by-host-path", "host-secret", "user-home", "proc-root", "network-ipv4", "network-ipv6",
         "unix-socket", "symlink-via-tools", "hard-link", "signal-harness", "leave-processes",
         "fork-bomb", "binary-output", "sleep-forever", "tamper-evaluate"]
"""The attacks that take a few seconds each; scripts/security_report.py runs them all."""


def test_every_quick_attack_is_blocked(house_price, tmp_path):
    outcomes = run_attacks(house_price, tmp_path, QUICK)
    assert [o.name for o in outcomes] == QUICK
    failed = [f"{o.name}: {o.observed}" for o in outcomes if o.succeeded]
    assert failed == []


def test_a_task_whose_submission_is_code_keeps_its_scorer_hidden(tmp_path):
    task = Task.load(REPO / "tasks" / "battle_of_sexes")
    outcomes = run_attacks(task, tmp_path, ["answers-by-host-path", "proc-root", "tamper-scorer"])
    assert [f"{o.name}: {o.observed}" for o in outcomes if o.succeeded] == []


@pytest.fixture()
def networked_task(tmp_path) -> Task:
    copy = tmp_path / "house_price_net"
    shutil.copytree(REPO / "tasks" / "house_price", copy)
    text = (copy / "task.yaml").read_text()
    (copy / "task.yaml").write_text(text.replace("network: false", "network: true"))
    return Task.load(copy)


def test_the_checks_see_an_attack_that_works(networked_task, tmp_path):
    """A task that asks for the network really has it: the network attack must report success,
    and a secret the sandbox can read (one placed in the workspace) must be seen."""
    with bait_for(networked_task) as bait:
        by_name = {a.name: a for a in attacks(bait)}
        network = run_attack(networked_task, by_name["network-ipv4"], bait, tmp_path / "a")
        assert network.succeeded and "ATTACK-OK" in network.observed
        leak = by_name["host-secret"]
        leak.actions = [f"echo {bait.secret} > mine.txt && cat mine.txt"]
        shown = run_attack(networked_task, leak, bait, tmp_path / "b")
        assert shown.succeeded and "observation contains" in shown.observed


# -- terminal-safe output: the agent's text is shown escaped, never raw -----------------------------

RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What must never reach the operator raw: C0 controls but newline and tab (ESC, BEL, CR...),
DEL, C1 controls, bidi embeddings, overrides and isolates."""
HOSTILE_OUTPUT = ("printf '\\033]52;c;ZXZpbA==\\007\\033]2;title\\007\\033[2J\\033[1;1H\\302\\233"
                  "31m fake\\rreal \\342\\200\\256evil\\n'")
"""A command whose output writes the clipboard (OSC 52), retitles the window, clears the screen and
moves the cursor, sends a C1 CSI, overwrites a line with a carriage return and flips the text."""
SHOWN = ["\\x1b]52;c;ZXZpbA==\\x07", "\\x1b]2;title\\x07", "\\x1b[2J\\x1b[1;1H", "\\x9b31m",
         "fake\\rreal", "\\u202eevil"]
"""How the output above must read: every character escaped, visible, in place."""


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A real episode (`harness solve`) whose replies, commands and outputs carry terminal escapes."""
    root = tmp_path_factory.mktemp("hostile")
    script = root / "hostile.jsonl"
    steps = [
        {"kind": "step", "n": 1, "thought": "Look.\x1b]0;pwned\x07 [/] [link=http://x]click[/link]",
         "action": HOSTILE_OUTPUT},
        {"kind": "step", "n": 2, "thought": "Raw in the command too.",
         "action": "echo 'raw\x1b[31mred\x9b\u202e\x07' [/]"},
        # The first word becomes the report's action type: in tables and in the figures' SVG.
        {"kind": "step", "n": 3, "thought": "A hostile action type.", "action": "\x1b]0;x\x07$\\foo$ arg"},
    ]
    script.write_text("".join(json.dumps(step) + "\n" for step in steps))
    run_dir = root / "runs" / "hostile"
    solved = subprocess.run(
        [sys.executable, "-m", "harness.cli", "solve", "house_price", "--model", f"replay:{script}",
         "--out", str(run_dir), "--max-steps", str(len(steps))],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "1000"})
    assert solved.returncode == 0, solved.stderr[-2000:]
    return run_dir, solved


def test_show_prints_hostile_agent_text_escaped_never_raw(hostile_run):
    run_dir, _ = hostile_run
    observation = next(r for r in read_records(run_dir) if r.get("kind") == "step")["observation"]
    assert "\x1b]52;c;ZXZpbA==\x07" in observation and "\r" in observation  # the threat is real
    for args in ([], ["--full"]):
        shown = subprocess.run([sys.executable, "-m", "harness.cli", "show", str(run_dir), *args], cwd=REPO,
                               capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "1000"})
        assert shown.returncode == 0, shown.stderr
        assert not RAW.findall(shown.stdout + shown.stderr)
        for escaped in [*SHOWN, "pwned\\x07 [/] [link=http://x]click[/link]", "red\\x9b\\u202e\\x07' [/]"]:
            assert escaped in shown.stdout, escaped


def test_solve_live_step_lines_show_hostile_commands_escaped(hostile_run):
    _, solved = hostile_run
    assert not RAW.findall(solved.stdout + solved.stderr)
    lines = [line for line in solved.stderr.splitlines() if line.startswith("step ")]
    assert "| echo 'raw\\x1b[31mred\\x9b\\u202e\\x07' [/]" in lines[1]
    assert "| \\x1b]0;x\\x07$\\foo$ arg" in lines[2]


def test_report_pages_show_hostile_agent_text_escaped_never_raw(hostile_run):
    pytest.importorskip("matplotlib")
    from click.testing import CliRunner

    from harness.cli import main

    run_dir, _ = hostile_run
    done = CliRunner().invoke(main, ["report", str(run_dir.parent)])
    assert done.exit_code == 0, done.output  # a $...$ action type would stop matplotlib's mathtext
    report = run_dir.parent / "report"
    transcript = (report / "transcripts" / "hostile.html").read_text(encoding="utf-8")
    index = (report / "index.html").read_text(encoding="utf-8")
    for page in (transcript, index, *(p.read_text(encoding="utf-8") for p in report.glob("figures/*.svg"))):
        assert not RAW.findall(page)
    for escaped in SHOWN:
        assert escaped in transcript, escaped
    assert "[link=http://x]click[/link]" in transcript and "red\\x9b\\u202e\\x07&#x27; [/]" in transcript
    assert "\\x1b]0;x\\x07$\\foo$" in index  # the action type, in the counts table


def test_live_lines_are_one_escaped_line_and_never_markup():
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from harness.cli.bench_display import StudyDisplay
    from harness.cli.progress import EpisodeDisplay
    from harness.episode import StepInfo
    from harness.textsafe import one_line, visible

    hostile = "python x.py \x1b]52;c;ZXZpbA==\x07\x9b2J\r\nnext\tline\rover \u202eevil\u2066 [/] [bold]b"
    line = one_line(hostile)
    assert line == ("python x.py \\x1b]52;c;ZXZpbA==\\x07\\x9b2J next line\\rover \\u202eevil\\u2066 "
                    "[/] [bold]b")
    assert visible(hostile).splitlines()[1] == "next\tline\\rover \\u202eevil\\u2066 [/] [bold]b"
    assert one_line(hostile, 20) == "python x.py \\x1b]..." and one_line("ok\n", 20) == "ok"
    assert visible("plain text\n\twith layout\n") == "plain text\n\twith layout\n"
    assert visible("crlf\r\nbyte \udcff") == "crlf\nbyte \\udcff"  # a lone surrogate cannot be printed

    # solve: the status line and the step line (a str status would be rich markup: [/] stops it)
    display = EpisodeDisplay(SimpleNamespace(primary=SimpleNamespace(name="r2")))
    display.console = Console(file=io.StringIO(), width=1000)
    with display:
        display.status(hostile)
        display.step(StepInfo(n=1, action=hostile, best=None, tokens=0, cost=0.0, max_steps=3))
    printed = display.console.file.getvalue()
    assert not RAW.findall(printed) and "| python x.py \\x1b]52;c;ZXZpbA==\\x07\\x9b2J next line\\rover ...\n" in printed
    # bench: the line per running episode, and a failure's error text
    study = StudyDisplay(total=1, done=0, parallel=1)
    study.console = Console(file=io.StringIO(), width=1000)
    spec = SimpleNamespace(key="t/m/run-1")
    study.on_event(spec, {"event": "status", "text": hostile})
    assert study.running[spec.key] == line
    study.on_event(spec, {"event": "step", "n": 1, "max_steps": 3, "best": None, "cost": 0.0, "action": hostile})
    assert study.running[spec.key].endswith("| " + line)
    study.on_event(spec, {"event": "error", "message": hostile})
    study.on_event(spec, {"event": "exit", "code": 1})
    printed = study.console.file.getvalue()
    assert not RAW.findall(printed) and "t/m/run-1: FAILED: python x.py \\x1b]52;c;ZXZpbA==\\x07" in printed
