"""The workspace files an MLGym run saw, rebuilt from what its trajectory showed.

A published run's edits address line numbers of the starter files *it* saw
(``edit 1:26`` replaces the first 26 lines of MLGym's strategy.py). Our tasks
ship starter files of their own, so replaying those edits on ours leaves stale
lines or cuts the wrong ones. But the trajectory itself recorded those files: the
viewer's output of ``open strategy.py`` is the whole file, numbered, with
``(N lines total)``. When a file was shown whole *before anything could have
changed it*, its text is known exactly (up to a final newline, which we assume),
and a replay can lay it over the fresh workspace before step 1, so that every
later edit lands where it landed in the run.

What counts as "before anything could have changed it": the steps up to the
first command that may write files (``python``, ``mv``, ``pip``, a redirection,
...). Until then, a successful ``edit`` changes only the open file and ``create``
only its own file, so files shown whole before their own first change are still
known. Files under ``data/`` are never rebuilt: the data are the task's.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

WORKSPACE = "/home/agent/workspace"
_HEADER = re.compile(r"\[File: (?P<path>[^\n]+?) \((?P<total>\d+) lines total\)\]")
_NUMBERED = re.compile(r"(\d+):(.*)")

READ_ONLY = frozenset({
    "ls", "open", "goto", "scroll_up", "scroll_down", "search_file", "search_dir", "find_file",
    "cat", "head", "tail", "wc", "pwd", "validate", "grep", "file", "stat", "du",
})
"""Commands that write no workspace file (when no redirection follows them)."""

_FAILED_EDIT = ("Your proposed edit has introduced", "Malformed edit command", "Usage: edit",
                "Error:", "No file open")


@dataclass
class RebuiltFiles:
    """The files a replay lays over the fresh workspace, and those it could not rebuild."""

    files: dict[str, str] = field(default_factory=dict)
    """Workspace-relative path -> the text the run saw (shown whole before any change)."""
    steps: dict[str, int] = field(default_factory=dict)
    """Path -> the step whose observation showed it."""
    not_rebuilt: dict[str, str] = field(default_factory=dict)
    """Path -> why its recorded text is unknown (shown in part, or only after a change)."""
    stopped_at: int | None = None
    """The first step whose command may have written files (None: none did)."""

    def summary(self) -> str:
        """One line: which files were rebuilt (with the step that showed them) and which not."""
        rebuilt = ", ".join(f"{p} (step {self.steps[p]}, {self.files[p].count(chr(10))} lines)"
                            for p in sorted(self.files)) or "none"
        missing = "; ".join(f"{p}: {why}" for p, why in sorted(self.not_rebuilt.items()))
        return f"rebuilt from the recording: {rebuilt}" + (f"; not rebuilt: {missing}" if missing else "")


def _relative(path: str, cwd: str = WORKSPACE) -> str | None:
    """The workspace-relative form of a path the run showed (None: outside the workspace)."""
    path = path.strip().strip("'\"")
    if not path.startswith("/"):
        path = f"{cwd}/{path}"
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    full = "/" + "/".join(parts)
    if not full.startswith(WORKSPACE + "/"):
        return None
    return full[len(WORKSPACE) + 1:]


def whole_file(observation: str) -> tuple[str, str] | None:
    """``(path, text)`` when the observation is the viewer showing one whole file.

    The header's ``(N lines total)`` must be followed by exactly lines 1..N, numbered,
    with no ``(... more lines above/below)``; the text gets a final newline.
    """
    match = _HEADER.search(observation)
    if match is None:
        return None
    total = int(match.group("total"))
    rest = observation[match.end():].split("\n")
    if rest and rest[0] == "":
        rest = rest[1:]
    lines = []
    for expected, line in zip(range(1, total + 1), rest, strict=False):
        numbered = _NUMBERED.fullmatch(line)
        if numbered is None or int(numbered.group(1)) != expected:
            return None
        lines.append(numbered.group(2))
    if len(lines) != total:
        return None
    trailing = [line for line in rest[total:] if line.strip()]
    if any(re.fullmatch(r"\(\d+ more lines (above|below)\)", line) for line in trailing):
        return None
    return match.group("path"), "".join(line + "\n" for line in lines)


def _words(action: str) -> list[str]:
    first = action.strip().split("\n", 1)[0]
    try:
        return shlex.split(first)
    except ValueError:
        return first.split()


def _may_write(action: str) -> bool:
    """Whether a command other than edit/create may write workspace files."""
    words = _words(action)
    if not words:
        return False
    first_line = action.strip().split("\n", 1)[0]
    if words[0] in READ_ONLY and not re.search(r">|\btee\b|-delete|-exec", first_line):
        return False
    return words[0] not in ("edit", "create", "submit")


def rebuild(steps: list[dict]) -> RebuiltFiles:
    """The files of an MLGym trajectory's workspace that its observations showed whole
    before any step could have changed them (see the module docstring)."""
    out = RebuiltFiles()
    changed: set[str] = set()
    current: str | None = None
    for number, step in enumerate(steps, 1):
        action = step.get("action") if isinstance(step.get("action"), str) else ""
        observation = step.get("observation") if isinstance(step.get("observation"), str) else ""
        words = _words(action)
        command = words[0] if words else ""
        if _may_write(action):
            out.stopped_at = number
            break
        viewer = command in ("open", "goto", "scroll_up", "scroll_down")
        header = _HEADER.search(observation) if viewer else None
        if header is not None and command == "open":
            current = _relative(header.group("path")) or current
        shown = whole_file(observation) if header is not None else None
        if shown is not None:
            path = _relative(shown[0])
            if path is not None and path not in changed and path not in out.files:
                if path == "data" or path.startswith("data/"):
                    out.not_rebuilt.setdefault(path, "data are the task's")
                else:
                    out.files[path] = shown[1]
                    out.steps[path] = number
                    out.not_rebuilt.pop(path, None)
        elif header is not None and command == "open" and current is not None and current not in out.files:
            out.not_rebuilt.setdefault(current, f"shown only in part at step {number} (the viewer's window)")
        if command == "create" and len(words) > 1:
            current = _relative(words[1])
            if current is not None:
                changed.add(current)
        elif command == "edit" and current is not None and not observation.lstrip().startswith(_FAILED_EDIT):
            changed.add(current)
    if out.stopped_at is not None:
        # Files the run showed whole only after a command that may have written them.
        for number, step in enumerate(steps[out.stopped_at - 1:], out.stopped_at):
            observation = step.get("observation") if isinstance(step.get("observation"), str) else ""
            shown = whole_file(observation) if _words(str(step.get("action") or ""))[:1] == ["open"] else None
            path = _relative(shown[0]) if shown else None
            if path and path not in out.files and path not in changed and not path.startswith("data/"):
                out.not_rebuilt.setdefault(
                    path, f"first shown whole at step {number}, after step {out.stopped_at} "
                          f"({_words(str(steps[out.stopped_at - 1].get('action') or ''))[0]}) may have changed it")
    return out
