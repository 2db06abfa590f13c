"""The knobs of one episode, in one typed object: :class:`EpisodeOptions`.

``harness solve`` and ``harness bench`` parse their flags into it, a study stores
it, the bench workers receive it as JSON and validate it back, and the engine and
``harness.make(**options)`` read it. One shape everywhere means an option cannot
be honoured by one entry point and silently dropped by another.

``None`` for a limit means "the task's value" (``task.yaml``'s ``limits``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aci.profiles import PROFILES, AciProfile, get_profile
from harness.errors import HarnessError
from harness.sandbox import Limits


class EpisodeOptions(BaseModel):
    """Overrides of the task's limits and the episode's knobs (frozen: share it freely)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_steps: int | None = Field(None, gt=0)
    """Model replies allowed (None: the task's)."""
    cost_limit: float | None = Field(None, ge=0)
    """USD the model calls may cost; 0 means no limit (None: the task's)."""
    wall_time: float | None = Field(None, ge=0)
    """Seconds the episode may take; every command, validate and submit gets at most
    the time left (None: the task's)."""
    command_timeout: float | None = Field(None, gt=0)
    """Seconds one shell command may run (None: the task's)."""
    context_tokens: int | None = Field(None, gt=0)
    """The model's context window in tokens; None leaves it unchecked."""
    seed: int | None = None
    """Seed of the model's sampler, recorded with the episode."""
    temperature: float | None = None
    """Sampling temperature, applied where the model is resolved (solve, bench)."""
    tool_calls: bool = False
    """Native function calling: the tools go to the model as schemas and its actions
    come back as tool calls. Refused for a model that writes its actions as text."""
    tool_files: tuple[Path, ...] = ()
    """Python files of extra ``@tool`` functions."""
    aci_profile: str | None = None
    """The interface's behaviour, ``harness`` or ``mlgym`` (:mod:`aci.profiles`); None:
    ``mlgym`` for a task with an ``mlgym:`` block in task.yaml, else ``harness``."""
    agent_config: Path | None = None
    """An MLGym agent config YAML whose prompt templates the episode uses
    (:mod:`aci.agent_config`)."""
    memory: bool | None = None
    """The memory tools (``memory_write``/``memory_read``) over the task's memory
    (None: the profile's: on for ``harness``, off for ``mlgym``)."""
    memory_path: Path | None = None
    """The memory database (None: the task's default one)."""
    window: int | None = Field(None, gt=0)
    """Lines the file viewer shows (None: the agent config's WINDOW, else the profile's)."""
    keep_last: int = Field(5, ge=0)
    """Observations kept in full; older ones are elided to one line."""
    gpus: tuple[int, ...] = ()
    """GPU indices the sandbox may use."""
    cpu_threads: int = Field(0, ge=0)
    """Threads the numeric libraries may use in the sandbox (``--threads``; 0:
    ``HARNESS_THREADS``, else the CPUs this process may use); a parallel study splits
    them among its episodes so they don't thrash each other."""
    sandbox_limits: Limits = Field(default_factory=Limits)
    """Resource limits of the agent's sandbox."""
    labels: dict[str, Any] = Field(default_factory=dict)
    """Recorded as is in results.json (a study puts its name, the model alias and the run here)."""

    @field_validator("aci_profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        if value is not None and value not in PROFILES:
            raise ValueError(f"unknown ACI profile; use one of {', '.join(PROFILES)}")
        return value

    @classmethod
    def build(cls, source: str = "options", **values: Any) -> EpisodeOptions:
        """Validated options; a mistake is one :class:`HarnessError` line naming the option.

        ``source`` names the caller in the message (``harness.make``, a worker's payload).
        """
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise HarnessError(f"{source}: unknown option(s) {', '.join(unknown)}; "
                               f"the options are {', '.join(sorted(cls.model_fields))}")
        try:
            return cls(**values)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise HarnessError(f"{source}: {where}={first.get('input')!r}: {first['msg']}") from None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, as a bench worker receives it (``build(**to_json())`` gives it back)."""
        return self.model_dump(mode="json")

    def replace(self, **changes: Any) -> EpisodeOptions:
        """A copy with ``changes``, validated like the original."""
        return type(self).build("options", **{**self.model_dump(), **changes})


def aci_profile(task: Any, options: EpisodeOptions) -> AciProfile:
    """The episode's profile: the one asked for, else ``mlgym`` for a task that
    reproduces an MLGym-Bench task (an ``mlgym:`` block), else ``harness``."""
    if options.aci_profile is not None:
        return get_profile(options.aci_profile)
    return get_profile("mlgym" if getattr(task, "mlgym", None) is not None else "harness")


MLGYM_MIN_WINDOW = 32_768
"""Below this context window the ``mlgym`` profile is not the default: MLGym-Bench's
models had 128k tokens and more, and its history (the last 5 outputs whole, no fitting)
ends a small-window model's episode ``exit_context`` within a few steps."""


def small_window(task: Any, model: Any, options: EpisodeOptions) -> int | None:
    """The model's window when it is why an MLGym-linked task gets the ``harness``
    profile by default (None: no profile asked for is overridden)."""
    if options.aci_profile is not None or getattr(task, "mlgym", None) is None:
        return None
    window = getattr(model, "context_window", None)
    if isinstance(window, int) and not isinstance(window, bool) and 0 < window < MLGYM_MIN_WINDOW:
        return window
    return None


def memory_on(task: Any, options: EpisodeOptions) -> bool:
    """Whether the episode has the memory tools: as asked, else as its profile says."""
    if options.memory is not None:
        return options.memory
    return aci_profile(task, options).memory


def tool_calls_mode(model: Any, options: EpisodeOptions) -> bool:
    """Whether the episode speaks native tool calls with ``model``.

    On when asked (``--tool-calls``, ``tool_calls=True``) or when the model's own
    settings say so (``tool_calls = true`` for an alias in models.toml). A model that
    writes its actions as text (demo, replay, human) has no ``tool_calls`` setting: asking
    it for tool calls is refused here, in one line, by solve, bench and its workers alike.
    """
    supported = hasattr(model, "tool_calls")
    if options.tool_calls and not supported:
        name = getattr(model, "name", type(model).__name__)
        raise HarnessError(f"--tool-calls needs a model served over the OpenAI API; {name} writes "
                           "its actions as text")
    return bool(options.tool_calls or (supported and getattr(model, "tool_calls", False)))


__all__ = ["EpisodeOptions", "aci_profile", "memory_on", "tool_calls_mode"]
