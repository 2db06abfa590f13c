"""Who the sandbox's processes are on the host, and how bwrap reaches its sources.

bwrap maps the sandbox's user to whoever starts it. Started by root (many rented GPU
boxes and containers run everything as root) that is host uid 0: a process inside
could then write whatever root-owned file it reaches, ``/proc/sys/kernel/core_pattern``
included, and have the kernel run its program as root on the host. So a harness
running as root starts bwrap as an unprivileged host uid: ``HARNESS_SANDBOX_UID`` when
set, else the first subordinate uid ``/etc/subuid`` gives root, else
:data:`DEFAULT_UID`, one no account uses. The workspace is handed to that uid.

An unprivileged bwrap cannot read what only root can reach (``/root/.pyenv``, a venv
under ``/root``, a 0700 temporary directory), so such sources are *staged*: in a
private mount namespace of the child that becomes bwrap, each is bind-mounted onto an
empty directory everyone can traverse, before the child drops to the sandbox uid.
The host's mount table never sees these mounts.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_UID = 0x70000000
"""1879048192: far above any distribution's account and subordinate-id ranges."""

_CLONE_NEWNS = 0x00020000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000


@dataclass(frozen=True)
class HostIds:
    uid: int
    gid: int


def sandbox_ids() -> HostIds | None:
    """The host uid/gid sandbox processes run as, or None to keep the caller's own."""
    if os.geteuid() != 0:
        return None
    override = os.environ.get("HARNESS_SANDBOX_UID", "").strip()
    if override:
        if not override.isdigit() or int(override) == 0:
            from harness.errors import SandboxUnavailable

            raise SandboxUnavailable(
                f"HARNESS_SANDBOX_UID={override!r} must be a non-zero number: agent code never runs as root"
            )
        return HostIds(int(override), int(override))
    uid = _subordinate("/etc/subuid") or DEFAULT_UID
    gid = _subordinate("/etc/subgid") or uid
    return HostIds(uid, gid)


def _subordinate(path: str) -> int | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in ("root", "0") and parts[1].isdigit() and int(parts[1]) > 0:
            return int(parts[1])
    return None


def reachable(path: str | os.PathLike[str], ids: HostIds) -> bool:
    """Whether ``ids`` (no supplementary groups) can open ``path`` for reading."""
    try:
        real = Path(os.path.realpath(path))
        parts = [*reversed(real.parents), real]
        for index, part in enumerate(parts):
            info = os.stat(part)
            last = index == len(parts) - 1
            need = (4 if last else 0) | (1 if stat.S_ISDIR(info.st_mode) else 0)
            if info.st_uid == ids.uid:
                bits = (info.st_mode >> 6) & 7
            elif info.st_gid == ids.gid:
                bits = (info.st_mode >> 3) & 7
            else:
                bits = info.st_mode & 7
            if bits & need != need:
                return False
    except OSError:
        return False
    return True


def hand_over(root: Path, ids: HostIds, keep: Iterable[Path] = ()) -> None:
    """Give the workspace to the sandbox uid, leaving read-only parts (often hard links
    of shared data, whose owner must not change) as they are. Symlinks are changed
    themselves, never followed."""
    frozen = {str(p) for p in keep}
    if _owned(root, ids):
        return
    os.lchown(root, ids.uid, ids.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in frozen]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            if full in frozen:
                continue
            try:
                info = os.lstat(full)
                if not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1:
                    continue  # an inode shared with files outside (prepared data): not ours to give
                os.lchown(full, ids.uid, ids.gid)
            except OSError:
                pass


def _owned(root: Path, ids: HostIds) -> bool:
    try:
        return os.lstat(root).st_uid == ids.uid
    except OSError:
        return False


@dataclass
class Stage:
    """Sources bwrap cannot reach as the sandbox uid, and where they are staged."""

    directory: Path
    sources: list[str] = field(default_factory=list)

    def path(self, source: str) -> str:
        """The path bwrap is given for ``source``."""
        if source not in self.sources:
            self.sources.append(source)
            target = self.directory / str(len(self.sources) - 1)
            if os.path.isdir(source):
                target.mkdir()
            else:
                target.touch()  # a file is mounted on a file
        return str(self.directory / str(self.sources.index(source)))

    def mount_in_child(self) -> None:
        """In the forked child, before it drops root: a private mount namespace with
        each source bound onto its stage directory."""
        if not self.sources:
            return
        libc = _libc()
        if libc.unshare(_CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
        _mount(libc, b"none", b"/", _MS_REC | _MS_PRIVATE)
        for index, source in enumerate(self.sources):
            _mount(libc, source.encode(), str(self.directory / str(index)).encode(), _MS_BIND | _MS_REC)


def drop_to(ids: HostIds) -> None:
    """In the forked child: become ``ids`` for good (no way back to root)."""
    os.setgroups([])
    os.setresgid(ids.gid, ids.gid, ids.gid)
    os.setresuid(ids.uid, ids.uid, ids.uid)


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    return _LIBC


def _mount(libc, source: bytes, target: bytes, flags: int) -> None:
    if libc.mount(source, target, None, flags, None) != 0:
        raise OSError(ctypes.get_errno(), f"mount {source.decode()} on {target.decode()} failed")
