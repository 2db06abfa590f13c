"""Host-side access to a workspace by workspace-relative path.

Tools (open, edit, search …) and the scorer read and write workspace files from the
host process, which is much faster than shelling into the sandbox. The agent is
hostile: a process it left running can swap any name for a symlink, a FIFO, a
directory or a sparse file at any moment, between any two system calls.

So no host path is ever handed to ``open``. Every access walks the path one
component at a time from a descriptor of the workspace root, with
``openat(..., O_NOFOLLOW)`` for each component: what is opened is what was checked.
``..`` pops back to a directory already walked through (never the kernel's ``..``),
and cannot climb above the root.

Symlinks *inside* the workspace are followed, because agents make them
(``ln -s runs/best/model.pt model.pt``) and the tools used to follow them: a
symlink's text is read with ``readlinkat`` and walked the same way, so it may lead
anywhere in the workspace but never out of it (absolute targets count only under
``/home/agent/workspace``). Writes never follow a symlink in the last component.

Only regular files are read: a FIFO, socket or device is refused after an
``O_NONBLOCK`` open (a FIFO never blocks), and a directory walk skips them without
opening them. Sizes are capped: a read loads at most :data:`MAX_READ_BYTES`, a
stream at most :data:`MAX_STREAM_BYTES`, and :meth:`WorkspaceFiles.copy_out` counts
the *apparent* bytes it copies against the caller's cap, so sparse files cannot
fill the host's disk.

Messages name paths as the agent sees them (``/home/agent/workspace/...``), never
the host path of the workspace.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from aci import errors as aci_errors
from harness.errors import HarnessError, PathEscapeError

SANDBOX_WORKSPACE = PurePosixPath("/home/agent/workspace")
MAX_READ_BYTES = 64 << 20
"""Files larger than this are not loaded into the harness (the viewer would be useless anyway)."""
MAX_STREAM_BYTES = 2 << 30
"""Files larger than this are not streamed (the viewer counts lines of what it opens)."""
MAX_SYMLINKS = 40
"""Symlinks followed in one path, as the kernel allows (a loop ends here)."""
MAX_DEPTH = 128
"""Directories deeper than this are not walked (keeps open descriptors bounded)."""
MAX_COPY_ENTRIES = 10_000
"""Files and directories one :meth:`WorkspaceFiles.copy_out` may create on the host."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LEAF_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20


class WorkspaceFileError(HarnessError, aci_errors.WorkspaceFileError):
    """A workspace file the harness will not read, write or copy; the message says why."""


class NotRegularFileError(WorkspaceFileError, aci_errors.NotRegularFileError):
    """A FIFO, socket, device, directory or symlink where a regular file was needed."""


class FileTooLargeError(WorkspaceFileError, aci_errors.FileTooLargeError):
    """A file (or tree) above the size cap of the operation."""


def _kind_name(mode: int) -> str:
    """How to call a non-regular file in a message."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symlink"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "not a regular file"


def _size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.3g} {unit}"
    return f"{n} bytes"


class _Dirs:
    """The directories walked so far, as open descriptors from the root down.

    ``..`` pops this stack instead of asking the kernel, so a directory moved or
    swapped after it was entered cannot lead above the root.
    """

    def __init__(self, root: Path) -> None:
        try:
            self.fds = [os.open(root, _DIR_FLAGS)]
        except OSError as err:  # its message would name the host path
            raise FileNotFoundError(f"the workspace cannot be opened: {err.strerror}") from None
        self.names: list[str] = []

    @property
    def top(self) -> int:
        return self.fds[-1]

    @property
    def rel(self) -> str:
        return "/".join(self.names) or "."

    def push(self, name: str, fd: int) -> None:
        if len(self.fds) > MAX_DEPTH:
            os.close(fd)
            raise WorkspaceFileError(f"the path is more than {MAX_DEPTH} directories deep")
        self.fds.append(fd)
        self.names.append(name)

    def pop(self, shown: str) -> None:
        if not self.names:
            raise PathEscapeError(f"path {shown!r} leads outside the workspace (via '..' or a symlink)")
        os.close(self.fds.pop())
        self.names.pop()

    def to_root(self) -> None:
        while self.names:
            os.close(self.fds.pop())
            self.names.pop()

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


class _Budget:
    """Apparent bytes and entries a copy may still write."""

    def __init__(self, cap_bytes: int, shown: str) -> None:
        self.cap = cap_bytes
        self.used = 0
        self.entries = 0
        self.shown = shown

    @property
    def left(self) -> int:
        return max(0, self.cap - self.used)

    def take(self, n: int) -> None:
        self.check(n)
        self.used += n

    def check(self, n: int) -> None:
        """Raise unless ``n`` more bytes fit."""
        if self.used + n > self.cap:
            raise FileTooLargeError(
                f"{self.shown} is larger than the {_size_text(self.cap)} a submission may be "
                "(apparent size, sparse files count in full): write a smaller one")

    def entry(self) -> None:
        self.entries += 1
        if self.entries > MAX_COPY_ENTRIES:
            raise FileTooLargeError(
                f"{self.shown} holds more than {MAX_COPY_ENTRIES} files and directories: "
                "a submission may not")


class WorkspaceFiles:
    """Read, write, list and copy files of one workspace without ever leaving it."""

    def __init__(self, root: Path, readonly: Sequence[Path] = (),
                 display_root: PurePosixPath | str = SANDBOX_WORKSPACE) -> None:
        self.root = Path(root).resolve()
        self.readonly = [Path(p).resolve() for p in readonly]
        self.display_root = PurePosixPath(display_root)
        """Where messages say the workspace is: the sandbox's path, not the host's."""
        self.owner: tuple[int, int] | None = None
        """Host (uid, gid) of the sandbox's processes when they are not the harness's
        own (a harness running as root): what the tools create is handed to them, or
        the agent could not change the files its own tools wrote."""

    # -- paths ---------------------------------------------------------------------

    def display(self, rel: str) -> str:
        """A workspace-relative path as the agent sees it (never the host path)."""
        return str(self.display_root) if rel in ("", ".") else str(self.display_root / rel)

    def is_readonly(self, host_path: Path) -> bool:
        """Read-only to the agent: the path itself or inside a read-only directory."""
        return any(host_path == p or p in host_path.parents for p in self.readonly)

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """The host path of a workspace path, symlinks resolved inside the workspace.

        For bookkeeping only: opening the returned path would follow whatever the
        agent swaps in, so read and write through the methods below. Raises
        PathEscapeError for a path that leads out of the workspace.
        """
        rel = self.locate(path)
        return self.root if rel == "." else self.root / rel

    def relative(self, host_path: Path) -> str:
        return str(Path(host_path).resolve().relative_to(self.root)) or "."

    def locate(self, path: str | os.PathLike[str]) -> str:
        """The canonical workspace-relative path (``.`` for the root) of an agent's path.

        Existing components are walked and their symlinks resolved; a missing tail
        is kept (``..`` taken lexically), so a file about to be created has a place.
        Raises PathEscapeError for a path that leads out of the workspace.
        """
        raw = self._check_raw(path)
        dirs, name, _, missing = self._walk(raw, missing_ok=True)
        parts = [*dirs.names, *([name] if name else [])]
        dirs.close()
        for part in missing:
            if part == "..":
                if not parts:
                    raise PathEscapeError(f"path {raw!r} leads outside the workspace (via '..')")
                parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        return "/".join(parts) or "."

    def kind(self, path: str | os.PathLike[str]) -> str | None:
        """``file``, ``dir``, ``other`` (FIFO, socket, device) or None when missing.

        Looks without opening, so asking about a FIFO is harmless.
        """
        raw = self._check_raw(path)
        try:
            dirs, name, info, _ = self._walk(raw)
        except FileNotFoundError:
            return None
        dirs.close()
        if stat.S_ISDIR(info.st_mode):
            return "dir"
        return "file" if stat.S_ISREG(info.st_mode) else "other"

    def exists(self, path: str) -> bool:
        return self.kind(path) is not None

    def is_dir(self, path: str) -> bool:
        return self.kind(path) == "dir"

    def is_file(self, path: str) -> bool:
        return self.kind(path) == "file"

    # -- reading -------------------------------------------------------------------

    def read_bytes(self, path: str, limit: int = MAX_READ_BYTES) -> bytes:
        """The contents of a regular file; FileTooLargeError above ``limit`` bytes."""
        with self._open_regular(path, limit) as fd:
            data = _read_at_most(fd, limit + 1)
        if len(data) > limit:  # it grew since fstat
            raise self._too_large(path, len(data))
        return data

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8", errors="replace")

    @contextmanager
    def open_binary(self, path: str, limit: int = MAX_STREAM_BYTES) -> Iterator[BinaryIO]:
        """A regular file to stream (the viewer's large files), at most ``limit`` bytes
        when opened: readers should stop at the size it had then."""
        with self._open_regular(path, limit) as fd:
            with os.fdopen(os.dup(fd), "rb") as handle:
                yield handle

    def listdir(self, path: str = ".") -> list[str]:
        with self._open_dir(path) as (fd, _):
            return sorted(os.listdir(fd))

    def walk(self, path: str = ".") -> list[str]:
        """All regular files under ``path``, workspace-relative, sorted.

        Hidden directories are skipped; symlinks, FIFOs, sockets and devices are
        seen in the listing only, never opened or followed.
        """
        with self._open_dir(path) as (fd, rel):
            return [child for _, _, child, info in _tree(fd, rel, strict=False)
                    if stat.S_ISREG(info.st_mode)]

    # -- writing -------------------------------------------------------------------

    def write_text(self, path: str, text: str) -> None:
        """Write a regular file, making missing directories; refuses read-only paths
        and a symlink as the last component (write to its target instead)."""
        raw = self._check_raw(path)
        if self.is_readonly(self.resolve(raw)):  # before making directories for it
            raise PermissionError(f"{self._shown(raw)} is read-only")
        dirs, name, info, _ = self._walk(raw, follow_last=False, create_dirs=True, last_ok=True)
        try:
            if name is None:
                raise NotRegularFileError(f"{self._shown(raw)} is a directory")
            if info is not None and stat.S_ISLNK(info.st_mode):
                raise PathEscapeError(f"path {raw!r} is a symlink: write to its target instead")
            rel = "/".join([*dirs.names, name])
            self._check_writable(dirs.top, name, rel)
            fd = self._open_leaf(dirs.top, name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, raw)
        finally:
            dirs.close()
        try:
            self._require_regular(fd, rel)
            if self.owner is not None:
                os.fchown(fd, *self.owner)
            with os.fdopen(fd, "w", encoding="utf-8", newline="", closefd=False) as handle:
                handle.write(text)
        finally:
            os.close(fd)

    def _check_writable(self, dir_fd: int, name: str, rel: str) -> None:
        if self.is_readonly(self.root / rel):
            raise PermissionError(f"{self.display(rel)} is read-only")
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not os.access(name, os.W_OK, dir_fd=dir_fd):
            raise PermissionError(f"{self.display(rel)} is read-only")

    # -- copying out (the scorer) ----------------------------------------------------

    def copy_out(self, path: str, dest: Path, cap_bytes: int) -> int:
        """Copy a regular file or a directory tree of them to the host path ``dest``.

        For the scorer: at most ``cap_bytes`` apparent bytes (sparse files count in
        full) and :data:`MAX_COPY_ENTRIES` entries are written whatever the agent
        swaps in meanwhile, and a tree holding a symlink, FIFO, socket or device is
        refused. Returns the bytes copied. FileNotFoundError when ``path`` is
        missing; after any other refusal nothing is left at ``dest``.
        """
        fd, rel = self._open_path(path, os.O_RDONLY)
        budget = _Budget(cap_bytes, self.display(rel))
        try:
            self._copy_fd(fd, rel, Path(dest), budget)
        except OSError as err:
            _remove(Path(dest))
            raise WorkspaceFileError(f"{self.display(rel)}: cannot copy it ({err.strerror})") from None
        except BaseException:
            _remove(Path(dest))
            raise
        finally:
            os.close(fd)
        return budget.used

    def _copy_fd(self, fd: int, rel: str, dest: Path, budget: _Budget) -> None:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            budget.entry()
            _copy_file(fd, dest, budget)
        elif stat.S_ISDIR(info.st_mode):
            _measure_tree(fd, rel, _Budget(budget.cap, budget.shown), self.display)
            _copy_tree(fd, rel, dest, budget, self.display)
        else:
            raise NotRegularFileError(f"{self.display(rel)} is {_kind_name(info.st_mode)}: "
                                      "a submission is a regular file or a directory of them")

    # -- the walker ----------------------------------------------------------------

    def _check_raw(self, path: str | os.PathLike[str]) -> str:
        raw = str(path).strip()
        if not raw:
            raise PathEscapeError("empty path: give a file name relative to the workspace")
        if "\0" in raw:
            raise PathEscapeError(f"path {raw!r} contains a NUL byte")
        posix = PurePosixPath(raw)
        if posix.is_absolute() and not _under_workspace(posix):
            raise PathEscapeError(f"path {raw!r} is outside the workspace: use a path relative to "
                                  f"{SANDBOX_WORKSPACE}")
        return raw

    def _walk(self, raw: str, *, follow_last: bool = True, create_dirs: bool = False,
              missing_ok: bool = False, last_ok: bool = False,
              ) -> tuple[_Dirs, str | None, os.stat_result | None, list[str]]:
        """Walk ``raw`` from the root: (directories entered, last name, its lstat, missing tail).

        Every directory is entered with ``openat(O_DIRECTORY | O_NOFOLLOW)`` from
        the one before; a symlink met on the way (and as the last component when
        ``follow_last``) is read and its target walked in its place. The last name
        is looked at, not opened: the caller opens it with ``O_NOFOLLOW``. A None
        name means the path is the directory on top of the stack. A missing last
        component comes back with a None lstat when ``last_ok``; with
        ``missing_ok`` any missing component ends the walk, the rest as the tail.
        """
        posix = PurePosixPath(raw)
        queue = deque(posix.relative_to(SANDBOX_WORKSPACE).parts if posix.is_absolute()
                      else posix.parts)
        dirs = _Dirs(self.root)
        hops = 0
        try:
            while queue:
                name = queue.popleft()
                if name in ("", "."):
                    continue
                if name == "..":
                    dirs.pop(raw)
                    continue
                last = all(part in ("", ".") for part in queue)
                try:
                    if not last:
                        dirs.push(name, os.open(name, _DIR_FLAGS, dir_fd=dirs.top))
                        continue
                    info = os.stat(name, dir_fd=dirs.top, follow_symlinks=False)
                    if not (follow_last and stat.S_ISLNK(info.st_mode)):
                        return dirs, name, info, []
                except FileNotFoundError:
                    if last and (last_ok or missing_ok):
                        return dirs, name, None, []
                    if missing_ok:
                        return dirs, None, None, [name, *queue]
                    if not create_dirs or last:
                        raise FileNotFoundError(f"{self._shown(raw)}: no such file or directory") from None
                    _mkdir(name, dirs.top, self.owner)
                    queue.appendleft(name)
                    continue
                except OSError as err:
                    if err.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise self._os_error(err, raw) from None
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise PathEscapeError(f"path {raw!r} has too many symlinks (a loop?)")
                self._follow(dirs, name, last, queue, raw)
            return dirs, None, os.fstat(dirs.top), []
        except BaseException:
            dirs.close()
            raise

    def _follow(self, dirs: _Dirs, name: str, last: bool, queue: deque[str], raw: str) -> None:
        """Put the target of the symlink ``name`` in its place at the head of the queue."""
        try:
            target = PurePosixPath(os.readlink(name, dir_fd=dirs.top))
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise self._os_error(err, raw) from None
            try:
                mode = os.stat(name, dir_fd=dirs.top, follow_symlinks=False).st_mode
            except OSError as again:
                raise self._os_error(again, raw) from None
            if not last and not stat.S_ISDIR(mode):
                raise FileNotFoundError(f"{self._shown(raw)}: {name} is not a directory") from None
            queue.appendleft(name)  # no longer a symlink (swapped back): look again
            return
        if target.is_absolute():
            if not _under_workspace(target):
                raise PathEscapeError(f"path {raw!r} leads outside the workspace (via a symlink)")
            dirs.to_root()
            target = target.relative_to(SANDBOX_WORKSPACE)
        queue.extendleft(reversed(target.parts))

    def _open_leaf(self, dir_fd: int, name: str, flags: int, raw: str) -> int:
        """Open the last component, never through a symlink and never blocking."""
        try:
            return os.open(name, flags | _LEAF_FLAGS, 0o644, dir_fd=dir_fd)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise PathEscapeError(f"path {raw!r} is a symlink (or just became one): refused") from None
            if err.errno == errno.ENXIO:  # a FIFO without a reader, a socket
                raise NotRegularFileError(f"{self._shown(raw)} is not a regular file") from None
            raise self._os_error(err, raw) from None

    def _open_path(self, path: str, flags: int) -> tuple[int, str]:
        """A descriptor of whatever ``path`` names (symlinks resolved), and its canonical path."""
        raw = self._check_raw(path)
        dirs, name, _, _ = self._walk(raw)
        try:
            if name is None:
                return os.dup(dirs.top), dirs.rel
            return self._open_leaf(dirs.top, name, flags, raw), "/".join([*dirs.names, name])
        finally:
            dirs.close()

    @contextmanager
    def _open_regular(self, path: str, limit: int) -> Iterator[int]:
        """A descriptor of a regular file of at most ``limit`` bytes."""
        fd, rel = self._open_path(path, os.O_RDONLY)
        try:
            info = self._require_regular(fd, rel)
            if info.st_size > limit:
                raise self._too_large(path, info.st_size)
            yield fd
        finally:
            os.close(fd)

    @contextmanager
    def _open_dir(self, path: str) -> Iterator[tuple[int, str]]:
        fd, rel = self._open_path(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise FileNotFoundError(f"{self.display(rel)}: not a directory")
            yield fd, rel
        finally:
            os.close(fd)

    def _require_regular(self, fd: int, rel: str) -> os.stat_result:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(f"{self.display(rel)} is {_kind_name(info.st_mode)}, "
                                      "not a regular file")
        return info

    def _too_large(self, path: str, size: int) -> FileTooLargeError:
        return FileTooLargeError(f"{self._shown(path)} is {_size_text(size)}, too large to open "
                                 "here: look at it with head, tail or grep instead")

    def _shown(self, raw: str) -> str:
        """A path the agent typed, for messages: absolute in the sandbox, never the host's."""
        posix = PurePosixPath(str(raw).strip())
        if not posix.is_absolute():
            return self.display(str(posix))
        if _under_workspace(posix):
            return self.display(str(posix.relative_to(SANDBOX_WORKSPACE)))
        return str(posix)

    def _os_error(self, err: OSError, raw: str) -> OSError:
        """The same error, naming the path the agent typed instead of a host path."""
        shown = self._shown(raw)
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return PermissionError(f"{shown}: {err.strerror}")
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return FileNotFoundError(f"{shown}: no such file or directory")
        return WorkspaceFileError(f"{shown}: {err.strerror}")


# -- helpers -----------------------------------------------------------------------


def _under_workspace(posix: PurePosixPath) -> bool:
    return posix == SANDBOX_WORKSPACE or SANDBOX_WORKSPACE in posix.parents


def _mkdir(name: str, dir_fd: int, owner: tuple[int, int] | None = None) -> None:
    try:
        os.mkdir(name, 0o755, dir_fd=dir_fd)
    except FileExistsError:
        return  # made meanwhile: the walk opens it (or refuses it) next
    if owner is not None:
        os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)


def _read_at_most(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left > 0 and (chunk := os.read(fd, min(left, _CHUNK))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _remove(dest: Path) -> None:
    """Undo a refused copy; ``dest`` is the harness's own host path, never the agent's."""
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest, ignore_errors=True)
    else:
        dest.unlink(missing_ok=True)


def _tree(dir_fd: int, rel: str, *, strict: bool, depth: int = 0,
          ) -> Iterator[tuple[int, str, str, os.stat_result]]:
    """(parent fd, name, workspace-relative path, lstat) of every entry below a directory.

    Parents come before their entries; directories are entered with ``O_NOFOLLOW``
    through their parent's descriptor, and nothing else is opened. Not ``strict``
    (listing for the tools): hidden directories are skipped, entries come in
    ``os.walk`` order (a directory's files, then its subdirectories, by name), and a
    directory that vanished or turned into something else is skipped.
    """
    if depth >= MAX_DEPTH:
        if strict:
            raise WorkspaceFileError(f"{rel} is more than {MAX_DEPTH} directories deep")
        return
    with os.scandir(dir_fd) as listing:
        entries = listing if strict else sorted(listing, key=_files_first)
        for entry in entries:
            child = entry.name if rel == "." else f"{rel}/{entry.name}"
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                if strict:
                    raise
                continue
            if not strict and stat.S_ISDIR(info.st_mode) and entry.name.startswith("."):
                continue
            yield dir_fd, entry.name, child, info
            if stat.S_ISDIR(info.st_mode):
                yield from _subtree(dir_fd, entry.name, child, strict=strict, depth=depth + 1)


def _files_first(entry: os.DirEntry) -> tuple[bool, str]:
    return entry.is_dir(follow_symlinks=False), entry.name


def _subtree(parent: int, name: str, rel: str, *, strict: bool, depth: int,
             ) -> Iterator[tuple[int, str, str, os.stat_result]]:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:
        if strict:
            raise
        return  # swapped for a symlink or removed since it was listed
    try:
        yield from _tree(fd, rel, strict=strict, depth=depth)
    finally:
        os.close(fd)


def _not_in_tree(shown: str, mode: int) -> NotRegularFileError:
    return NotRegularFileError(f"{shown} is {_kind_name(mode)}: a submission holds regular "
                               "files and directories only")


def _measure_tree(fd: int, rel: str, budget: _Budget, display: Callable[[str], str]) -> None:
    """Refuse a tree over the caps before writing a byte of it (honest sizes only:
    the copy counts again, against whatever is swapped in meanwhile)."""
    for _parent, _name, child, info in _tree(fd, rel, strict=True):
        budget.entry()
        if stat.S_ISREG(info.st_mode):
            budget.take(info.st_size)
        elif not stat.S_ISDIR(info.st_mode):
            raise _not_in_tree(display(child), info.st_mode)


def _copy_tree(fd: int, rel: str, dest: Path, budget: _Budget,
               display: Callable[[str], str]) -> None:
    os.mkdir(dest, 0o755)
    for parent, name, child, info in _tree(fd, rel, strict=True):
        budget.entry()
        target = dest / child[len(rel) + 1:] if rel != "." else dest / child
        if stat.S_ISDIR(info.st_mode):
            os.mkdir(target, 0o755)
            continue
        if not stat.S_ISREG(info.st_mode):
            raise _not_in_tree(display(child), info.st_mode)
        src = os.open(name, os.O_RDONLY | _LEAF_FLAGS, dir_fd=parent)
        try:
            mode = os.fstat(src).st_mode
            if not stat.S_ISREG(mode):  # swapped since it was listed
                raise _not_in_tree(display(child), mode)
            _copy_file(src, target, budget)
        finally:
            os.close(src)


def _copy_file(src: int, dest: Path, budget: _Budget) -> None:
    """Copy an open regular file, counting every byte read against the budget before
    writing it (its size is checked first, so an honest oversized file writes nothing)."""
    budget.check(os.fstat(src).st_size)
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        while chunk := os.read(src, min(_CHUNK, budget.left + 1)):
            budget.take(len(chunk))
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
    finally:
        os.close(out)
