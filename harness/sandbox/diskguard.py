"""Keeping a sandbox's workspace within its disk and file-count allowances.

Neither allowance has a kernel limit we can set without root and a dedicated
filesystem (rlimits bound one file, not a tree), so the running command is watched:
``statvfs`` of the workspace's filesystem is one cheap call, made every
:data:`CHECK_S` while a command runs; the workspace itself is walked (its processes
stopped meanwhile) when the filesystem's free space or free inodes fell by more than
an allowance, at most every :data:`WALK_S`, and every :data:`SWEEP_S` or so anyway,
since another process freeing space on the same filesystem can hide ours. A command that passes an
allowance is killed with its shell. How far a fast writer gets past the allowance
before that (the overshoot) is measured by ``scripts/bench_disk_guard.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.sandbox.limits import Limits

CHECK_S = 0.05
WALK_S = 0.5
SWEEP_S = 1.0


@dataclass
class Usage:
    bytes: int = 0
    files: int = 0


class DiskGuard:
    """Why a running command must be killed for its disk use, checked on demand."""

    def __init__(self, workspace: Path, readonly: Sequence[Path], limits: Limits,
                 pause: Callable[[bool], None] = lambda stop: None) -> None:
        self.workspace = workspace
        self.pause = pause
        """Stops (True) and resumes (False) the sandbox's processes: a walk of a tree
        that a flood keeps growing would otherwise lag behind it."""
        self.frozen = {str(p) for p in readonly}
        self.limits = limits
        self._start_fs = self._statvfs()
        self._start = self.usage() if (limits.disk_mb or limits.max_files) else Usage()
        self._next_check = 0.0
        self._next_walk = 0.0
        self._next_sweep = time.monotonic() + SWEEP_S
        self._last: Usage | None = None

    def _statvfs(self) -> os.statvfs_result | None:
        try:
            return os.statvfs(self.workspace)
        except OSError:
            return None

    def usage(self) -> Usage:
        """Disk blocks and entries of the writable part of the workspace: read-only
        directories (a task's data, possibly gigabytes of images) cannot grow."""
        total = Usage()
        for root, dirs, names in os.walk(self.workspace):
            dirs[:] = [d for d in dirs if os.path.join(root, d) not in self.frozen]
            total.files += len(dirs) + len(names)
            for name in names:
                try:
                    total.bytes += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    pass
        return total

    def begin(self) -> None:
        """A command starts: the periodic walk is due only once it has run a while
        (short commands, most of them, never pay for a walk)."""
        self._next_sweep = time.monotonic() + SWEEP_S

    def settle(self) -> None:
        """After the offending command died: what it left is the new reference for
        "still growing", so the commands that clean up are not killed too."""
        self._last = self.usage()

    def check(self) -> str | None:
        """One line saying why the command must die, or None; cheap when called often."""
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + CHECK_S
        info, start, limits = self._statvfs(), self._start_fs, self.limits
        if info is None or start is None:
            return None
        free = info.f_bavail * info.f_frsize
        if limits.min_free_mb and free < limits.min_free_mb << 20:
            return (f"the disk has only {free >> 20} MB free: the command was killed; delete files "
                    "you don't need before going on")
        grew = limits.disk_mb and (start.f_bavail * start.f_frsize - free) > limits.disk_mb << 20
        # Filesystems without inode accounting report 0 free inodes throughout.
        multiplied = limits.max_files and start.f_favail and start.f_favail - info.f_favail > limits.max_files
        # statvfs sees the whole filesystem: another process freeing space can hide
        # ours, so the workspace is also walked now and then, whatever statvfs says.
        due = now >= self._next_sweep
        if not (grew or multiplied or due) or now < self._next_walk:
            return None
        self.pause(True)
        walk_started = time.monotonic()
        try:
            used = self.usage()
        finally:
            self.pause(False)
        took = time.monotonic() - walk_started
        if grew or multiplied:
            # statvfs said "over" and may go on saying so for other processes' files:
            # don't walk at every check. A walk that was merely due must not hold back
            # the next one statvfs asks for, or a fast writer gets WALK_S more.
            self._next_walk = now + WALK_S
        # A big workspace is walked less often: the processes stand still meanwhile.
        self._next_sweep = now + max(SWEEP_S, 20 * took)
        last = self._last
        self._last = used
        added_bytes, added_files = used.bytes - self._start.bytes, used.files - self._start.files
        # Past an allowance, only a command that goes on adding dies: the one that
        # deletes files to get back under it must be able to finish.
        if limits.disk_mb and added_bytes > limits.disk_mb << 20 and (last is None or used.bytes > last.bytes):
            return (f"the workspace grew by {added_bytes >> 20} MB, past its limit of {limits.disk_mb} MB: "
                    "the command was killed; delete files you don't need before going on")
        if limits.max_files and added_files > limits.max_files and (last is None or used.files > last.files):
            return (f"the workspace gained {added_files} files, past its limit of {limits.max_files}: "
                    "the command was killed; delete files you don't need before going on")
        return None
