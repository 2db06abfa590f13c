"""Running one action: a tool call or a shell command, to an observation.

What a failing tool shows depends on who failed. A :class:`~aci.errors.ToolError`
is the tool talking to the model: its message is the observation. An
:class:`~aci.errors.AciError` (the harness's errors are ones) or an ``OSError`` from
the file API is the agent's mistake, shown as ``Error: ...``. Anything else is a bug
in the tool: the agent gets one line (type and message, no host path), the
operator's console one line, and the traceback goes on
:attr:`Outcome.error_detail` for the trajectory, never to a screen.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass

from aci.context import ToolContext
from aci.errors import AciError, ToolError, ToolUsageError
from aci.parsing import Action
from aci.registry import SHELL_TOOL_NAMES, ToolRegistry

log = logging.getLogger(__name__)

NO_OUTPUT = "Your command ran successfully and did not produce any output."

BLOCKED_COMMANDS = frozenset({
    "python", "python3", "ipython", "bash", "sh", "zsh", "/bin/bash", "/bin/sh", "vi", "vim",
    "nano", "emacs", "less", "more", "top", "htop", "su", "nohup", "jupyter", "gdb", "pdb",
})
"""Commands that start an interactive session and would hang until the timeout."""
BLOCKED_PREFIXES = ("vi ", "vim ", "nano ", "emacs ", "less ", "more ", "tail -f ", "watch ",
                    "top ", "htop ", "gdb ", "python -i", "python3 -i", "ipython ")


@dataclass(frozen=True)
class Outcome:
    """What one action produced."""

    observation: str
    tool: str | None
    """The tool's name, or None for a shell command."""
    exit_code: int | None = None
    """The shell command's exit code; 0 for a tool that ran, None on an error/timeout."""
    timed_out: bool = False
    elapsed_s: float = 0.0
    error_detail: str | None = None
    """The traceback of a tool that crashed (a bug, not a ToolError), for the
    trajectory; the agent and the console never see it. None otherwise."""


def blocked(command: str) -> bool:
    stripped = command.strip()
    return stripped in BLOCKED_COMMANDS or stripped.startswith(BLOCKED_PREFIXES)


def execute(registry: ToolRegistry, action: Action | str, ctx: ToolContext) -> Outcome:
    """Run ``action`` (a tool or a shell command) and return the observation."""
    started = time.monotonic()
    if isinstance(action, str):
        action = Action(command=action)
    name = action.tool_name or (action.command.split() or [""])[0]
    detail = None
    try:
        if action.tool_name is not None and action.tool_name not in SHELL_TOOL_NAMES:
            item = registry.get(action.tool_name)
            if item is None:
                raise ToolUsageError(
                    f"Unknown tool {action.tool_name!r}. Available tools: "
                    f"{', '.join(registry.names())}, or bash for a shell command.")
            arguments = item.bind(dict(action.arguments or {}))
        else:
            item, argline, body = registry.split_command(action.command)
            if item is not None:
                arguments = item.parse_command(argline, body)
        if item is None:
            return _shell(action.command, ctx, started)
        observation = item(ctx, **arguments)
        if not isinstance(observation, str):
            observation = "" if observation is None else str(observation)
        return Outcome(observation, item.name, 0, elapsed_s=time.monotonic() - started)
    except ToolError as err:  # the tool (or the argument parser) talking to the model
        text = str(err)
    except PermissionError as err:
        text = f"Error: {_safe(err, ctx)}. The file is read-only; you cannot change it."
    except FileNotFoundError as err:
        text = f"Error: {_safe(err, ctx)}"
    except AciError as err:
        text = ctx.hide_host_paths(str(err))
        text = text if text.startswith("Error") else f"Error: {text}"
    except Exception as err:  # noqa: BLE001 - a broken tool must not end the episode
        detail = traceback.format_exc()
        line = _one_line(f"{type(err).__name__}: {err}")
        log.warning("tool %s failed: %s (traceback kept in the step's error_detail)", name, line)
        text = f"Error: the tool {name} failed: {_one_line(_safe(err, ctx, type_name=True))}"
    return Outcome(text, name, None, elapsed_s=time.monotonic() - started, error_detail=detail)


def _safe(err: BaseException, ctx: ToolContext, *, type_name: bool = False) -> str:
    """An exception's message fit for the agent: no host path of any kind."""
    text = f"{type(err).__name__}: {err}" if type_name else str(err)
    return ctx.hide_host_paths(text, every_path=True)


def _one_line(text: str, limit: int = 500) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _shell(command: str, ctx: ToolContext, started: float) -> Outcome:
    if not command.strip():
        return Outcome("Error: empty command.", None, None)
    if blocked(command):
        return Outcome(
            f"Interactive operation '{command.strip()}' is not supported by this environment: "
            "it would wait for input forever. Run scripts non-interactively instead "
            "(python script.py, python -c '...').", None, None)
    if ctx.run is None:
        return Outcome("Error: this episode has no shell.", None, None)
    result = ctx.run(command, ctx.command_timeout)
    text = result.output.rstrip("\n")
    lowered = text.lower()
    if getattr(result, "timed_out", False) and "timed out" not in lowered:
        text += (f"\nEXECUTION TIMED OUT BECAUSE THE COMMAND RAN LONGER THAN "
                 f"{ctx.command_timeout:g} SECONDS. The command and its child processes were "
                 "killed.")
    elif getattr(result, "restarted", False) and "new shell" not in lowered:
        text += ("\n(The shell died and was restarted: the current directory, environment "
                 "variables and shell functions were reset.)")
    if not text.strip():
        text = NO_OUTPUT if result.exit_code == 0 else f"(no output; exit code {result.exit_code})"
    return Outcome(text.lstrip("\n"), None, result.exit_code,
                   timed_out=bool(getattr(result, "timed_out", False)),
                   elapsed_s=time.monotonic() - started)
