"""``harness shell``: a person at a terminal in exactly the sandbox an agent gets.

The same start as an episode's persistent shell (:class:`~harness.sandbox.launch.Launch`:
host uid, seccomp, empty environment, staging), the same cgroup and rlimits, and the
same disk guard, watched from a thread since nobody reads the shell's output here: a
command that passes an allowance kills the shell, with one line saying why.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.sandbox.bwrap import SHELL, Bind, find_bwrap
from harness.sandbox.cgroups import CgroupLimiter
from harness.sandbox.core import child_setup, sandbox_launch
from harness.sandbox.diskguard import CHECK_S, DiskGuard
from harness.sandbox.limits import Limits


def run_interactive(
    workspace: Path,
    *,
    network: bool = False,
    binds: Sequence[Bind] = (),
    env: Mapping[str, str] | None = None,
    limits: Limits = Limits(),
    gpus: Sequence[int] = (),
    readonly: Sequence[str] = (),
) -> int:
    """Run an interactive bash in the sandbox until it exits; its exit status."""
    workspace = workspace.resolve()
    protected = [workspace / p for p in readonly]
    bwrap, _ = find_bwrap()
    launch = sandbox_launch(bwrap, workspace, protected, network=network, binds=binds,
                            env={**(env or {}), "PS1": "agent@sandbox:\\w$ "}, limits=limits, gpus=gpus,
                            interactive=True, command=(SHELL, "--noprofile", "--norc", "-i"))
    cgroup = CgroupLimiter(limits.processes, limits.memory_mb << 20)
    in_child = child_setup(limits, cgroup, launch.ids, gpus)
    guard = DiskGuard(workspace, protected, limits)
    try:
        proc = launch.popen(in_child)
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(guard, proc.pid, cgroup, stop), daemon=True)
        watcher.start()
        try:
            return proc.wait()
        finally:
            stop.set()
            watcher.join()
    finally:
        for pid in cgroup.pids():
            _kill(pid)
        cgroup.remove()
        launch.close()


def _watch(guard: DiskGuard, bwrap_pid: int, cgroup: CgroupLimiter, stop: threading.Event) -> None:
    guard.begin()
    while not stop.wait(CHECK_S):
        note = guard.check()
        if note:
            print(f"\n[harness shell: {note}]", file=sys.stderr, flush=True)
            for pid in [bwrap_pid, *cgroup.pids()]:
                _kill(pid)
            return


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
