"""What the agent–computer interface needs from outside, stated as Protocols.

``aci`` never imports the harness: the episode hands a
:class:`~aci.context.ToolContext` whatever objects fit these shapes. The harness's
``WorkspaceFiles``, ``Sandbox.run``, ``Scorer`` and ``Memory`` do; a test, another
gym or a custom tool's own harness can pass fakes with the same methods.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol, runtime_checkable

TokenCounter = Callable[[str], int]
"""Text -> its number of tokens for the model at hand (see :mod:`aci.tokens`)."""

Linter = Callable[[str, str], list[str]]
"""``(filename, text) -> error lines``, run on edits of Python files."""


@runtime_checkable
class Files(Protocol):
    """The workspace by workspace-relative path; refuses paths that lead out of it.

    Errors are :mod:`aci.errors`' ``PathEscapeError``, ``NotRegularFileError``,
    ``FileTooLargeError`` (or subclasses), ``FileNotFoundError`` and
    ``PermissionError``, with messages that name sandbox paths only.
    """

    @property
    def root(self) -> Path:
        """The workspace's host path: only ever hidden from the agent, never shown."""
        ...

    @property
    def display_root(self) -> PurePosixPath:
        """Where the agent sees the workspace (``/home/agent/workspace``)."""
        ...

    def display(self, rel: str) -> str:
        """A workspace-relative path as the agent sees it."""
        ...

    def locate(self, path: str) -> str:
        """The canonical workspace-relative path (``.`` for the root) of a sandbox path."""
        ...

    def kind(self, path: str) -> str | None:
        """``file``, ``dir``, ``other`` (FIFO, socket, device) or None when missing."""
        ...

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def is_file(self, path: str) -> bool: ...

    def read_bytes(self, path: str, limit: int = ...) -> bytes: ...

    def read_text(self, path: str) -> str: ...

    def open_binary(self, path: str, limit: int = ...) -> AbstractContextManager[BinaryIO]:
        """A regular file to stream, for files too large to load."""
        ...

    def listdir(self, path: str = ".") -> list[str]: ...

    def walk(self, path: str = ".") -> list[str]:
        """All regular files under ``path``, workspace-relative, sorted."""
        ...

    def write_text(self, path: str, text: str) -> None: ...


class RunResult(Protocol):
    """What a shell command produced. A ``restarted`` attribute, when present and
    true, says the shell died and was restarted."""

    output: str
    exit_code: int | None
    timed_out: bool


class Shell(Protocol):
    """Run a shell command in the sandbox: ``run(command, timeout) -> RunResult``."""

    def __call__(self, command: str, timeout: float, /) -> RunResult: ...


@runtime_checkable
class ScoreLike(Protocol):
    """What the task's scorer returns."""

    metrics: dict[str, float] | None
    error: str | None


class Scorer(Protocol):
    """Score the workspace's current submission (``validate``, ``submit``)."""

    def __call__(self) -> ScoreLike: ...


@runtime_checkable
class Memory(Protocol):
    """The memory store behind ``memory_write`` / ``memory_read``."""

    def write(self, text: str, *, step: int | None = None) -> str: ...

    def read(self, query: str) -> str: ...

