"""``search_dir``, ``search_file``, ``find_file``: searching the workspace.

They run on the host through the workspace's file API (fast, and no path can
escape), skip hidden directories, symlinks, FIFOs and other non-regular files
(listed, never opened) and binary files, and, like SWE-agent, ask the agent to
narrow a search that matches too much.
"""

from __future__ import annotations

import fnmatch
import os

from aci import viewer
from aci.context import ToolContext
from aci.errors import AciError, FileTooLargeError
from aci.registry import tool
from aci.tools.viewing import NO_FILE

MAX_FILES = 100
MAX_LINES = 100
MAX_SEARCH_BYTES = 50 * 1024 * 1024
"""Files larger than this are not searched (data files); the answer says so."""


def _files_under(ctx: ToolContext, relative: str) -> list[str]:
    return ctx.files.walk(relative)


def _read_searchable(ctx: ToolContext, relative: str) -> str | None:
    """The text of a file; None for binary files and files swapped for something else."""
    try:
        data = ctx.files.read_bytes(relative, limit=MAX_SEARCH_BYTES)
    except FileTooLargeError:
        raise
    except (AciError, OSError):
        return None
    if viewer.looks_binary(data[:8192]):
        return None
    return data.decode("utf-8", errors="replace")


def _count_hits(ctx: ToolContext, relative: str, search_term: str) -> int | None:
    """Lines of a file holding the term; None when it is too large to search."""
    try:
        text = _read_searchable(ctx, relative)
    except FileTooLargeError:
        return None
    return 0 if text is None else sum(1 for line in text.split("\n") if search_term in line)


@tool
def search_dir(ctx: ToolContext, search_term: str, dir: str = ".") -> str:
    """Search for search_term (plain text, case-sensitive) in all files under dir. Quote terms that contain spaces.

    Args:
        search_term: the text to search for
        dir: the directory to search (default: the current directory)
    """
    relative, display = ctx.resolve(dir)
    if not ctx.files.is_dir(relative):
        return f"Directory {display} not found"
    counts: list[tuple[str, int]] = []
    skipped = 0
    for path in _files_under(ctx, relative):
        hits = _count_hits(ctx, path, search_term)
        if hits is None:
            skipped += 1
        elif hits:
            counts.append((path, hits))
    note = (f"\n({skipped} file(s) larger than {MAX_SEARCH_BYTES // 2**20} MB were not "
            "searched; use grep for those.)") if skipped else ""
    if not counts:
        return f'No matches found for "{search_term}" in {display}{note}'
    if len(counts) > MAX_FILES:
        return (f'More than {MAX_FILES} files matched for "{search_term}" in {display}. '
                "Please narrow your search.")
    total = sum(n for _, n in counts)
    lines = [f'Found {total} matches for "{search_term}" in {display}:']
    lines += [f"{ctx.files.display(path)} ({n} matches)" for path, n in counts]
    lines.append(f'End of matches for "{search_term}" in {display}')
    return "\n".join(lines) + note


@tool
def search_file(ctx: ToolContext, search_term: str, file: str | None = None) -> str:
    """Search for search_term (plain text, case-sensitive) in file, or in the open file if none is given.

    Args:
        search_term: the text to search for
        file: the file to search in (default: the open file)
    """
    if file is None:
        if "open_file" not in ctx.state:
            return NO_FILE
        relative, display = ctx.state["open_file"], ctx.state["open_display"]
    else:
        relative, display = ctx.resolve(file)
    kind = ctx.files.kind(relative)
    if kind is None or kind == "dir":
        return f"Error: File name {display} not found. Please provide a valid file name."
    if kind != "file":
        return (f"Error: {display} is not a regular file (a FIFO, socket or device); "
                "search_file searches regular files only.")
    try:
        data = ctx.files.read_bytes(relative, limit=MAX_SEARCH_BYTES)
    except FileTooLargeError:
        return (f"Error: {display} is larger than {MAX_SEARCH_BYTES // 2**20} MB, too large to "
                "search here; use grep for it.")
    if viewer.looks_binary(data[:8192]):
        return f"Error: {display} is a binary file; search_file searches text files only."
    text = data.decode("utf-8", errors="replace")
    hits = [(n, viewer.shown(line)) for n, line in enumerate(viewer.split_lines(text), 1)
            if search_term in line]
    if not hits:
        return f'No matches found for "{search_term}" in {display}'
    if len(hits) > MAX_LINES:
        return (f'More than {MAX_LINES} lines matched for "{search_term}" in {display}. '
                "Please narrow your search.")
    lines = [f'Found {len(hits)} matches for "{search_term}" in {display}:']
    lines += [f"Line {n}:{text}" for n, text in hits]
    lines.append(f'End of matches for "{search_term}" in {display}')
    return "\n".join(lines)


@tool
def find_file(ctx: ToolContext, file_name: str, dir: str = ".") -> str:
    """Find files named file_name (shell wildcards such as *.py allowed) under dir.

    Args:
        file_name: the name of the file to search for
        dir: the directory to search in (default: the current directory)
    """
    relative, display = ctx.resolve(dir)
    if not ctx.files.is_dir(relative):
        return f"Directory {display} not found"
    found = [path for path in _files_under(ctx, relative)
             if fnmatch.fnmatchcase(os.path.basename(path), file_name)]
    if not found:
        return f'No matches found for "{file_name}" in {display}'
    if len(found) > MAX_FILES:
        return (f'More than {MAX_FILES} files matched for "{file_name}" in {display}. '
                "Please narrow your search.")
    lines = [f'Found {len(found)} matches for "{file_name}" in {display}:']
    lines += [ctx.files.display(path) for path in found]
    return "\n".join(lines)
