"""Reading the one action out of a model's reply.

The MLGym format: a short discussion, then exactly one command in a fenced code
block. A multi-line command (``edit 3:5`` ... ``end_of_edit``) lives inside that
one block, and code fences inside its body do not end the block. Models that
answer with OpenAI-style tool calls are understood too. Anything else is a
:class:`FormatError` whose ``observation`` tells the model the expected form.
``<think>...</think>`` reasoning is kept as thought and never searched for commands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aci.prompts import format_error_message

if TYPE_CHECKING:
    from aci.registry import ToolRegistry

_THINK = re.compile(r"<think(?:ing)?>(.*?)(?:</think(?:ing)?>|\Z)", re.DOTALL | re.IGNORECASE)
_OPEN_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$")


@dataclass(frozen=True)
class Action:
    """One thing the agent asked for."""

    command: str
    """The command as typed (for a tool call, as it would have been typed)."""
    thought: str = ""
    """The discussion around the command (and any <think> reasoning)."""
    tool_name: str | None = None
    """Set for a structured tool call: run this tool with ``arguments``."""
    arguments: dict[str, Any] | None = field(default=None, compare=False)
    tool_call_id: str | None = None


class FormatError(Exception):
    """A reply without exactly one command; ``observation`` is what the model sees next."""

    def __init__(self, reason: str, observation: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.observation = observation or format_error_message(reason)


def parse_reply(
    text: str | None,
    tool_calls: Sequence[Any] | None = None,
    registry: ToolRegistry | Mapping[str, str] | None = None,
) -> Action:
    """The action in a model reply; raises FormatError when there isn't exactly one.

    ``registry`` supplies the tools' end markers (``edit`` -> ``end_of_edit``) so that
    a fence inside an edit's body does not end the block, and renders tool calls as
    commands; a plain mapping of name -> end marker works too.
    """
    text = text or ""
    if tool_calls:
        return _from_tool_calls(text, tool_calls, registry)
    markers: Mapping[str, str]
    if registry is None:
        markers = {"edit": "end_of_edit", "insert": "end_of_insert"}
    elif isinstance(registry, Mapping):
        markers = registry
    else:
        markers = registry.end_markers()
    thinking = [m.group(1).strip() for m in _THINK.finditer(text)]
    visible = _THINK.sub("", text)
    blocks, outside = find_blocks(visible, markers)
    if not blocks:
        raise FormatError("your reply has no command in a fenced code block")
    if len(blocks) > 1:
        raise FormatError(
            f"your reply has {len(blocks)} fenced code blocks; send exactly one command per reply")
    command = blocks[0].strip("\n")
    if not command.strip():
        raise FormatError("the code block of your reply is empty")
    thought = "\n\n".join(part for part in (*thinking, outside.strip()) if part)
    return Action(command=command.lstrip(), thought=thought)


def find_blocks(text: str, end_markers: Mapping[str, str]) -> tuple[list[str], str]:
    """(contents of the fenced blocks, the text outside them).

    Raises FormatError for a block that is never closed (a reply cut off mid-command
    must not run half an edit).
    """
    lines = text.split("\n")
    blocks: list[str] = []
    outside: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPEN_FENCE.match(lines[i])
        if not match:
            outside.append(lines[i])
            i += 1
            continue
        fence = match.group(1)
        content, i_next, closed = _scan(lines, i + 1, fence, end_markers)
        if not closed:  # e.g. no end_of_edit: let fences close the block after all
            content, i_next, closed = _scan(lines, i + 1, fence, {})
        if not closed:
            raise FormatError(f"your code block is not closed: end it with a line {fence}")
        blocks.append("\n".join(content))
        i = i_next
    return blocks, "\n".join(outside)


def _scan(lines: list[str], start: int, fence: str,
          end_markers: Mapping[str, str]) -> tuple[list[str], int, bool]:
    """(block lines, index after the closing fence, closed)."""
    content: list[str] = []
    body_marker: str | None = None
    seen_command = False
    j = start
    while j < len(lines):
        line = lines[j]
        stripped = line.strip()
        j += 1
        if body_marker is not None:
            content.append(line)
            if stripped == body_marker:
                body_marker = None
            continue
        if _closes(stripped, fence):
            return content, j, True
        if not seen_command and stripped:
            seen_command = True
            body_marker = end_markers.get(stripped.split()[0])
        content.append(line)
    return content, j, False


def _closes(stripped: str, fence: str) -> bool:
    return len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)


def _call_parts(call: Any) -> tuple[str, Any, str | None]:
    if isinstance(call, Mapping):
        function = call.get("function") or call
        return function.get("name", ""), function.get("arguments"), call.get("id")
    function = getattr(call, "function", call)
    return getattr(function, "name", ""), getattr(function, "arguments", None), getattr(call, "id", None)


def _from_tool_calls(text: str, tool_calls: Sequence[Any], registry: Any) -> Action:
    from aci.errors import ToolUsageError
    from aci.registry import SHELL_TOOL_NAMES

    if len(tool_calls) != 1:
        raise FormatError(f"you made {len(tool_calls)} tool calls at once; make exactly one "
                          "tool call per reply and wait for its result")
    name, raw, call_id = _call_parts(tool_calls[0])
    if isinstance(raw, str):
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as err:
            raise FormatError(f"the arguments of your {name} call are not valid JSON ({err})") from None
    else:
        arguments = dict(raw or {})
    if not isinstance(arguments, dict):
        raise FormatError(f"the arguments of your {name} call must be a JSON object")
    thought = _THINK.sub(lambda m: m.group(1), text).strip()
    if name in SHELL_TOOL_NAMES and (registry is None or name not in registry):
        command = arguments.get("command", arguments.get("cmd"))
        if not isinstance(command, str) or not command.strip():
            raise FormatError(f'a {name} call needs {{"command": "<shell command>"}}')
        return Action(command=command, thought=thought, tool_call_id=call_id)
    command = f"{name} {json.dumps(arguments)}" if arguments else name
    if registry is not None and not isinstance(registry, Mapping):
        item = registry.get(name)
        if item is None:
            raise FormatError(f"there is no tool named {name!r}; the tools are "
                              f"{', '.join(registry.names())} and bash (a shell command)")
        try:
            command = item.render(item.bind(arguments))
        except ToolUsageError:
            pass  # execute() reports the usage error to the agent
    return Action(command=command, thought=thought, tool_name=name, arguments=arguments,
                  tool_call_id=call_id)
