"""The file viewer: a window of numbered lines, as SWE-agent and MLGym show it.

::

    [File: /home/agent/workspace/train.py (212 lines total)]
    (15 more lines above)
    16:import torch
    ...
    (96 more lines below)

The window's position is SWE-agent's ``CURRENT_LINE``: the line at the window's
centre. ``open``/``goto <n>`` put line n a sixth of the window from the top,
``scroll_down``/``scroll_up`` move by a window minus two lines of overlap.

Files are split on ``\\n`` only (so a form feed or U+2028 inside a line does not
shift line numbers), CRLF endings are kept for writing and hidden for showing, and
large files are read in chunks so opening a 1 GB CSV costs only the window.

The viewer never opens a path: it reads a file the caller opened through
:meth:`aci.protocols.Files.open_binary` (the harness's ``WorkspaceFiles``), which
refuses symlinks out of the workspace, FIFOs and devices. It reads at most the size
the file had when opened, and cuts very long lines of large files, so a file the
agent keeps growing (or one gigantic line) cannot keep the harness busy or fill its
memory.
"""

from __future__ import annotations

import os
from typing import BinaryIO

OVERLAP = 2
LARGE_FILE_BYTES = 8 * 1024 * 1024
MAX_LINE_BYTES = 256 * 1024
"""Lines of large files are cut here (the rest is skipped, line numbers stay right)."""


def constrain(current: int, total: int, window: int) -> int:
    half = window // 2
    current = min(current, total - half)
    return max(current, half)


def line_for_goto(line: int, window: int) -> int:
    """The centre line that shows ``line`` a sixth of the window from the top."""
    return line + window // 2 - window // 6


def first_shown(current: int, window: int) -> int:
    return max(1, current - window // 2 + 1)


def render(display_path: str, lines: list[str], total: int, current: int, window: int,
           first: int | None = None) -> str:
    """The window text. ``lines`` are the lines shown, starting at line ``first``."""
    half = window // 2
    start = first if first is not None else first_shown(current, window)
    above = max(0, current - half)
    end = min(total, max(current + half, half))
    below = max(0, total - end)
    out = [f"[File: {display_path} ({total} lines total)]"]
    if above > 0:
        out.append(f"({above} more lines above)")
    for number, text in zip(range(start, end + 1), lines, strict=False):
        out.append(f"{number}:{text}")
    if below > 0:
        out.append(f"({below} more lines below)")
    return "\n".join(out)


def split_lines(text: str) -> list[str]:
    """Lines as stored, each with its own ending (``\\n``, ``\\r\\n`` or none at EOF)."""
    if not text:
        return []
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def shown(raw_line: str) -> str:
    return raw_line.rstrip("\n").removesuffix("\r")


def newline_of(text: str) -> str:
    """The file's line ending: ``\\r\\n`` if most lines use it, else ``\\n``."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


def looks_binary(sample: bytes) -> bool:
    return b"\0" in sample


def view(handle: BinaryIO, display_path: str, current: int, window: int) -> tuple[str, int]:
    """(window text, constrained current line) of an open file."""
    size = _size(handle)
    if size > LARGE_FILE_BYTES:
        total = count_lines(handle)
        current = constrain(current, total, window)
        start = first_shown(current, window)
        end = min(total, max(current + window // 2, window // 2))
        raw = _window(handle, start, end, size)
        lines = [shown(r.decode("utf-8", errors="replace")) for r in raw]
        return render(display_path, lines, total, current, window, start), current
    handle.seek(0)
    text = handle.read(size).decode("utf-8", errors="replace")
    raw_lines = split_lines(text)
    total = len(raw_lines)
    current = constrain(current, total, window)
    start = first_shown(current, window)
    end = min(total, max(current + window // 2, window // 2))
    lines = [shown(r) for r in raw_lines[start - 1:end]]
    return render(display_path, lines, total, current, window, start), current


def count_lines(handle: BinaryIO) -> int:
    """Lines of an open file, reading no more than its size when this starts."""
    left = _size(handle)
    handle.seek(0)
    total = 0
    last = b"\n"
    while left > 0 and (chunk := handle.read(min(left, 1 << 20))):
        total += chunk.count(b"\n")
        last = chunk[-1:]
        left -= len(chunk)
    return total + (0 if last == b"\n" else 1)


def _size(handle: BinaryIO) -> int:
    return os.fstat(handle.fileno()).st_size


def _window(handle: BinaryIO, first: int, last: int, budget: int) -> list[bytes]:
    """Lines ``first``..``last`` (1-based) of a large file, reading at most ``budget`` bytes."""
    handle.seek(0)
    lines: list[bytes] = []
    number = 1
    while number <= last and budget > 0:
        line = handle.readline(min(MAX_LINE_BYTES, budget))
        if not line:
            break
        budget -= len(line)
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            budget -= _skip_rest_of_line(handle, budget)
        if number >= first:
            lines.append(line)
        number += 1
    return lines


def _skip_rest_of_line(handle: BinaryIO, budget: int) -> int:
    """Move past the next newline; the bytes read."""
    used = 0
    while used < budget and (chunk := handle.read(min(1 << 20, budget - used))):
        newline = chunk.find(b"\n")
        if newline >= 0:
            handle.seek(newline + 1 - len(chunk), os.SEEK_CUR)
            return used + newline + 1
        used += len(chunk)
    return used
