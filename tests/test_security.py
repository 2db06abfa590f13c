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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from attacks import attacks, bait_for, run_attack, run_attacks  # noqa: E402

from harness.run.trajectory import read_records
from harness.task.spec import Task

REPO = Path(__file__).resolve().parent.parent
QUICK = ["answers-by-host-path", "host-secret", "user-home", "proc-root", "network-ipv4", "network-ipv6",
         "unix-socket", "symlink-via-tools", "hard-link", "signal-harness", "leave-processes",
         "fork-bomb", "binary-output", "sleep-forever", "tamper-evaluate",
         # issue 14
         "kernel-knobs", "host-root", "environment-secrets", "ptrace-pid1", "keyring", "nested-namespaces",
         "steal-commands", "forge-marker", "fifo-hang", "inode-flood", "answers-race", "terminal-escapes"]
"""The attacks that take a few seconds each; scripts/security_report.py runs them all."""


@pytest.mark.slow
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
    from harness.run.episode import StepInfo
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
    # what the episode is doing now follows the step line, escaped, and goes when it ends
    step_line = study.line(spec.key)
    study.on_event(spec, {"event": "phase", "name": "command", "detail": hostile})
    assert study.line(spec.key) == step_line + "  · now: running: " + one_line(hostile, 80)
    study.on_event(spec, {"event": "phase", "name": "model", "detail": ""})
    assert study.line(spec.key) == step_line + "  · now: waiting for the model"
    study.on_event(spec, {"event": "phase", "name": "", "detail": ""})
    assert study.line(spec.key) == step_line
    # an action that itself reads like a phase marker keeps its whole step line
    study.on_event(spec, {"event": "step", "n": 2, "max_steps": 3, "best": None, "cost": 0.0,
                          "action": "echo '  · now: x'"})
    marked = study.line(spec.key)
    study.on_event(spec, {"event": "phase", "name": "model", "detail": ""})
    study.on_event(spec, {"event": "phase", "name": "", "detail": ""})
    assert study.line(spec.key) == marked
    study.on_event(spec, {"event": "error", "message": hostile})
    study.on_event(spec, {"event": "exit", "code": 1})
    printed = study.console.file.getvalue()
    assert not RAW.findall(printed) and "t/m/run-1: FAILED: python x.py \\x1b]52;c;ZXZpbA==\\x07" in printed


# -- issue 14: the sandbox's hardening, item by item, against a real sandbox ----------------

_X86 = os.uname().machine == "x86_64"


@pytest.fixture()
def hardened(tmp_path):
    from harness.sandbox import Sandbox

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    with Sandbox(workspace) as sandbox:
        yield sandbox, workspace


def _python(sandbox, code: str) -> str:
    """Run a Python snippet inside; its output (the snippets print what they got)."""
    (Path(sandbox.workspace) / "probe.py").write_text(code)
    return sandbox.run("python3 probe.py", timeout=30).output.strip()


def test_agent_code_never_runs_as_host_root_and_kernel_knobs_stay_read_only(hardened):
    sandbox, workspace = hardened
    assert sandbox.policy["seccomp"] and sandbox.policy["host_uid"] != 0
    sandbox.run("touch mine.txt")
    owner = (workspace / "mine.txt").lstat().st_uid
    assert owner == os.geteuid() if os.geteuid() != 0 else owner != 0
    for knob in ("kernel/core_pattern", "kernel/poweroff_cmd", "vm/min_free_kbytes", "kernel/pid_max"):
        assert sandbox.run(f"echo 1 > /proc/sys/{knob}").exit_code != 0, knob
    assert sandbox.run("echo h > /proc/sysrq-trigger").exit_code != 0


def test_only_capped_directories_and_the_workspace_are_writable(hardened):
    # bwrap's root is an uncapped tmpfs: a write there would fill the host's RAM
    sandbox, _ = hardened
    for path in ("/x", "/var-filler/x", "/usr/x", "/etc/x"):
        assert "Read-only file system" in sandbox.run(f"mkdir -p {path}").output, path
    assert sandbox.run("touch /tmp/a ~/b c && echo written").output.strip() == "written"


def test_an_unprivileged_harness_gets_the_same_sandbox():
    """The path most users take: the harness as an ordinary user (here: nobody)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user")
    import tempfile

    nobody = 65534
    tmp_path = Path(tempfile.mkdtemp(prefix="harness-nobody-"))  # pytest's is 0700 under root's
    os.chmod(tmp_path, 0o755)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    os.chown(workspace, nobody, nobody)
    os.chown(tmp_path, nobody, nobody)
    script = ("from harness.sandbox import Limits, Sandbox\n"
              f"with Sandbox({str(workspace)!r}) as sb:\n"
              "    print(sb.run('touch f; echo x > /proc/sys/kernel/core_pattern; unshare -U true; "
              "grep Seccomp: /proc/self/status; echo done').output)\n"
              # no cgroup is writable for nobody: RLIMIT_NPROC contains a fork bomb
              f"with Sandbox({str(workspace)!r}, limits=Limits(processes=40)) as sb:\n"
              "    sb.run(':(){ :|:& };:', timeout=5)\n"
              "    sb.run('sleep 1', timeout=4)\n"
              "    print('peak', len(sb.processes()))\n"
              # a command that always times out, so every leftover of the bomb is killed
              "    sb.run('sleep 30', timeout=2)\n"
              "    print(sb.run('echo survived', timeout=20).output)\n")
    # The distribution's interpreter with our packages: this venv's may live under /root.
    python = shutil.which("python3", path="/usr/bin:/bin")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python is None or subprocess.run([python, "-c", "import sys; print(sys.version[:4])"],
                                         capture_output=True, text=True).stdout.strip() != version:
        pytest.skip(f"no system python{version} to run the harness as another user")
    import psutil

    from harness.sandbox.hostuser import HostIds, Stage, drop_to

    # The checkout and its site-packages may sit where nobody cannot go (tox's .tox is
    # 0700): stage them the way a root harness stages bwrap's sources, then drop to nobody.
    (tmp_path / "stage").mkdir(mode=0o755)
    stage = Stage(tmp_path / "stage")
    site = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    sources = [str(REPO), *site, str(Path(psutil.__file__).parent.parent)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HARNESS_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": ":".join(stage.path(source) for source in dict.fromkeys(sources))}

    def as_nobody() -> None:
        stage.mount_in_child()
        drop_to(HostIds(nobody, nobody))

    run = subprocess.run([python, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, preexec_fn=as_nobody)
    assert run.returncode == 0, run.stderr
    assert "done" in run.stdout and "Seccomp:\t2" in run.stdout, run.stdout
    assert "Read-only file system" in run.stdout or "Permission denied" in run.stdout
    assert "unshare failed" in run.stdout
    peak = int(run.stdout.split("peak ", 1)[1].split()[0])
    assert peak <= 40 + 5, run.stdout  # the allowance, plus bwrap and the shell
    assert run.stdout.rstrip().endswith("survived"), run.stdout
    assert (workspace / "f").lstat().st_uid == nobody
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_nothing_of_the_hosts_environment_reaches_the_sandbox(tmp_path, monkeypatch):
    from harness.sandbox import Sandbox

    secret = "sk-test-" + os.urandom(8).hex()
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("HF_TOKEN", secret)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with Sandbox(workspace) as sandbox:
        # bwrap itself (outside the sandbox's pid namespace) was started without it
        assert secret.encode() not in Path(f"/proc/{sandbox.pid}/environ").read_bytes()
        seen = sandbox.run("env; cat /proc/1/environ /proc/self/environ 2>&1; "
                           "grep -a -c sk-test /proc/1/mem 2>&1").output
        assert secret not in seen and "Permission denied" in seen


@pytest.mark.skipif(not _X86, reason="syscall numbers of x86_64")
def test_the_seccomp_filter_refuses_what_escapes_start_with(hardened):
    sandbox, _ = hardened
    assert "Seccomp:\t2" in sandbox.run("grep Seccomp: /proc/self/status").output
    calls = {  # name: (number, args)
        "ptrace": (101, (16, 1, 0, 0)), "process_vm_readv": (310, (1, 0, 0, 0, 0, 0)),
        "keyctl": (250, (0, -3, 0)), "add_key": (248, (0, 0, 0, 0, 0)), "bpf": (321, (0, 0, 0)),
        "perf_event_open": (298, (0, 0, -1, -1, 0)), "userfaultfd": (323, (0,)),
        "io_uring_setup": (425, (1, 0)), "mount": (165, (0, 0, 0, 0, 0)), "pivot_root": (155, (0, 0)),
        "unshare(NEWUSER)": (272, (0x10000000,)), "kexec_load": (246, (0, 0, 0, 0)),
        "init_module": (175, (0, 0, 0)), "open_by_handle_at": (304, (0, 0, 0)),
        "ioctl(TIOCSTI)": (16, (0, 0x5412, 0)),
    }
    code = ("import ctypes, json\nlibc = ctypes.CDLL(None, use_errno=True)\nout = {}\n"
            f"for name, (nr, args) in {calls!r}.items():\n"
            "    ctypes.set_errno(0)\n"
            "    rc = libc.syscall(nr, *[ctypes.c_long(a) for a in args])\n"
            "    out[name] = ctypes.get_errno() if rc == -1 else 0\n"
            "print(json.dumps(out))\n")
    errnos = json.loads(_python(sandbox, code).splitlines()[-1])
    assert {name: err for name, err in errnos.items() if err != 1} == {}  # all EPERM
    assert sandbox.run("unshare -U true").exit_code != 0
    assert sandbox.run("python3 -c 'import os; os.fork() or os._exit(0); print(7)'").output.strip() == "7"


def test_submitted_code_runs_nested_under_the_full_filter(tmp_path):
    """The scorer's sandbox keeps namespaces (it starts one), the nested one refuses them."""
    from harness.scoring.scorer import Scorer
    from harness.task.env import TaskEnv

    task = Task.load(REPO / "tasks" / "battle_of_sexes")
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    spy = ("import ctypes\n"
           "def row_strategy(history):\n"
           "    libc = ctypes.CDLL(None)\n"
           "    return 0 if libc.unshare(0x10000000) != 0 and libc.ptrace(16, 1, 0, 0) != 0 else 1\n")
    (workspace / "strategy.py").write_text(spy)
    score = Scorer(task, TaskEnv.ensure(task)).score(workspace)
    assert score.ok, score.error
    always_zero = ("def row_strategy(history):\n    return 0\n")
    (workspace / "strategy.py").write_text(always_zero)
    assert Scorer(task, TaskEnv.ensure(task)).score(workspace).metrics == score.metrics


def test_the_file_count_and_disk_allowances_hold(tmp_path):
    from harness.sandbox import Limits, Sandbox

    workspace = tmp_path / "ws"
    workspace.mkdir()
    with Sandbox(workspace, limits=Limits(max_files=2000, disk_mb=100, file_size_mb=4096)) as sandbox:
        flood = sandbox.run("for i in $(seq 100); do touch a$i-{1..100}; sleep 0.1; done", timeout=120)
        assert "past its limit of 2000" in flood.output and flood.restarted
        count = len(os.listdir(workspace))
        assert 2000 < count < 10_000  # stopped long before the 10,000 the loop makes
        assert sandbox.run("rm -f a*; echo cleaned").output.strip() == "cleaned"
        fast = sandbox.run("head -c 2000000000 /dev/zero > big", timeout=120)
        assert "past its limit of 100 MB" in fast.output
        written = (workspace / "big").stat().st_size if (workspace / "big").exists() else 0
        assert written < (100 + 400) << 20  # the overshoot scripts/bench_disk_guard.py measures


def test_cgroups_of_killed_harnesses_are_swept():
    from harness.sandbox import cgroups

    probe = cgroups.CgroupLimiter(64, 0)
    if not probe.dirs:
        probe.remove()
        pytest.skip("no writable cgroup here")
    parent = probe.dirs[0].parent
    probe.remove()
    stale = parent / "harness-999999999-deadbeef0000"  # no such pid
    stale.mkdir()
    cgroups._swept.discard(parent)
    fresh = cgroups.CgroupLimiter(64, 0)
    try:
        assert not stale.exists()
        assert all(d.name.startswith(f"harness-{os.getpid()}-") for d in fresh.dirs)
    finally:
        fresh.remove()


def test_the_command_channel_is_out_of_reach_and_garbage_never_raises(hardened):
    from harness.sandbox.output import OutputCollector

    sandbox, _ = hardened
    stolen = sandbox.run("python3 -c \"open('/proc/1/fd/0', 'rb')\"")
    assert stolen.exit_code != 0 and "Permission denied" in stolen.output
    hijacked = sandbox.run("printf() { echo FORGED; }", timeout=60)
    assert hijacked.restarted and not hijacked.timed_out and "end-of-command marker" in hijacked.output
    assert sandbox.run("echo fresh").output == "fresh\n"
    for garbage in (b"abc /etc", b"99999999999999 /x", b"-1 /", b""):
        collector = OutputCollector(b"s" * 32, 1000)
        assert collector.feed(b"out\n" + b"s" * 32 + b" " + garbage + b"\0")
        assert collector.exit_code is None and collector.garbled and collector.cwd is None


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
    from harness.scoring.scorer import Scorer

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
    from harness.scoring.scorer import Scorer

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
    from harness.scoring.scorer import Scorer

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
