"""The models file: aliases, servers, prices; and ``--model`` resolution.

The packaged ``harness/models/models.toml`` is read first, then the user's
``<config_dir>/models.toml`` is merged over it field by field, then environment
variables (``<ALIAS>_BASE_URL``, ``<ALIAS>_MODEL``, ``<ALIAS>_API_KEY``,
``HARNESS_API_KEY``, ``HARNESS_LLAMA_URLS``) override both.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness import paths
from harness.errors import HarnessError
from harness.models import Model, discovery
from harness.models.openai import ModelOptions, OpenAIModel, OpenAISettings, is_local

OPENAI_URL = "https://api.openai.com/v1"
HOSTED_DOMAINS = ("openai.com", "anthropic.com", "googleapis.com", "deepseek.com", "together.xyz",
                  "groq.com", "mistral.ai", "openrouter.ai", "fireworks.ai", "x.ai")
"""Hosted APIs: nothing to discover there (no /props, no /tokenize), so not asked."""
BUILTIN = ("demo", "demo-baseline", "human", "replay:PATH", "openai:<name>@<base_url>")


@dataclass(kw_only=True)
class ModelEntry(ModelOptions):
    """One alias of the models file."""

    alias: str
    """The name given to ``--model``."""
    model: str = ""
    """Model id sent to the server; empty asks the server which one it serves."""
    base_url: str = ""
    """Server URL up to ``/v1``; empty probes ``discover``."""
    discover: list[str] = field(default_factory=list)
    """URLs probed in order when ``base_url`` is empty."""
    api_key_env: list[str] = field(default_factory=list)
    """Environment variables holding the API key, tried in order."""


_HINTS = typing.get_type_hints(ModelEntry)


def _as_list(value: Any) -> Any:
    """``discover = "http://..."`` means a list of one: a common way to write it."""
    return [value] if isinstance(value, str) else value


def _table_model() -> type[BaseModel]:
    """The pydantic model of one ``[defaults]`` or ``[models.NAME]`` table.

    Built from :class:`ModelEntry`'s own fields and type hints, so a field added to
    ``ModelOptions`` is accepted in the file at once with the right type, and the
    field list is written in one place. Every field is optional (``None`` = not set
    in this file), which is what lets the user's file override the packaged one
    field by field. Types are strict: TOML has real booleans, integers and strings,
    so ``max_attempts = 2.5`` or ``tool_calls = "yes"`` is a mistake to report, not
    a value to coerce.
    """
    fields: dict[str, Any] = {
        f.name: (_HINTS[f.name] | None, None)
        for f in dataclasses.fields(ModelEntry)
        if f.name != "alias"
    }
    return pydantic.create_model(
        "ModelTable",
        __config__=ConfigDict(strict=True, extra="forbid"),
        __validators__={
            "_a_string_is_a_list_of_one": field_validator("discover", "api_key_env", mode="before")(
                _as_list
            )
        },
        **fields,
    )


ModelTable = _table_model()


class ModelsFile(BaseModel):
    """One models.toml: a ``[defaults]`` table and one ``[models.NAME]`` table per alias."""

    model_config = ConfigDict(strict=True, extra="forbid")

    defaults: ModelTable = Field(default_factory=ModelTable)  # type: ignore[valid-type]
    """Values every alias (and every ``openai:`` spec) starts from."""
    models: dict[str, ModelTable] = Field(default_factory=dict)  # type: ignore[valid-type]
    """The aliases, by the name given to ``--model``."""


@dataclass(frozen=True)
class ModelsConfig:
    """The models files merged: the defaults and the aliases built on them."""

    defaults: ModelEntry
    """What a model named without an alias (``openai:NAME@URL``) gets."""
    aliases: dict[str, ModelEntry]


def packaged_file() -> Path:
    return Path(str(resources.files("harness.models") / "models.toml"))


def user_file() -> Path:
    return paths.config_dir() / "models.toml"


def _read(path: Path) -> ModelsFile | None:
    """``path`` validated, or None when it does not exist; HarnessError in one line else."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as err:
        raise HarnessError(f"{path}: not valid TOML: {err}; fix the syntax there") from None
    try:
        return ModelsFile.model_validate(data)
    except ValidationError as err:
        raise HarnessError(f"{path}: {_explain(err)}") from None


def _explain(err: ValidationError) -> str:
    """The first problem of a models file as one line: where, which field, what to write."""
    errors = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
    loc = errors[0]["loc"]
    got = errors[0].get("input")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if len(loc) == 1 and errors[0]["type"] == "extra_forbidden":  # only two tables exist
        return f"unknown table [{loc[0]}]: use [defaults] and [models.NAME]{more}"
    if len(loc) == 1:
        header = "[defaults]" if loc[0] == "defaults" else "[models.NAME]"
        return f"{loc[0]} must be written as {header} table(s), not {loc[0]} = ...{more}"
    if loc[0] == "defaults":
        table, rest = "[defaults]", loc[1:]
    elif len(loc) == 2:
        header = f"[models.{_toml_key(str(loc[1]))}]"
        return (
            f"{header} must be a table of fields (model = ..., base_url = ...), not one value{more}"
        )
    else:
        table, rest = f"[models.{_toml_key(str(loc[1]))}]", loc[2:]
    name = str(rest[0])
    if errors[0]["type"] == "extra_forbidden":
        known = [n for n in _HINTS if n != "alias"]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"remove it (known: {', '.join(known)})"
        return f"{table} has unknown field {name!r}: {hint}{more}"
    shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"{table} field {name!r} must be {_expected(name)}{shown}{more}"


def _toml_key(key: str) -> str:
    """An alias as it is written in a table header: quoted when it holds dots or spaces."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


def _expected(name: str) -> str:
    """What a field of the models file must hold, with an example line to copy."""
    hint = _HINTS[name]
    if isinstance(hint, types.UnionType):  # ``float | None``: the None is "not set"
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    kind = typing.get_origin(hint) or hint
    if kind is bool:
        return f"true or false, e.g. {name} = true"
    if kind is int:
        return f"a whole number, e.g. {name} = 6"
    if kind is float:
        return f"a number, e.g. {name} = 0.5"
    if kind is list:
        return f'a list of strings, e.g. {name} = ["A", "B"]'
    if kind is dict:
        values = typing.get_args(hint)
        if values and values[1] is str:
            return f'a table of strings, e.g. {name} = {{ X-Name = "value" }}'
        return f"a table, e.g. {name} = {{ top_k = 20 }}"
    return f'a string, e.g. {name} = "text"'


def load_config(files: list[Path] | None = None) -> ModelsConfig:
    """The packaged models file merged with the user's (or ``files``), field by field."""
    files = files if files is not None else [packaged_file(), user_file()]
    defaults: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {}
    for path in files:
        parsed = _read(path)
        if parsed is None:
            continue
        defaults.update(parsed.defaults.model_dump(exclude_unset=True))
        for alias, table in parsed.models.items():
            tables.setdefault(alias, {}).update(table.model_dump(exclude_unset=True))
    return ModelsConfig(
        defaults=ModelEntry(alias="", **defaults),
        aliases={
            alias: ModelEntry(alias=alias, **{**defaults, **values})
            for alias, values in tables.items()
        },
    )


def load_entries(files: list[Path] | None = None) -> dict[str, ModelEntry]:
    """The aliases of :func:`load_config`."""
    return load_config(files).aliases


def user_aliases() -> set[str]:
    """The aliases the user's own models file defines or overrides."""
    parsed = _read(user_file())
    return set(parsed.models) if parsed else set()


def env_name(alias: str, suffix: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", alias).upper() + "_" + suffix


def _api_key(alias: str, names: list[str]) -> str | None:
    for name in [env_name(alias, "API_KEY"), *names, "HARNESS_API_KEY"]:
        value = os.environ.get(name)
        if value:
            return value
    return None


def normalize_url(url: str) -> str:
    """Strip a trailing slash; add ``/v1`` to a bare ``http://host:port``."""
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://", url):
        raise HarnessError(f"base URL {url!r} must start with http:// or https://")
    scheme_host, _, path = url.partition("://")[2].partition("/")
    if not path:
        url += "/v1"
    return url


def parse_openai_spec(spec: str) -> tuple[str, str]:
    """``openai:<name>@<base_url>`` -> ``(name, base_url)``; no ``@url`` means OpenAI's API."""
    body = spec[len("openai:") :]
    match = re.search(r"@(https?://.*)$", body)
    if match:
        name, url = body[: match.start()], normalize_url(match.group(1))
    else:
        name, url = body, normalize_url(os.environ.get("OPENAI_BASE_URL") or OPENAI_URL)
    if not name:
        raise HarnessError(f"--model {spec!r} names no model; use --model openai:<name>@<base_url>")
    return name, url


def _settings(entry: ModelEntry, sampling: Mapping[str, Any], **fields: Any) -> OpenAISettings:
    values = {f.name: getattr(entry, f.name) for f in dataclasses.fields(ModelOptions)}
    values.update(fields)
    values.update({k: v for k, v in sampling.items() if v is not None})
    values["alias"] = entry.alias if entry.alias else ""
    return OpenAISettings(**values)


def build_alias(
    entry: ModelEntry,
    *,
    sampling: Mapping[str, Any] | None = None,
    echo: Callable[[str], Any] = print,
) -> OpenAIModel:
    """The OpenAI-compatible model an alias names, finding its server if need be."""
    alias = entry.alias
    sampling = sampling or {}
    base_url = os.environ.get(env_name(alias, "BASE_URL")) or entry.base_url
    model = os.environ.get(env_name(alias, "MODEL")) or entry.model
    api_key = _api_key(alias, entry.api_key_env)
    quiet = lambda _text: None  # noqa: E731 - the line is said once the server is known
    if base_url:
        base_url = normalize_url(base_url)
        if not model:
            base_url, model = discovery.find([base_url], api_key=api_key, echo=quiet, label=alias)
    else:
        urls = entry.discover
        override = os.environ.get("HARNESS_LLAMA_URLS") if alias == "llama" else None
        if override:
            urls = [u.strip() for u in override.split(",") if u.strip()]
        if not urls:
            raise HarnessError(
                f"model alias {alias!r} has neither base_url nor discover URLs in the models file"
            )
        base_url, model = discovery.find(
            [normalize_url(u) for u in urls],
            model=model or None,
            api_key=api_key,
            echo=quiet,
            label=alias,
        )
    if entry.api_key_env and not api_key and not is_local(base_url):
        names = " or ".join([*entry.api_key_env, env_name(alias, "API_KEY"), "HARNESS_API_KEY"])
        raise HarnessError(f"--model {alias} needs an API key: set {names}")
    built = OpenAIModel(_settings(entry, sampling, model=model, base_url=base_url, api_key=api_key))
    return _introduce(built, alias, echo)


def is_hosted(url: str) -> bool:
    """Whether ``url`` is a hosted API (OpenAI, Anthropic, ...) rather than a server of one's own."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in HOSTED_DOMAINS)


def _introduce(model: OpenAIModel, label: str, echo: Callable[[str], Any]) -> OpenAIModel:
    """Ask the server what it is (not a hosted API), say in one line what was found,
    and let retries and warnings reach ``echo`` until someone (the live view) takes them.

    Nothing listening on this machine fails here, at once, before any run directory.
    """
    model.on_event = lambda event: echo(event.message)
    if is_hosted(model.base_url):
        return model
    facts = model.discover()
    cap = f", replies capped at {model.reply_cap} tokens" if model.reply_cap else ""
    counted = ", its tokenizer counts" if facts.tokenizer else ""
    echo(f"{label}: using {model.settings.model} on the {facts.describe()}{cap}{counted}")
    return model


def build_openai(
    spec: str,
    config: ModelsConfig,
    sampling: Mapping[str, Any] | None = None,
    echo: Callable[[str], Any] = print,
) -> OpenAIModel:
    """The model of an ``openai:<name>@<base_url>`` spec.

    It starts from the models file's ``[defaults]`` like any alias, so one server
    behaves the same however it is named; an alias for the same model and URL lends
    its prices and key variables.
    """
    name, url = parse_openai_spec(spec)
    template = next(
        (
            e
            for e in config.aliases.values()
            if e.model == name and e.base_url and normalize_url(e.base_url) == url
        ),
        None,
    )
    entry = dataclasses.replace(template or config.defaults, alias="")
    api_key = os.environ.get("HARNESS_API_KEY") or os.environ.get("OPENAI_API_KEY")
    if template:
        api_key = _api_key(template.alias, template.api_key_env) or api_key
    built = OpenAIModel(_settings(entry, sampling or {}, model=name, base_url=url, api_key=api_key))
    return _introduce(built, "openai", echo)


def task_dir_of(task: Any) -> Path:
    """The directory of ``task``: a path, or an object with one."""
    if task is None:
        raise HarnessError("--model demo plays the scripted agent of a task; give the task")
    if isinstance(task, (str, os.PathLike)):
        return Path(task)
    for attr in ("dir", "path", "root", "task_dir", "directory"):
        value = getattr(task, attr, None)
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
    raise HarnessError(f"cannot tell the directory of task {task!r}")


def resolve(
    spec: str,
    *,
    task: Any = None,
    echo: Callable[[str], Any] = print,
    sampling: Mapping[str, Any] | None = None,
    config: ModelsConfig | None = None,
) -> Model:
    """See :func:`harness.models.resolve_model`."""
    spec = (spec or "").strip()
    if spec == "demo":
        from harness.models.demo import DemoModel

        return DemoModel.for_task(task_dir_of(task))
    if spec == "demo-baseline":
        from harness.models.demo import DemoModel

        return DemoModel.baseline(task_dir_of(task))
    if spec.startswith("replay:"):
        from harness.models.replay import ReplayModel

        return ReplayModel.from_file(spec[len("replay:") :])
    if spec == "human":
        from harness.models.human import HumanModel

        return HumanModel()
    config = load_config() if config is None else config
    if spec.startswith("openai:"):
        return build_openai(spec, config, sampling, echo)
    if spec in config.aliases:
        return build_alias(config.aliases[spec], sampling=sampling, echo=echo)
    raise _unknown(spec, config)


def check_name(spec: str, config: ModelsConfig | None = None) -> None:
    """Raise the same one line as :func:`resolve` for a name that can never resolve,
    without contacting any server: a study checks all its models before it starts."""
    spec = (spec or "").strip()
    if spec in BUILTIN or spec.startswith(("replay:", "openai:")):
        return
    config = load_config() if config is None else config
    if spec not in config.aliases:
        raise _unknown(spec, config)


def _unknown(spec: str, config: ModelsConfig) -> HarnessError:
    known = ", ".join([*BUILTIN, *sorted(config.aliases)])
    return HarnessError(f"unknown model {spec!r}; known: {known} (add aliases in {user_file()})")
