"""Tools as decorated functions, and the registry that finds and runs them.

A tool is one function whose first parameter is the :class:`~aci.context.ToolContext`
and whose other parameters are its arguments::

    @tool
    def count_lines(ctx, path: str) -> str:
        \"\"\"Count the lines of a file in the workspace.

        Args:
            path: the file to count
        \"\"\"
        return str(len(ctx.files.read_text(path).splitlines()))

The signature is the argument parser (``count_lines "my file.txt"``), the docstring
the documentation the model reads. Tools come from three sources, in this order:
the built-ins in :mod:`aci.tools`, the ``harness.tools`` entry-point group of any
installed package, and files given with ``--tools path.py``. Two tools with the same
name are an error naming both sources.

Argument types come from the annotations (:mod:`aci.arguments` says which are
supported); a tool whose annotation a model cannot send is refused here, when it is
decorated, not in the middle of an episode. A tool tells the model about a mistake
by raising :class:`~aci.errors.ToolError`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import re
import shlex
import sys
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aci.arguments import SUPPORTED, Param, UnsupportedAnnotation, arg_type
from aci.errors import ToolClashError, ToolDefinitionError, ToolError, ToolUsageError

__all__ = [
    "ENTRY_POINT_GROUP", "SHELL_TOOL_NAMES", "Tool", "ToolClashError", "ToolDefinitionError",
    "ToolError", "ToolRegistry", "ToolUsageError", "tool", "tools_in",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "harness.tools"
BUILTIN_MODULE = "aci.tools"
SHELL_TOOL_NAMES = ("bash", "shell", "run", "execute_bash", "run_command", "terminal")
"""Tool-call names that mean "run this shell command" (``{"command": ...}``)."""


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s*(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {param: doc}) from a Google-style docstring."""
    text = inspect.cleandoc(doc or "")
    description: list[str] = []
    params: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in text.splitlines():
        if _ARGS_HEADER.match(line):
            in_args = True
            continue
        if in_args:
            if line and not line.startswith((" ", "\t")):
                in_args = False  # a new section or trailing prose
            else:
                match = _ARG_LINE.match(line)
                indent = len(line) - len(line.lstrip())
                if match and (current is None or indent <= 4):
                    current = match.group(1)
                    params[current] = match.group(3).strip()
                elif current and line.strip():
                    params[current] = f"{params[current]} {line.strip()}".strip()
                continue
        description.append(line)
    return "\n".join(description).strip(), params


class Tool:
    """A function the agent can call by name; made by :func:`tool`."""

    def __init__(
        self,
        func: Callable[..., str],
        *,
        name: str | None = None,
        usage: str | None = None,
        end_marker: str | None = None,
        parse: Callable[[str], dict[str, Any]] | None = None,
        render: Callable[[dict[str, Any]], str] | None = None,
        rest: bool = False,
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", self.name):
            raise ToolDefinitionError(
                f"tool name {self.name!r} must be one word of letters, digits, _ or -")
        self.description, param_docs = _parse_docstring(func.__doc__)
        if not self.description:
            raise ToolDefinitionError(
                f"tool {self.name!r} ({_where(func)}) has no docstring: the docstring is the "
                "documentation the model reads, so write one"
            )
        signature = inspect.signature(func)
        parameters = list(signature.parameters.values())
        if not parameters or parameters[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise ToolDefinitionError(
                f"tool {self.name!r} ({_where(func)}) must take the tool context as its first "
                "parameter: def my_tool(ctx, ...)"
            )
        hints = _type_hints(func)
        self.params: list[Param] = []
        for parameter in parameters[1:]:
            if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise ToolDefinitionError(
                    f"tool {self.name!r}: *args and **kwargs are not supported")
            annotation = hints.get(parameter.name, parameter.annotation)
            if annotation is inspect.Parameter.empty:
                annotation = str  # an unannotated argument is a string
            try:
                kind = arg_type(annotation)
            except UnsupportedAnnotation as err:
                raise ToolDefinitionError(
                    f"tool {self.name!r} ({_where(func)}): parameter {parameter.name!r} has an "
                    f"unsupported type {err}; use {SUPPORTED}") from None
            required = parameter.default is inspect.Parameter.empty
            self.params.append(
                Param(
                    parameter.name,
                    kind,
                    required,
                    None if required else parameter.default,
                    param_docs.get(parameter.name, ""),
                )
            )
        self.end_marker = end_marker
        self.rest = rest
        self._parse = parse
        self._render = render
        self._usage = usage
        if end_marker and (not self.params or self.params[-1].kind.annotation is not str):
            raise ToolDefinitionError(
                f"tool {self.name!r}: its last parameter must be the body (a str)")
        self.source = _where(func)
        """Where the tool came from; set by the registry when it is loaded."""
        functools_wraps(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<tool {self.name} from {self.source}>"

    # -- documentation -------------------------------------------------------------

    @property
    def body_param(self) -> Param | None:
        return self.params[-1] if self.end_marker else None

    @property
    def line_params(self) -> list[Param]:
        return self.params[:-1] if self.end_marker else self.params

    def usage(self) -> str:
        """The command syntax, e.g. ``open "<path>" [<line_number>]``."""
        if self._usage:
            head = self._usage
        else:
            parts = [self.name]
            for param in self.line_params:
                shown = f'"<{param.name}>"' if param.name == "path" else f"<{param.name}>"
                parts.append(shown if param.required else f"[{shown}]")
            head = " ".join(parts)
        if self.end_marker and self.body_param:
            return f"{head}\n<{self.body_param.name}>\n{self.end_marker}"
        return head

    def usage_text(self) -> str:
        return f"Usage: {self.usage()}\n{self.description.splitlines()[0]}"

    def doc(self) -> str:
        """The tool's entry in the system prompt (SWE-agent's command-docs layout)."""
        lines = [f"{self.name}:", f"  docstring: {_one_line(self.description)}"]
        lines.append(f"  signature: {self.usage()}")
        if self.params:
            lines.append("  arguments:")
            for param in self.params:
                need = "required" if param.required else "optional"
                text = f" {param.doc}" if param.doc else ""
                lines.append(f"    - {param.name} ({param.kind.type_name()}) [{need}]:{text}")
        return "\n".join(lines)

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-calling schema of this tool."""
        properties = {param.name: param.schema() for param in self.params}
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": properties,
                    "required": [p.name for p in self.params if p.required],
                },
            },
        }

    # -- arguments -----------------------------------------------------------------

    def parse_command(self, argline: str, body: str | None) -> dict[str, Any]:
        """Arguments from the text after the tool's name (and the body, if any)."""
        argline = argline.strip()
        line_params = self.line_params
        if self._parse is not None:
            try:
                values = dict(self._parse(argline))
            except ToolUsageError:
                raise
            except (ValueError, TypeError) as err:
                raise ToolUsageError(f"{self.name}: {err}\n{self.usage_text()}") from None
        elif self.rest and line_params:
            head = line_params[:-1]
            tokens = _split(argline, maxsplit=len(head)) if head else []
            remainder = argline
            if head:
                if len(tokens) <= len(head):
                    remainder = ""
                else:
                    remainder = tokens.pop()
            values = dict(zip((p.name for p in head), tokens, strict=False))
            remainder = _unquote(remainder.strip())
            if remainder:
                values[line_params[-1].name] = remainder
        else:
            tokens = _split(argline)
            if len(tokens) > len(line_params):
                raise ToolUsageError(
                    f"{self.name} takes at most {len(line_params)} argument(s) but got "
                    f"{len(tokens)}: {tokens!r}. Quote arguments that contain spaces.\n"
                    f"{self.usage_text()}"
                )
            values = dict(zip((p.name for p in line_params), tokens, strict=False))
        if self.end_marker and self.body_param:
            values[self.body_param.name] = body if body is not None else ""
        return self.bind(values)

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        """Check and convert named arguments (from a command line or a JSON tool call)."""
        known = {p.name for p in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ToolUsageError(
                f"{self.name} has no argument(s) {', '.join(unknown)}.\n{self.usage_text()}"
            )
        bound: dict[str, Any] = {}
        for param in self.params:
            if param.name in values and values[param.name] is not None:
                bound[param.name] = param.convert(values[param.name], self.name, self.usage_text())
            elif param.required:
                raise ToolUsageError(
                    f"{self.name}: missing argument <{param.name}>.\n{self.usage_text()}"
                )
            else:
                bound[param.name] = param.default
        return bound

    def render(self, arguments: dict[str, Any]) -> str:
        """The command text for named arguments, as the agent would have typed it."""
        if self._render is not None:
            head = f"{self.name} {self._render(arguments)}".rstrip()
        else:
            parts = [self.name]
            for param in self.line_params:
                value = arguments.get(param.name)
                if value is not None:
                    parts.append(param.kind.text(value))
            head = " ".join(parts)
        if self.end_marker and self.body_param:
            body = str(arguments.get(self.body_param.name) or "")
            body = body if not body or body.endswith("\n") else body + "\n"
            return f"{head}\n{body}{self.end_marker}"
        return head


def _reason(err: Exception) -> str:
    """Why a tool source failed to load: a refused tool says so itself."""
    if isinstance(err, ToolDefinitionError):
        return str(err)
    return f"importing it failed: {type(err).__name__}: {err}"


def _type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``func``, one parameter at a time if need be.

    ``typing.get_type_hints`` fails as a whole when one name is missing at run time
    (``ctx: ToolContext`` imported under ``TYPE_CHECKING`` only); the context's
    annotation is never used, so the others are resolved one by one and a name
    still missing is left a string, which the argument check refuses by name.
    """
    try:
        return typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - any failure: resolve what can be resolved
        pass
    namespace = getattr(func, "__globals__", {})
    hints: dict[str, Any] = {}
    for name, annotation in inspect.get_annotations(func).items():
        if isinstance(annotation, str):
            try:  # what get_type_hints and inspect.get_annotations(eval_str=True) do
                annotation = eval(annotation, namespace)  # the tool module's own source text
            except Exception:  # noqa: BLE001 - left unresolved, refused if it is an argument
                pass
        hints[name] = annotation
    return hints


def functools_wraps(wrapper: Tool, func: Callable[..., Any]) -> None:
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(wrapper, attribute, getattr(func, attribute))
        except AttributeError:
            pass


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _where(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None) or "?"
    try:
        filename = inspect.getsourcefile(func)
    except TypeError:
        filename = None
    if module.startswith("_harness_tools_file_") and filename:
        return f"file {filename}"
    return f"module {module}"


def _split(argline: str, maxsplit: int = -1) -> list[str]:
    """shlex-like split; unbalanced quotes fall back to whitespace splitting."""
    if maxsplit >= 0:
        # Split off the first `maxsplit` shell words; keep the remainder raw.
        lexer = shlex.shlex(argline, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        tokens: list[str] = []
        try:
            while len(tokens) < maxsplit:
                token = lexer.get_token()
                if token is None or token == lexer.eof:
                    break
                tokens.append(token)
            remainder = lexer.instream.read()
        except ValueError:
            parts = argline.split(None, maxsplit)
            return parts
        if remainder.strip():
            tokens.append(remainder)
        return tokens
    try:
        return shlex.split(argline)
    except ValueError:
        return argline.split()


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def tool(
    func: Callable[..., str] | None = None,
    *,
    name: str | None = None,
    usage: str | None = None,
    end_marker: str | None = None,
    parse: Callable[[str], dict[str, Any]] | None = None,
    render: Callable[[dict[str, Any]], str] | None = None,
    rest: bool = False,
) -> Any:
    """Make a function a tool: ``@tool`` or ``@tool(name=..., ...)``.

    name: the command name (default: the function's name).
    usage: the syntax line shown to the model, when the generated one won't do.
    end_marker: the tool takes a multi-line body ending with this line (its last
        parameter receives the body), like ``edit`` ... ``end_of_edit``.
    parse: a function argline -> dict of arguments, for syntax shlex can't express.
    render: the inverse of ``parse`` (arguments -> argline), for recording tool calls.
    rest: the last parameter takes the rest of the line verbatim (``memory_write``).
    """

    def wrap(f: Callable[..., str]) -> Tool:
        return Tool(f, name=name, usage=usage, end_marker=end_marker, parse=parse,
                    render=render, rest=rest)

    return wrap(func) if func is not None else wrap


def tools_in(obj: Any) -> list[Tool]:
    """The tools a module, a Tool, a list of tools or a plain function provides."""
    if isinstance(obj, Tool):
        return [obj]
    if isinstance(obj, types.ModuleType):
        found = [value for value in vars(obj).values() if isinstance(value, Tool)]
        # A module's tools are those it defines or deliberately re-exports, in order.
        exported = getattr(obj, "__all__", None)
        if exported is not None:
            found = [getattr(obj, n) for n in exported if isinstance(getattr(obj, n, None), Tool)]
        return found
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in tools_in(item)]
    if callable(obj) and obj.__doc__:
        return [Tool(obj)]
    raise ToolDefinitionError(f"{obj!r} is not a tool, a list of tools or a module of tools")


class ToolRegistry:
    """The tools of one episode, by name."""

    def __init__(self, tools: Iterable[Tool] = (), source: str | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item, source)

    # -- building ------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        tool_files: Iterable[str | Path] = (),
        *,
        builtins: bool = True,
        entry_points: bool = True,
        exclude: Iterable[str] = (),
    ) -> ToolRegistry:
        """Built-ins, then the ``harness.tools`` entry points, then ``--tools`` files.

        ``exclude`` names built-in tools to leave out (e.g. memory tools when memory
        is off, or ``validate`` for a task without a scorer).
        """
        registry = cls()
        if builtins:
            registry.add_module(BUILTIN_MODULE, source=f"built-in ({BUILTIN_MODULE})")
            for name in exclude:
                registry._tools.pop(name, None)
        if entry_points:
            registry.add_entry_points()
        for path in tool_files:
            registry.add_file(path)
        return registry

    def add(self, item: Tool, source: str | None = None) -> None:
        if not isinstance(item, Tool):
            item = Tool(item)
        if source:
            item.source = source
        existing = self._tools.get(item.name)
        if existing is not None and existing is not item:
            raise ToolClashError(
                f"two tools are named {item.name!r}: one from {existing.source}, one from "
                f"{item.source}; rename one of them (@tool(name=...)) or leave one source out"
            )
        self._tools[item.name] = item

    def add_module(self, module: str | types.ModuleType, source: str | None = None) -> None:
        if isinstance(module, str):
            module = importlib.import_module(module)
        for item in tools_in(module):
            self.add(item, source or f"module {module.__name__}")

    def add_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        import importlib.metadata  # 10+ ms, needed only when tools are loaded

        for entry in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
            dist = getattr(entry, "dist", None)
            package = f" of package {dist.name}" if dist is not None else ""
            source = f"entry point {entry.name} = {entry.value}{package}"
            try:
                loaded = entry.load()
            except Exception as err:  # noqa: BLE001 - name the broken plugin
                raise ToolDefinitionError(
                    f"cannot load tools from {source}: {_reason(err)}") from err
            for item in tools_in(loaded):
                self.add(item, source)

    def add_file(self, path: str | Path) -> None:
        path = Path(path).expanduser().resolve()
        if not path.is_file():
            raise ToolDefinitionError(f"--tools {path}: no such file; give the path of a Python file")
        module_name = f"_harness_tools_file_{abs(hash(str(path)))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ToolDefinitionError(f"--tools {path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as err:
            sys.modules.pop(module_name, None)
            raise ToolDefinitionError(f"--tools {path}: {_reason(err)}") from err
        tools = tools_in(module)
        if not tools:
            raise ToolDefinitionError(f"--tools {path}: defines no @tool functions")
        for item in tools:
            self.add(item, f"file {path}")

    # -- lookup --------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self):
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def end_markers(self) -> dict[str, str]:
        return {t.name: t.end_marker for t in self._tools.values() if t.end_marker}

    def docs(self) -> str:
        """All tools' documentation for the system prompt."""
        return "\n".join(t.doc() for t in self._tools.values())

    def tool_schemas(self, shell: bool = True) -> list[dict[str, Any]]:
        """OpenAI function-calling schemas; ``shell`` adds a ``bash`` tool for commands."""
        schemas = [t.schema() for t in self._tools.values()]
        if shell and "bash" not in self._tools:
            schemas.append({
                "type": "function",
                "function": {
                    "name": "bash",
                    "description": "Run a shell command in the workspace and return its output.",
                    "parameters": {
                        "type": "object",
                        "properties": {"command": {"type": "string",
                                                   "description": "the command to run"}},
                        "required": ["command"],
                    },
                },
            })
        return schemas

    def split_command(self, command: str) -> tuple[Tool | None, str, str | None]:
        """(tool or None for a shell command, argline, body) of a command text."""
        stripped = command.strip("\n")
        first_line, _, remainder = stripped.partition("\n")
        words = first_line.split(None, 1)
        if not words or words[0] not in self._tools:
            return None, stripped, None
        item = self._tools[words[0]]
        argline = words[1] if len(words) > 1 else ""
        if not item.end_marker:
            if remainder.strip():
                raise ToolUsageError(
                    f"{item.name} takes one line, but the command continues on the next "
                    f"line. Send one command per reply.\n{item.usage_text()}"
                )
            return item, argline, None
        body_lines = remainder.split("\n") if remainder else []
        for index, line in enumerate(body_lines):
            if line.strip() == item.end_marker:
                after = "\n".join(body_lines[index + 1:]).strip()
                if after:
                    raise ToolUsageError(
                        f"Text follows {item.end_marker}: {after.splitlines()[0]!r}. Send one "
                        f"command per reply.\n{item.usage_text()}"
                    )
                body_lines = body_lines[:index]
                break
        body = "\n".join(body_lines) + ("\n" if body_lines else "")
        return item, argline, body
