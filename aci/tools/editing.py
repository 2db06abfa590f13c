"""``create``, ``edit`` and ``insert``: changing files through the viewer.

An edit of a Python file that introduces a syntax error (or, with a linter, a new
lint error) is refused: the file stays unchanged and the agent sees the error, the
proposed snippet and the original one. Line endings (LF or CRLF) and a missing
final newline are preserved.

A linter that ``checks_syntax`` (the MLGym profile's flake8, :mod:`aci.lint`) decides
alone, and an error from before the edit is forgiven by its position, as MLGym does;
otherwise ``compile()`` checks the syntax and a linter's errors are compared by text.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aci import viewer
from aci.context import ToolContext
from aci.errors import NotRegularFileError, ToolUsageError
from aci.lint import introduced
from aci.registry import tool
from aci.tools.viewing import NO_FILE, open_path, show

log = logging.getLogger(__name__)

SNIPPET_CONTEXT = 3
LINT_SELECT = "F821,F822,E111,E112,E113,E902"
"""SWE-agent's lint codes for edits (undefined names, bad indentation) that ruff knows;
syntax errors are caught by compile() first."""


@tool
def create(ctx: ToolContext, filename: str) -> str:
    """Create a new file with the given name and open it.

    Args:
        filename: the name of the file to create
    """
    relative, display = ctx.resolve(filename)
    if ctx.files.exists(relative):
        return f"Error: File '{filename}' already exists.\n" + open_path(ctx, filename)
    ctx.files.write_text(relative, "\n")
    return open_path(ctx, filename)


def _parse_range(argline: str) -> dict[str, str]:
    # Words after the range are ignored, as MLGym's (and SWE-agent's) edit reads only its
    # first argument: ``edit 1:36 strategy.py`` edits lines 1-36 of the open file.
    words = argline.split()
    start, sep, end = (words[0] if words else "").partition(":")
    if not sep or not start.strip() or not end.strip():
        raise ValueError(f"expected <start_line>:<end_line> such as 12:14, got {argline.strip()!r}")
    return {"start_line": start.strip(), "end_line": end.strip()}


@tool(
    usage="edit <start_line>:<end_line>",
    end_marker="end_of_edit",
    parse=_parse_range,
    render=lambda a: f"{a['start_line']}:{a['end_line']}",
)
def edit(ctx: ToolContext, start_line: int, end_line: int, replacement_text: str) -> str:
    """Replace lines start_line through end_line (inclusive) of the open file with the given text. The replacement text is terminated by a line with only end_of_edit on it. All of the replacement text is entered verbatim, so indent it properly. An empty replacement deletes the lines.

    Args:
        start_line: the line number to start the edit at
        end_line: the line number to end the edit at (inclusive)
        replacement_text: the text to replace the current selection with
    """
    return change(ctx, start_line, end_line, replacement_text, "edit")


@tool(usage="insert <line_number>", end_marker="end_of_insert")
def insert(ctx: ToolContext, line_number: int, text_to_add: str) -> str:
    """Insert the given text after line line_number of the open file (0 inserts at the top). The text is terminated by a line with only end_of_insert on it. All of the text is entered verbatim, so indent it properly.

    Args:
        line_number: the line after which to insert the text (0 for the top of the file)
        text_to_add: the text to insert
    """
    return change(ctx, line_number + 1, line_number, text_to_add, "insert")


def change(ctx: ToolContext, start: int, end: int, body: str, verb: str) -> str:
    """Replace lines start..end (1-based, inclusive; end = start - 1 inserts) with body."""
    if "open_file" not in ctx.state:
        return NO_FILE
    relative, display = ctx.state["open_file"], ctx.state["open_display"]
    try:
        original = ctx.files.read_bytes(relative).decode("utf-8")
    except (FileNotFoundError, NotRegularFileError):
        ctx.state.pop("open_file", None)
        return f"Error: {display} no longer exists. {NO_FILE}"
    except UnicodeDecodeError:
        return f"Error: {display} is not UTF-8 text; edit it with a shell command instead."
    raw = viewer.split_lines(original)
    total = len(raw)
    if verb == "insert":
        if not 0 <= end <= total:
            raise ToolUsageError(
                f"Error: <line_number> must be between 0 and {total} (the file has {total} lines)")
    else:
        if start < 1 or start > max(total, 1):
            raise ToolUsageError(
                f"Error: <start_line> must be between 1 and {max(total, 1)} "
                f"(the file has {total} lines), got {start}")
        if end < start:
            raise ToolUsageError(
                f"Error: <end_line> ({end}) must not be less than <start_line> ({start})")
        end = min(end, total)
    newline = viewer.newline_of(original) if original else "\n"
    body_lines = body.split("\n")
    if body_lines and body_lines[-1] == "":
        body_lines.pop()
    new = [line.removesuffix("\r") + newline for line in body_lines]
    touches_end = end >= total and total > 0
    if new and touches_end and not original.endswith("\n"):
        new[-1] = new[-1].removesuffix(newline)
    if new and start > 1 and start - 1 == total and not raw[-1].endswith("\n"):
        raw = raw[:-1] + [raw[-1] + newline]  # appending after an unterminated last line
    updated_lines = raw[: start - 1] + new + raw[end:]
    updated = "".join(updated_lines)

    problems = _problems(ctx, relative, original, updated, (start, end, len(new)))
    if problems:
        return _refusal(problems, display, raw, updated_lines, start, end, len(new))
    ctx.files.write_text(relative, updated)
    return show(ctx, viewer.constrain(start, len(updated_lines), ctx.window)) + (
        "\nFile updated. Please review the changes and make sure they are correct "
        "(correct indentation, no duplicate lines, etc). Edit the file again if necessary."
    )


def _problems(ctx: ToolContext, relative: str, original: str, updated: str,
              span: tuple[int, int, int]) -> list[str]:
    """What the change introduced; ``span`` is (first replaced line, last, lines added)."""
    if not relative.endswith((".py", ".pyi")):
        return []
    if ctx.lint is not None and getattr(ctx.lint, "checks_syntax", False):
        return introduced(ctx.lint(relative, original), ctx.lint(relative, updated), *span)
    new_error = syntax_error(updated, relative)
    if new_error and not syntax_error(original, relative):
        return [new_error]
    if ctx.lint is None or new_error:
        return []
    before = Counter(_strip_location(e) for e in ctx.lint(relative, original))
    new_errors = []
    for error in ctx.lint(relative, updated):
        key = _strip_location(error)
        if before[key] > 0:
            before[key] -= 1
        else:
            new_errors.append(error)
    return new_errors


def syntax_error(text: str, filename: str) -> str | None:
    try:
        compile(text, filename, "exec", dont_inherit=True)
    except SyntaxError as err:
        where = f"line {err.lineno}" + (f", column {err.offset}" if err.offset else "")
        return f"E999 {type(err).__name__}: {err.msg} ({where})"
    except ValueError as err:  # e.g. NUL bytes
        return f"E999 ValueError: {err}"
    return None


def _strip_location(error: str) -> str:
    # "file.py:3:5: F821 Undefined name `x`" -> "F821 Undefined name `x`"
    parts = error.split(": ", 1)
    return parts[1] if len(parts) == 2 and parts[0].count(":") >= 1 else error


def _snippet(lines: list[str], first: int, last: int) -> str:
    low = max(1, first - SNIPPET_CONTEXT)
    high = min(len(lines), max(last, first) + SNIPPET_CONTEXT)
    return "\n".join(f"{n}:{viewer.shown(lines[n - 1])}" for n in range(low, high + 1))


def _refusal(problems: list[str], display: str, original: list[str], proposed: list[str],
             start: int, end: int, added: int) -> str:
    bar = "-" * 49
    return "\n".join([
        "Your proposed edit has introduced new syntax error(s). Please read this error "
        "message carefully and then retry editing the file.",
        "",
        "ERRORS:",
        *(f"- {p}" for p in problems),
        "",
        "This is how your edit would have looked if applied",
        bar,
        f"[File: {display} ({len(proposed)} lines total)]",
        _snippet(proposed, start, start + added - 1),
        bar,
        "",
        "This is the original code before your edit",
        bar,
        f"[File: {display} ({len(original)} lines total)]",
        _snippet(original, start, end),
        bar,
        "Your changes have NOT been applied. Please fix your edit command and try again.",
        "You either need to 1) Specify the correct start/end line arguments or 2) Correct "
        "your edit code.",
        "DO NOT re-run the same failed edit command. Running it again will lead to the same "
        "error.",
    ])


def ruff_linter(select: str = LINT_SELECT) -> Callable[[str, str], list[str]] | None:
    """A linter for :attr:`ToolContext.lint` built on ruff, or None if ruff is missing."""
    candidates = [Path(sys.executable).with_name("ruff"), shutil.which("ruff")]
    binary = next((str(c) for c in candidates if c and os.access(c, os.X_OK)), None)
    if binary is None:
        return None

    def lint(filename: str, text: str) -> list[str]:
        proc = subprocess.run(
            [binary, "check", "--no-cache", "--isolated", "--select", select,
             "--output-format", "concise", "--stdin-filename", filename, "-"],
            input=text, capture_output=True, text=True, timeout=30,
        )
        if proc.returncode not in (0, 1):
            log.warning("ruff failed, edits are not linted: %s", proc.stderr.strip())
            return []
        return [line for line in proc.stdout.splitlines()
                if line.startswith(filename + ":")]

    return lint
