"""The agent–computer interface: tools, action parsing, limits, history, prompts.

One step of an episode, with the names this package exports::

    action = parse_reply(reply.text, reply.tool_calls, registry)   # or FormatError
    outcome = execute(registry, action, ctx)                       # tool or shell
    messages.append({"role": "user", "content": outcome.observation})
    view, tokens = history.view(messages)
    status = ctx.exit_status or budget.exceeded(tokens)

``aci`` imports nothing from ``harness``: what it needs from outside (files, shell,
scorer, memory, token counter) is stated in :mod:`aci.protocols`, its errors in
:mod:`aci.errors`. A custom tool imports only ``aci``.
"""

from aci.context import ScoreFailure, ScoreRecord, ToolContext
from aci.errors import (
    AciError,
    ToolClashError,
    ToolDefinitionError,
    ToolError,
    ToolUsageError,
)
from aci.execute import Outcome, execute
from aci.history import History
from aci.limits import (
    AUTOSUBMIT_COST,
    AUTOSUBMIT_STEPS,
    EXIT_CONTEXT,
    EXIT_ERROR,
    EXIT_FORMAT,
    EXIT_STATUSES,
    EXIT_WALL_TIME,
    INTERRUPTED,
    SUBMITTED,
    Budget,
    ended_by_agent,
    is_autosubmission,
    mlgym_status,
)
from aci.parsing import Action, FormatError, parse_reply
from aci.profiles import PROFILES, AciProfile, get_profile
from aci.prompts import Prompts, format_error_message, next_step, system_prompt, task_prompt
from aci.registry import Tool, ToolRegistry, tool

__all__ = [
    "AUTOSUBMIT_COST",
    "AciError",
    "AciProfile",
    "AUTOSUBMIT_STEPS",
    "Action",
    "Budget",
    "EXIT_CONTEXT",
    "EXIT_ERROR",
    "EXIT_FORMAT",
    "EXIT_STATUSES",
    "EXIT_WALL_TIME",
    "FormatError",
    "History",
    "INTERRUPTED",
    "Outcome",
    "PROFILES",
    "Prompts",
    "SUBMITTED",
    "ScoreFailure",
    "ScoreRecord",
    "Tool",
    "ToolClashError",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "ToolRegistry",
    "ToolUsageError",
    "ended_by_agent",
    "execute",
    "format_error_message",
    "get_profile",
    "is_autosubmission",
    "mlgym_status",
    "next_step",
    "parse_reply",
    "system_prompt",
    "task_prompt",
    "tool",
]
