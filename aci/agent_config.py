"""An MLGym agent configuration's templates, filled by our episodes.

A user holding MLGym (``configs/agents/*.yaml``) can run our episodes with its exact
prompts: ``--agent-config FILE`` reads the file's ``system_template``,
``task_template``, ``next_step_template``, ``next_step_no_output_template`` and
``format_error_template``, and ``tools.env_variables.WINDOW`` for the viewer. The
rest of the file (its bash tools, parser, history processor) is MLGym's machinery;
our tools, parser and history stand in for it.

The templates use Python's ``str.format`` placeholders, as MLGym fills them:
``{command_docs}``, ``{WINDOW}`` and the other tool variables, the task's
``{id}``, ``{name}``, ``{description}``, ``{training_timeout}``, ``{baseline_scores}``,
the shell's ``{open_file}`` and ``{working_dir}``, ``{current_step}``,
``{remaining_steps}`` and ``{observation}``. A placeholder we cannot fill is
refused when the file is read, in one line, so no episode starts with a broken
prompt.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aci.errors import AciError

TASK_FIELDS = ("id", "name", "description", "training_timeout", "baseline_scores")
TOOL_VARIABLES = ("WINDOW", "OVERLAP", "CURRENT_LINE", "CURRENT_FILE", "SEARCH_RESULTS", "SEARCH_FILES",
                  "SEARCH_INDEX")
STATE_FIELDS = ("open_file", "working_dir", "current_step", "remaining_steps", "observation")
KNOWN = frozenset({*TASK_FIELDS, *TOOL_VARIABLES, *STATE_FIELDS, "command_docs"})
"""Every placeholder a template may use."""
TEMPLATES = ("system_template", "task_template", "next_step_template", "next_step_no_output_template",
             "format_error_template")


class AgentConfigError(AciError):
    """An agent configuration file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class AgentTemplates:
    """The prompt templates of an MLGym agent configuration."""

    source: str
    system: str
    task: str
    next_step: str
    next_step_no_output: str
    format_error: str | None
    """None: our own format error message."""
    window: int | None
    """``tools.env_variables.WINDOW``, when the file sets it."""

    def fill(self, template: str, values: Mapping[str, Any]) -> str:
        """``template`` with its placeholders replaced (all known: checked at load)."""
        return template.format_map(dict(values))


def load_agent_config(path: str | Path) -> AgentTemplates:
    """Read an MLGym agent configuration; a missing or malformed file is one line."""
    import yaml

    path = Path(path)
    where = f"--agent-config {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgentConfigError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise AgentConfigError(f"{where}: cannot read it ({getattr(err, 'strerror', None) or err})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise AgentConfigError(f"{where}: not valid YAML{at}") from None
    if not isinstance(data, dict):
        raise AgentConfigError(f"{where}: expected a mapping of MLGym agent settings (system_template, "
                               "task_template, ...)")
    for key in ("system_template", "task_template"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise AgentConfigError(f"{where}: '{key}' is missing (an MLGym agent config has system_template "
                                   "and task_template)")
    texts: dict[str, str | None] = {}
    for key in TEMPLATES:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise AgentConfigError(f"{where}: '{key}' must be text, not {type(value).__name__}")
        if value is not None:
            _check_placeholders(where, key, value)
        texts[key] = value
    next_step = texts["next_step_template"] or texts["task_template"]  # MLGym's fallbacks
    return AgentTemplates(
        source=str(path), system=texts["system_template"], task=texts["task_template"],
        next_step=next_step, next_step_no_output=texts["next_step_no_output_template"] or next_step,
        format_error=texts["format_error_template"], window=_window(where, data),
    )


def _check_placeholders(where: str, key: str, text: str) -> None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as err:
        raise AgentConfigError(f"{where}: '{key}' is not a valid template ({err}); write a literal brace "
                               "as {{ or }}") from None
    for name in fields:
        base = name.split(".")[0].split("[")[0]
        if base not in KNOWN:
            raise AgentConfigError(f"{where}: '{key}' uses {{{name}}}, which this harness cannot fill; "
                                   f"the placeholders are {', '.join(sorted(KNOWN))}")


def _window(where: str, data: dict) -> int | None:
    tools = data.get("tools")
    variables = tools.get("env_variables") if isinstance(tools, dict) else None
    value = variables.get("WINDOW") if isinstance(variables, dict) else None
    if value is None:
        return None
    try:
        window = int(value)
    except (TypeError, ValueError):
        window = 0
    if window <= 0:
        raise AgentConfigError(f"{where}: tools.env_variables.WINDOW must be a positive number of lines, "
                               f"not {value!r}")
    return window


__all__ = ["AgentConfigError", "AgentTemplates", "KNOWN", "load_agent_config"]
