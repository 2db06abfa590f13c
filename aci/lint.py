"""MLGym's edit check: flake8 with a few codes, and only errors the edit introduced.

MLGym lints a Python file with flake8 before and after an ``edit``/``insert`` and
refuses the change when the second run shows an error the first did not. The codes
it selects catch what breaks a script outright, not style: undefined names (F821),
undefined names in ``__all__`` (F822), duplicate arguments (F831), indentation that
is not a multiple of four, missing or unexpected (E111-E113), syntax errors (E999)
and unreadable files (E902).

An error from before the edit is forgiven only where the edit cannot have caused it:
above the replaced lines, or below them with its line number shifted by the lines
the edit added. An error inside the replaced lines always counts, as in MLGym, so an
edit that touches a broken line must fix it.

flake8 runs on the host over the file's text, read from stdin: it parses the code
and never executes it, so the agent's file cannot run anything here.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

MLGYM_SELECT = "F821,F822,F831,E111,E112,E113,E999,E902"
"""The flake8 codes MLGym's edit and insert commands check."""


@dataclass(frozen=True)
class LintError:
    """One flake8 finding: ``line``, ``col`` and ``problem`` (``F821 undefined name 'x'``)."""

    line: int
    col: int
    problem: str

    @classmethod
    def parse(cls, text: str) -> LintError | None:
        """``file.py:3:5: F821 undefined name 'x'`` (the column may be missing); None if not one."""
        prefix, sep, problem = text.strip().partition(": ")
        if not sep:
            return None
        parts = prefix.rsplit(":", 2)
        try:
            if len(parts) == 3:
                return cls(int(parts[1]), int(parts[2]), problem)
            if len(parts) == 2:
                return cls(int(parts[1]), 0, problem)
        except ValueError:
            return None
        return None


class Flake8:
    """A linter for :attr:`aci.context.ToolContext.lint`: flake8 over a file's text.

    ``checks_syntax`` tells the edit tools that syntax errors come from here (E999),
    so no separate ``compile()`` check runs and messages read as MLGym's.
    """

    checks_syntax = True

    def __init__(self, select: str = MLGYM_SELECT, timeout: float = 60.0) -> None:
        self.select = select
        self.timeout = timeout

    def __call__(self, filename: str, text: str) -> list[str]:
        command = [sys.executable, "-m", "flake8", "--isolated", f"--select={self.select}",
                   "--stdin-display-name", filename, "-"]
        try:
            proc = subprocess.run(command, input=text, capture_output=True, text=True,
                                  timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            log.warning("flake8 did not run, the edit is not linted: %s", err)
            return []
        if proc.returncode not in (0, 1):
            log.warning("flake8 failed, the edit is not linted: %s", proc.stderr.strip()[:300])
            return []
        return [line for line in proc.stdout.splitlines() if line.strip()]


def flake8_available() -> bool:
    """Whether flake8 can be imported by this Python (it is a dependency of the package)."""
    try:
        import flake8  # noqa: F401
    except ImportError:
        return False
    return True


def introduced(before: Sequence[str], after: Sequence[str], start: int, end: int, added: int) -> list[str]:
    """The problems of ``after`` (flake8 lines) the edit of lines ``start..end`` introduced.

    ``added`` is the number of lines that replaced them (``end = start - 1`` for an
    insert). Each problem comes back as ``CODE message``, as MLGym lists them.
    """
    shift = added - (end - start + 1)
    forgiven = set()
    for text in before:
        error = LintError.parse(text)
        if error is None:
            continue
        if error.line < start:
            forgiven.add(error)
        elif error.line > end:
            forgiven.add(LintError(error.line + shift, error.col, error.problem))
    found = []
    for text in after:
        error = LintError.parse(text)
        if error is None:
            found.append(text.strip())
        elif error not in forgiven:
            found.append(error.problem)
    return found


__all__ = ["MLGYM_SELECT", "Flake8", "LintError", "flake8_available", "introduced"]
