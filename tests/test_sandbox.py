"""The sandbox an agent works in: real bwrap, no mocks."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import psutil
import pytest

from harness.errors import PathEscapeError
from harness.sandbox import Bind, Limits, Sandbox


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    ws.mkdir()
    return ws


@pytest.fixture()
def sandbox(workspace: Path):
    with Sandbox(workspace) as sb:
        yield sb


def test_state_persists_between_commands(sandbox):
    sandbox.run("cd /tmp && export GREETING=hello && shout() { echo \"$1!\"; }")
    result = sandbox.run("pwd; echo $GREETING; shout hey")
    assert result.output == "/tmp\nhello\nhey!\n"


def test_cwd_is_tracked_without_asking(sandbox):
    assert sandbox.cwd == "/home/agent/workspace"
    sandbox.run("mkdir -p $'odd dir\\nwith newline' && cd $'odd dir\\nwith newline'")
    assert sandbox.cwd == "/home/agent/workspace/odd dir\nwith newline"
    assert sandbox.run("echo ok").output == "ok\n"
    sandbox.run("exit 3")
    assert sandbox.cwd == "/home/agent/workspace"  # a new shell starts in the workspace


def test_exit_codes_are_reported(sandbox):
    assert sandbox.run("true").exit_code == 0
    assert sandbox.run("false").exit_code == 1
    assert sandbox.run("(exit 42)").exit_code == 42
    assert sandbox.run("this-command-does-not-exist").exit_code == 127


def test_output_without_trailing_newline_and_binary(sandbox):
    assert sandbox.run("printf abc").output == "abc"
    result = sandbox.run("printf '\\xff\\xfe\\x00bin\\n'")
    assert result.exit_code == 0 and "bin" in result.output


def test_sentinel_like_output_does_not_end_the_command(sandbox):
    result = sandbox.run("printf '\\n0123456789abcdef0123456789abcdef 0\\n'; echo still-here")
    assert "still-here" in result.output
    assert result.exit_code == 0


def test_syntax_error_keeps_the_shell(sandbox):
    result = sandbox.run("if then fi (")
    assert result.exit_code == 2
    assert sandbox.run("echo fine").output == "fine\n"


def test_exit_restarts_the_shell_and_says_so(sandbox):
    sandbox.run("cd /tmp")
    result = sandbox.run("exit 7")
    assert result.restarted and result.exit_code == 7
    assert "new shell" in result.output
    assert sandbox.run("pwd").output == "/home/agent/workspace\n"


def test_flood_output_is_capped_head_and_tail(workspace):
    with Sandbox(workspace, limits=Limits(output_bytes=10_000)) as sb:
        result = sb.run("seq 1 2000000; echo END", timeout=60)
    assert result.truncated and result.exit_code == 0
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("2000000\nEND\n")
    assert "bytes of output cut" in result.output
    assert len(result.output) < 12_000


def test_timeout_kills_background_children_and_shell_stays_usable(sandbox):
    result = sandbox.run("sleep 1000 & sleep 1000", timeout=1)
    assert result.timed_out and result.exit_code is None
    names = [p.name() for p in sandbox.processes()]
    assert "sleep" not in names
    assert sandbox.run("echo ok").output == "ok\n"


def test_busy_loop_in_the_shell_itself_restarts_it(sandbox):
    result = sandbox.run("while true; do :; done", timeout=1)
    assert result.timed_out and result.restarted
    assert sandbox.run("echo ok").output == "ok\n"


def test_close_leaves_no_process(workspace):
    sb = Sandbox(workspace)
    sb.run("sleep 1000 &")
    sb.run("(setsid sleep 999 &)")
    pids = [p.pid for p in sb.processes()]
    assert len(pids) >= 4
    sb.close()
    alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert alive == []


def test_no_network(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        for target in (f"127.0.0.1/{port}", "1.1.1.1/53", "8.8.8.8/53"):
            result = sandbox.run(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{target}' && echo CONNECTED")
            assert "CONNECTED" not in result.output
        interfaces = sandbox.run("python3 -c 'import socket; print(sorted(n for _, n in socket.if_nameindex()))'")
        assert interfaces.output.strip() == "['lo']"
    finally:
        server.close()


def test_host_files_are_invisible(sandbox, tmp_path):
    planted = tmp_path / "planted.txt"
    planted.write_text("top secret")
    for path in (str(planted), "/etc/shadow", "/root/.bashrc", f"{Path.home()}/.bash_history"):
        result = sandbox.run(f"cat {path}")
        assert result.exit_code != 0 and "top secret" not in result.output
    assert sandbox.run(f"ls {tmp_path}").exit_code != 0
    listing = sandbox.run("ls /root 2>/dev/null; ls /home").output.split()
    assert listing == ["agent"]


def test_cannot_write_outside_the_workspace(sandbox, tmp_path):
    for target in ("/usr/evil", "/etc/evil", f"{tmp_path}/evil"):
        assert sandbox.run(f"echo x > {target}").exit_code != 0
    assert not (tmp_path / "evil").exists()
    assert sandbox.run("echo x > /tmp/ok && echo x > ok").exit_code == 0


def test_host_processes_are_invisible_and_unsignalable(sandbox):
    me = os.getpid()
    result = sandbox.run(f"ls /proc | grep -c '^[0-9]'; kill -0 {me} && echo SIGNALLED")
    assert int(result.output.split()[0]) < 10
    assert "SIGNALLED" not in result.output
    assert psutil.pid_exists(me)


def test_runs_as_unprivileged_user_with_clean_env(sandbox):
    assert sandbox.run("id -u").output == "1000\n"
    env = sandbox.run("env").output
    assert "HOME=/home/agent" in env
    for leaked in ("VIRTUAL_ENV=/work", "SSH_AUTH_SOCK", "OPENAI_API_KEY", "HARNESS_"):
        assert leaked not in env


def test_fork_bomb_ends_without_hurting_the_host(workspace):
    with Sandbox(workspace, limits=Limits(processes=200)) as sb:
        sb.run(":(){ :|:& };:", timeout=5)  # returns at once: the bomb runs in the background
        settle = sb.run("sleep 1; echo settle", timeout=20)
        assert "limit of 200 processes" in settle.output and "settle" in settle.output
        assert sb.run("echo survived", timeout=20).output == "survived\n"
        assert len(sb.processes()) < 10  # the bomb's processes are gone, not just capped


def test_memory_bomb_ends_that_command(workspace):
    with Sandbox(workspace, limits=Limits(memory_mb=512)) as sb:
        result = sb.run("python3 -c 'x = bytearray(4 * 1024**3)'", timeout=30)
        assert result.exit_code != 0
        assert sb.run("echo ok").output == "ok\n"


def test_file_size_limit_stops_disk_filling(workspace):
    with Sandbox(workspace, limits=Limits(file_size_mb=5)) as sb:
        result = sb.run("head -c 50000000 /dev/zero > big.bin", timeout=30)
        assert result.exit_code != 0
    assert (workspace / "big.bin").stat().st_size <= 5 << 20


def test_many_files_past_the_disk_allowance_are_stopped(workspace):
    with Sandbox(workspace, limits=Limits(file_size_mb=20, disk_mb=60)) as sb:
        result = sb.run("for i in $(seq 1 100); do head -c 10000000 /dev/zero > f$i; sleep 0.02; done", timeout=60)
        assert "past its limit of 60 MB" in result.output and result.restarted
        written = sum(p.stat().st_size for p in workspace.glob("f*"))
        assert 60 << 20 < written < 90 * 10_000_000  # stopped long before the loop ends
        assert sb.run("rm f*; echo cleaned").output.strip() == "cleaned"
        assert sb.run("head -c 1000 /dev/zero > small && echo ok").output.strip() == "ok"


def test_a_command_that_leaves_the_disk_too_full_is_stopped(workspace):
    free_mb = os.statvfs(workspace).f_bavail * os.statvfs(workspace).f_frsize >> 20
    with Sandbox(workspace, limits=Limits(min_free_mb=free_mb + (1 << 20))) as sb:
        result = sb.run("sleep 5; echo finished", timeout=30)
    assert "MB free: the command was killed" in result.output and "finished" not in result.output


def test_readonly_files_stay_readonly(workspace):
    (workspace / "evaluate.py").write_text("print('score')\n")
    with Sandbox(workspace, readonly=["evaluate.py"]) as sb:
        assert sb.run("echo hacked > evaluate.py").exit_code != 0
        assert sb.run("rm -f evaluate.py").exit_code != 0
        with pytest.raises(PermissionError):
            sb.files.write_text("evaluate.py", "hacked")
    assert (workspace / "evaluate.py").read_text() == "print('score')\n"


def test_extra_binds_are_readonly_unless_asked(workspace, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("payload")
    with Sandbox(workspace, binds=[Bind(shared, "/opt/shared")]) as sb:
        assert sb.run("cat /opt/shared/data.txt").output == "payload"
        assert sb.run("echo x > /opt/shared/new").exit_code != 0


def test_host_file_api_refuses_escapes(sandbox, workspace):
    sandbox.run("ln -s / root_link; ln -s /etc/passwd pw; mkdir sub")
    files = sandbox.files
    files.write_text("sub/ok.txt", "fine")
    assert files.read_text("sub/ok.txt") == "fine"
    assert files.read_text("/home/agent/workspace/sub/ok.txt") == "fine"
    for bad in ("../outside", "/etc/passwd", "root_link/etc/passwd", "pw", "sub/../../x"):
        with pytest.raises(PathEscapeError):
            files.resolve(bad)
    with pytest.raises(PathEscapeError):
        files.write_text("root_link/tmp/evil", "x")


def test_two_sandboxes_do_not_see_each_other(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (b / "secret.txt").write_text("b's file")
    with Sandbox(a) as sa, Sandbox(b):
        assert "b's file" not in sa.run(f"cat {b}/secret.txt; ls /home/agent").output


def test_parallel_sandboxes_from_threads(tmp_path):
    outputs: list[str] = []

    def work(i: int) -> None:
        ws = tmp_path / f"ws{i}"
        ws.mkdir()
        with Sandbox(ws) as sb:
            outputs.append(sb.run(f"echo {i}").output.strip())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outputs) == ["0", "1", "2", "3"]


def test_the_end_marker_may_arrive_a_byte_at_a_time():
    from harness.sandbox.output import OutputCollector

    collector = OutputCollector(b"f" * 32, cap=1000)
    stream = b"some output\n\n" + b"f" * 32 + b" 3 /home/agent/workspace/" + b"d" * 200 + b"\0late"
    assert not any(collector.feed(stream[i:i + 1]) for i in range(len(stream) - 6))
    assert collector.feed(stream[-6:])
    assert collector.exit_code == 3 and collector.cwd == "/home/agent/workspace/" + "d" * 200
    assert collector.text() == ("some output\n", False)


def test_state_dirs_of_killed_sandboxes_are_swept(workspace):
    import tempfile

    from harness.sandbox import launch

    tmp = Path(tempfile.gettempdir())
    dead = [tmp / "harness-etc-999999999-stale", tmp / "harness-sbx-999999999-stale"]  # no such pid
    for path in dead:
        path.mkdir(exist_ok=True)
    mine = tmp / f"harness-sbx-{os.getpid()}-alive"
    mine.mkdir(exist_ok=True)
    launch._swept = False
    with Sandbox(workspace) as sb:
        assert sb.run("echo ok").output == "ok\n"
    assert not any(path.exists() for path in dead) and mine.exists()
    mine.rmdir()


def test_harness_shell_with_a_task_is_the_episodes_sandbox(tmp_path):
    """`harness shell --task` gets the task's environment and read-only files, for one
    command and interactively, through the same start as an episode."""
    import subprocess
    import sys

    harness = [sys.executable, "-m", "harness.cli"]
    workspace = tmp_path / "ws"
    one = subprocess.run([*harness, "shell", "-w", str(workspace), "--task", "house_price", "-c",
                          "python -c 'import sklearn; print(\"sklearn\")'; test -w evaluate.py || echo read-only"],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    assert one.stdout.split() == ["sklearn", "read-only"]
    assert (workspace / "baseline.py").is_file()  # an empty workspace got the task's files
    typed = subprocess.run([*harness, "shell", "-w", str(workspace), "--task", "house_price"],
                           input="python -c 'print(6 * 7)'\nexit 5\n", capture_output=True, text=True,
                           timeout=300)
    assert typed.returncode == 5 and "42" in typed.stdout


def test_gpu_sandboxes_have_no_address_space_limit(workspace):
    """CUDA reserves far more virtual memory than an RLIMIT_AS allows: a GPU episode's
    memory is bounded by the cgroup instead (device index 7 is fake: nothing is bound)."""
    with Sandbox(workspace, limits=Limits(memory_mb=4096)) as cpu:
        assert cpu.run("ulimit -v").output.strip() == str(4096 * 1024)
    with Sandbox(workspace, limits=Limits(memory_mb=4096), gpus=[7]) as gpu:
        assert gpu.run("ulimit -v").output.strip() == "unlimited"
