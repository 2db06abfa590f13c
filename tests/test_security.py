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


# -- issue 14 item 4: a hostile workspace against the host-side file tools and the scorer ---
# Another process of the agent swaps names for symlinks, FIFOs, directories or sparse
# files at any moment; the harness reads only through WorkspaceFiles' walker.


def _agent(ws: Path):
    """The tools on a bare workspace (no sandbox: these attacks need none)."""
    from test_aci_tools import Agent

    from aci import ToolContext, ToolRegistry
    from harness.sandbox.files import WorkspaceFiles

    return Agent(ToolContext(files=WorkspaceFiles(ws)), ToolRegistry.load(entry_points=False), ws, "")


def _promptly(call, *args, timeout: float = 10.0):
    """``call(*args)`` on a thread: a regression that blocks fails here, not the suite."""
    import threading

    out: list = []
    worker = threading.Thread(target=lambda: out.append(call(*args)), daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"{args} still blocked after {timeout:g}s"
    return out[0]


def _written() -> int:
    """Bytes this process (all its threads, reaped children) has passed to write()."""
    return int(Path("/proc/self/io").read_text().split("wchar:")[1].split()[0])


def _honest_submission(task, ws: Path) -> None:
    """A valid house price submission that scores far below the answers' r2 of 1."""
    ids = [line.split(",")[0] for line in (task.dir / "scoring/answers.csv").read_text().split()[1:]]
    (ws / "honest.csv").write_text("Id,SalePrice\n" + "".join(f"{i},180000\n" for i in ids))


@pytest.fixture()
def swapping(house_price, tmp_path):
    """A workspace whose submission.csv a background thread keeps swapping (atomically,
    so the name always exists) between the honest file and a symlink to the answers."""
    import threading

    ws = tmp_path / "ws"
    ws.mkdir()
    _honest_submission(house_price, ws)
    answers = house_price.dir / "scoring" / "answers.csv"
    os.link(ws / "honest.csv", ws / "submission.csv")
    stop, swaps = threading.Event(), [0]

    def swap() -> None:
        while not stop.is_set():
            os.symlink(answers, ws / ".link")
            os.replace(ws / ".link", ws / "submission.csv")
            os.link(ws / "honest.csv", ws / ".file")
            os.replace(ws / ".file", ws / "submission.csv")
            swaps[0] += 1

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    yield ws, answers.read_bytes(), swaps
    stop.set()
    swapper.join()


def test_a_submission_swapped_for_a_symlink_to_the_answers_is_never_scored(
        swapping, house_price, house_price_env, tmp_path):
    import time

    from harness.sandbox.files import WorkspaceFiles
    from harness.scorer import Scorer

    ws, answers, swaps = swapping
    files, copies = WorkspaceFiles(ws), {"copied": 0, "refused": 0}
    trial, deadline = 0, time.monotonic() + 20
    while trial < 2000 or (0 in copies.values() and time.monotonic() < deadline):
        trial += 1  # the copy step alone, where the race was won: both outcomes must be seen
        dest = tmp_path / f"copy{trial}"
        try:
            files.copy_out("submission.csv", dest, 1 << 30)
        except Exception as err:  # noqa: BLE001 - any refusal is fine, a leak is not
            assert "outside the workspace" in str(err) or "symlink" in str(err), err
            copies["refused"] += 1
            continue
        assert dest.read_bytes() != answers
        copies["copied"] += 1
        dest.unlink()
    assert copies["copied"] and copies["refused"] and swaps[0] > 100, (copies, swaps)
    scorer, scores, deadline = Scorer(house_price, house_price_env), [], time.monotonic() + 4
    while time.monotonic() < deadline or len(scores) < 5:
        scores.append(scorer.score(ws))
    leaked = [s for s in scores if s.ok and s.metrics["r2"] > 0.5]
    assert leaked == [] and all(s.ok or "\n" not in s.error for s in scores)
    assert all(str(tmp_path) not in (s.error or "") for s in scores)


def test_a_directory_of_sparse_files_is_refused_and_writes_at_most_the_cap(
        house_price, house_price_env, tmp_path):
    from harness.scorer import Scorer

    ws = tmp_path / "ws"
    (ws / "submission.csv").mkdir(parents=True)
    for i in range(16):  # 4 KB on disk each, 4 GiB apparent in all
        with open(ws / "submission.csv" / f"part{i}.csv", "wb") as handle:
            handle.truncate(256 << 20)
    before = _written()
    score = Scorer(house_price, house_price_env).score(ws)
    assert _written() - before < 1 << 20  # refused before a byte was copied
    assert not score.ok and "\n" not in score.error and "larger than the 1 GiB" in score.error
    assert str(tmp_path) not in score.error


def test_files_that_grow_once_measured_write_at_most_the_cap(tmp_path):
    """Sizes measured before the copy lie once the agent grows the files (sparse: instantly)."""
    import threading
    import time

    from harness.sandbox.files import FileTooLargeError, WorkspaceFiles

    files, cap, refused = WorkspaceFiles(tmp_path / "ws"), 8 << 20, 0
    parts = [tmp_path / "ws" / "out" / f"p{i:03}" for i in range(200)]
    parts[0].parent.mkdir(parents=True)
    for trial in range(10):
        for part in parts:
            part.write_bytes(b"x" * 1000)
        dest = tmp_path / f"dest{trial}"

        def grow(dest: Path = dest) -> None:  # once the copy starts: after the measuring
            deadline = time.monotonic() + 5
            while not dest.exists() and time.monotonic() < deadline:
                pass
            for part in parts:
                os.truncate(part, 1 << 30)

        grower = threading.Thread(target=grow)
        grower.start()
        before = _written()
        try:
            files.copy_out("out", dest, cap)
        except FileTooLargeError:
            refused += 1
            assert not dest.exists()
        finally:
            grower.join()
        assert _written() - before <= cap
    assert refused


def test_a_fifo_never_blocks_a_tool_or_the_scorer(house_price, house_price_env, tmp_path):
    from harness.scorer import Scorer

    ws = tmp_path / "ws"
    agent = _agent(ws)
    agent.write("notes.txt", "needle\n")
    agent.write("sub/open_me.txt", "line\n")
    os.mkfifo(ws / "pipe.txt")
    os.mkfifo(ws / "sub" / "needle.txt")
    out = {cmd: _promptly(agent, cmd) for cmd in (
        "open pipe.txt", "search_file needle pipe.txt", "create pipe.txt", "find_file needle.txt",
        "search_dir needle", "search_dir needle sub", "find_file *.txt sub", "open sub/needle.txt 3")}
    assert "not a regular file" in out["open pipe.txt"]
    assert "not a regular file" in out["search_file needle pipe.txt"]
    assert "already exists" in out["create pipe.txt"]
    assert out["find_file needle.txt"].startswith("No matches")  # FIFOs are not files
    assert "notes.txt (1 matches)" in out["search_dir needle"]
    assert out["search_dir needle sub"].startswith("No matches")
    assert out["find_file *.txt sub"].endswith("/sub/open_me.txt")
    agent("open sub/open_me.txt")
    (ws / "sub" / "open_me.txt").unlink()
    os.mkfifo(ws / "sub" / "open_me.txt")  # the open file, swapped for a FIFO
    for command in ("goto 1", "scroll_down", "edit 1:1\nx\nend_of_edit", "search_file line"):
        out[command] = _promptly(agent, command)
        assert out[command].startswith(("Error", "No file open")), (command, out[command])
    (ws / "submission.csv").unlink(missing_ok=True)
    os.mkfifo(ws / "submission.csv")
    score = _promptly(Scorer(house_price, house_price_env).score, ws)
    assert not score.ok and "FIFO" in score.error and "\n" not in score.error
    assert not [text for text in [*out.values(), score.error] if str(tmp_path) in text]


def test_a_symlinked_directory_is_refused_by_every_tool(tmp_path):
    from harness.sandbox.files import WorkspaceFiles

    ws, host = tmp_path / "ws", tmp_path / "host"
    agent = _agent(ws)
    agent.write("d/passwd", "x = 1\n")
    host.mkdir()
    (host / "passwd").write_text("host secret\n")
    (ws / "etc").symlink_to("/etc")
    out = {cmd: agent(cmd) for cmd in (
        "open etc/passwd", "search_file root etc/passwd", "search_dir root etc",
        "find_file passwd etc", "create etc/new.txt", "open etc/../etc/passwd")}
    agent("open d/passwd")
    (ws / "d").rename(ws / "parked")
    (ws / "d").symlink_to(host)  # the open file's directory, swapped for a symlink out
    for command in ("edit 1:1\nhacked = 1\nend_of_edit", "insert 0\nhacked = 1\nend_of_insert",
                    "goto 1", "scroll_up", "search_file secret"):
        out[command] = agent(command)
    for command, text in out.items():
        assert text.startswith("Error") and "outside the workspace" in text, (command, text)
    assert (host / "passwd").read_text() == "host secret\n" and not (host / "new.txt").exists()
    assert agent("search_dir secret").startswith("No matches")
    files = WorkspaceFiles(ws)
    for call in (lambda: files.read_text("d/passwd"), lambda: files.write_text("d/x", "x"),
                 lambda: files.walk("etc"), lambda: files.listdir("d"), lambda: files.kind("etc/passwd"),
                 lambda: files.copy_out("d/passwd", tmp_path / "copy", 1 << 20)):
        with pytest.raises(Exception, match="outside the workspace"):
            call()
    assert not [text for text in out.values() if str(tmp_path) in text]


def test_messages_never_name_a_host_path(tmp_path):
    ws = tmp_path / "ws"
    agent = _agent(ws)
    agent.write("big.csv", "")
    os.truncate(ws / "big.csv", 3 << 30)
    agent.write("blob.bin", b"\0\1")
    agent.write("dir/f.py", "x = 1\n")

    def crash():  # a scorer failing deep in the harness, naming host paths
        raise OSError(f"cannot copy {ws}/x to /tmp/harness-score-1/submission")

    agent.ctx.score = crash
    outputs = [agent(command) for command in (
        "open missing.txt", "open dir", "open big.csv", "open blob.bin", "search_file x big.csv",
        "search_file x missing.txt", "search_dir x missing", "find_file x missing", "goto 1",
        "open dir/f.py/x", "open /etc/passwd", "open ../../x", "create dir", "validate")]
    outputs.append(agent.ctx.autosubmit("autosubmission (max_steps)").error)
    assert all(text.startswith(("Error", "File", "Directory", "No file", "Validation", "OSError"))
               for text in outputs), outputs
    assert not [text for text in outputs if str(tmp_path) in text or "/tmp/" in text], outputs
