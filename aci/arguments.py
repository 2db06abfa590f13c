"""A tool's arguments from its type hints: what each accepts, its schema, its parser.

The model sends arguments two ways: as words on a command line (``plot "a b.csv" 3``)
or as JSON in a native tool call. Both go through one pydantic validator per
argument, built from the parameter's annotation when ``@tool`` decorates the
function, and the same annotation gives the JSON schema the model sees.

Supported annotations (anything else is refused at decoration, naming the tool and
the parameter, because a model cannot send it and the tool would fail at call time):

* ``str``, ``int``, ``float``, ``bool`` (no annotation means ``str``);
* ``Literal["a", "b"]`` or ``Literal[1, 2]`` (values of one type, str or int);
* an ``Enum`` whose values are all str or all int (the tool receives the member;
  the model may type the value or the member's name);
* ``list[X]`` of any of the above; on a command line one word, comma-separated
  (``loss,acc``) or a JSON array (``'["a b", "c"]'``);
* ``X | None`` / ``Optional[X]`` of any of the above.

A default makes the argument optional and is shown in the schema.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from typing import TYPE_CHECKING, Any, Literal

from aci.errors import ToolUsageError

if TYPE_CHECKING:
    from pydantic import TypeAdapter

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_PLURALS = {"string": "strings", "integer": "integers", "number": "numbers",
            "boolean": "booleans"}
_NEEDS_QUOTES = re.compile(r"[\s\"'\\]")
SUPPORTED = ("str, int, float, bool, Literal[...] of str or int, an Enum, list[...] of "
             "those, or X | None")
"""The supported annotations, as the refusal names them."""


class UnsupportedAnnotation(TypeError):
    """An annotation no model can send; ``str(err)`` says what it was."""


class ArgType:
    """What one argument accepts: a scalar, a choice (Literal/Enum) or a list of one.

    ``item`` is the scalar type, the ``Literal`` or the Enum class; ``is_list`` says
    whether the argument is a list of those; ``nullable`` whether ``None`` was in the
    annotation. ``adapter`` validates the value without the ``None``.
    """

    def __init__(self, annotation: Any) -> None:
        self.annotation = annotation
        inner, self.nullable = _strip_none(annotation)
        self.is_list = typing.get_origin(inner) is list
        if inner is list:
            raise UnsupportedAnnotation("list without an item type (write list[str])")
        self.item = typing.get_args(inner)[0] if self.is_list else inner
        self.choices: tuple[Any, ...] | None = _choices(self.item)
        if self.choices is None and self.item not in _SCALARS:
            raise UnsupportedAnnotation(_name(annotation))
        # pydantic loads with the first tool, not with ``import aci``: every harness
        # command imports aci (its errors), few of them make tools.
        from pydantic import TypeAdapter

        try:
            self.adapter: TypeAdapter[Any] = TypeAdapter(inner)
        except Exception as err:  # noqa: BLE001 - pydantic's many ways to refuse a type
            raise UnsupportedAnnotation(f"{_name(annotation)} ({type(err).__name__})") from None

    # -- describing ----------------------------------------------------------------

    def type_name(self) -> str:
        """For the tool's documentation: ``integer``, ``list of strings``, ``one of: a, b``."""
        if self.choices is not None:
            single = "one of: " + ", ".join(str(v) for v in self.choices)
        else:
            single = _SCALARS[self.item]
        if not self.is_list:
            return single
        return f"list of {_PLURALS.get(single, single)}"

    def expected(self) -> str:
        """For an error message: ``an integer``, ``one of 'a', 'b'``, ``a list of ...``."""
        if self.choices is not None:
            single = "one of " + ", ".join(repr(v) for v in self.choices)
        else:
            single = _article(_SCALARS[self.item])
        if not self.is_list:
            return single
        items = _PLURALS[_SCALARS[self.item]] if self.choices is None else f"items {single}"
        return f"a list of {items} (comma-separated, or a JSON array)"

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the value (``None`` left out: optional means omit it)."""
        schema = self.adapter.json_schema()
        return _inline(schema, schema.pop("$defs", {}))

    # -- converting ----------------------------------------------------------------

    def convert(self, value: Any) -> Any:
        """The value the tool receives; raises ValueError with pydantic's reason."""
        from pydantic import ValidationError

        if self.is_list:
            value = [self._prepare(v) for v in _items(value)]
        else:
            value = self._prepare(value)
        try:
            return self.adapter.validate_python(value)
        except ValidationError as err:
            raise ValueError(err.errors()[0]["msg"]) from None

    def _prepare(self, value: Any) -> Any:
        """Lax conversions pydantic does not make: numbers to str, words to choices."""
        if self.item is str and isinstance(value, (int, float)):
            return str(value)
        if self.choices is None or not isinstance(value, str):
            return value
        word = value.strip()
        for choice in self.choices:
            if word == str(choice):
                return choice
        if isinstance(self.item, type) and issubclass(self.item, enum.Enum):
            member = self.item.__members__.get(word)
            if member is not None:
                return member
        return value

    def text(self, value: Any) -> str:
        """A value as one command-line word, so that :meth:`convert` reads it back."""
        if self.is_list:
            items = [str(_plain(v)) for v in value]
            if all(item and not _NEEDS_QUOTES.search(item) and "," not in item for item in items):
                return ",".join(items)
            return _quote(json.dumps([_plain(v) for v in value]))
        return _quote(str(_plain(value)))


def arg_type(annotation: Any) -> ArgType:
    """The :class:`ArgType` of an annotation; raises UnsupportedAnnotation."""
    if annotation is typing.Any or isinstance(annotation, (str, typing.ForwardRef)):
        raise UnsupportedAnnotation(_name(annotation))
    return ArgType(annotation)


class Param:
    """One argument of a tool, from its signature and docstring."""

    def __init__(self, name: str, kind: ArgType, required: bool, default: Any, doc: str) -> None:
        self.name = name
        self.kind = kind
        self.required = required
        self.default = default
        self.doc = doc

    def convert(self, value: Any, tool_name: str, usage: str) -> Any:
        """The checked value, or a ToolUsageError that tells the model what to send."""
        if value is None and not self.required:
            return None
        try:
            return self.kind.convert(value)
        except ValueError:
            raise ToolUsageError(
                f"{tool_name}: <{self.name}> must be {self.kind.expected()}, got {value!r}.\n{usage}"
            ) from None

    def schema(self) -> dict[str, Any]:
        spec = self.kind.schema()
        if self.doc:
            spec["description"] = self.doc
        if not self.required and self.default is not None:
            spec["default"] = _plain(self.default) if not isinstance(self.default, list) \
                else [_plain(v) for v in self.default]
        return spec


def _strip_none(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without ``None``, whether it allowed None)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise UnsupportedAnnotation(f"{_name(annotation)} (a union of several types)")
        return args[0], True
    return annotation, False


def _choices(item: Any) -> tuple[Any, ...] | None:
    """The allowed values of a Literal or an Enum; None for anything else."""
    if typing.get_origin(item) is Literal:
        values = typing.get_args(item)
    elif isinstance(item, type) and issubclass(item, enum.Enum):
        values = tuple(member.value for member in item)
    else:
        return None
    kinds = {type(v) for v in values}
    if not values or len(kinds) != 1 or kinds.pop() not in (str, int):
        raise UnsupportedAnnotation(f"{_name(item)} (its values must be all str or all int)")
    return values


def _items(value: Any) -> list[Any]:
    """The items of a list argument: a JSON list, or a command-line word."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if not isinstance(value, str):
        return [value]
    word = value.strip()
    if word.startswith("["):
        try:
            parsed = json.loads(word)
        except json.JSONDecodeError as err:
            raise ValueError(f"not a JSON array ({err.msg})") from None
        return parsed if isinstance(parsed, list) else [parsed]
    return [part.strip() for part in word.split(",")] if word else []


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with ``$ref``s replaced by their definitions and titles dropped
    (function-calling schemas are read by models, not by code generators)."""
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _inline(defs[ref.removeprefix("#/$defs/")], defs)
    return {key: _inline(value, defs) for key, value in schema.items() if key != "title"}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _quote(text: str) -> str:
    if text and not _NEEDS_QUOTES.search(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
