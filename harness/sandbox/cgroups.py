"""Optional cgroup limits: a process cap and a memory cap for the whole sandbox.

rlimits are per process, and RLIMIT_NPROC is not enforced for a sandbox started
by root, so a fork bomb needs a pids cgroup to end inside the sandbox. We use
cgroup v2 where the process's own cgroup is writable, else the v1 ``pids`` and
``memory`` hierarchies; where neither is writable we say so and rely on rlimits
and timeouts.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")


def _own_path(controller: str) -> str | None:
    """This process's cgroup path for a v1 controller ('' for v2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


class CgroupLimiter:
    """One cgroup per sandbox, holding bwrap and everything it starts."""

    def __init__(self, pids_max: int, memory_bytes: int) -> None:
        self.dirs: list[Path] = []
        name = f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        for controller, knob, value in (
            ("pids", "pids.max", pids_max),
            ("memory", "memory.limit_in_bytes", memory_bytes),
        ):
            if value <= 0:
                continue
            own = _own_path(controller)
            if own is None:
                continue
            parent = _ROOT / controller / own.lstrip("/")
            _sweep(parent)
            directory = parent / name
            try:
                directory.mkdir()
                (directory / knob).write_text(str(value))
            except OSError:
                _remove(directory)
                continue
            self.dirs.append(directory)

    def controllers(self) -> list[str]:
        return [d.relative_to(_ROOT).parts[0] for d in self.dirs]

    def enter(self) -> None:
        """Move the calling process in; called in the child before exec."""
        pid = str(os.getpid())
        for directory in self.dirs:
            try:
                (directory / "cgroup.procs").write_text(pid)
            except OSError:
                pass

    def pids_current(self) -> int:
        for directory in self.dirs:
            if directory.relative_to(_ROOT).parts[0] == "pids":
                try:
                    return int((directory / "pids.current").read_text())
                except (OSError, ValueError):
                    return 0
        return 0

    def pids_refused(self) -> int:
        """How many forks the pids limit has refused so far (``pids.events``' max)."""
        for directory in self.dirs:
            if directory.relative_to(_ROOT).parts[0] == "pids":
                try:
                    for line in (directory / "pids.events").read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "max":
                            return int(value)
                except (OSError, ValueError):
                    return 0
        return 0

    def pids(self) -> list[int]:
        found: set[int] = set()
        for directory in self.dirs:
            try:
                found.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def remove(self) -> None:
        for directory in self.dirs:
            _remove(directory)
        self.dirs = []


_PREFIX = "harness-"
_swept: set[Path] = set()


def _sweep(parent: Path) -> None:
    """Remove the cgroups of harness processes that died without cleaning up (kill -9);
    once per parent and process. The names carry the owning pid; whatever still runs
    in such a cgroup is an orphan of the dead harness and is killed first."""
    if parent in _swept:
        return
    _swept.add(parent)
    try:
        entries = [p for p in parent.iterdir() if p.name.startswith(_PREFIX) and p.is_dir()]
    except OSError:
        return
    for directory in entries:
        owner = directory.name[len(_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and _alive(int(owner)):
            continue
        if not owner.isdigit() and _procs(directory):
            continue  # an older harness's name: only empty ones are known to be left over
        for pid in _procs(directory):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        _remove(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _procs(directory: Path) -> list[int]:
    try:
        return [int(p) for p in (directory / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _remove(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass
