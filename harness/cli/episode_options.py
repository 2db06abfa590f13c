"""The episode flags ``harness solve`` and ``harness bench`` share, parsed into one
:class:`~harness.run.options.EpisodeOptions`.

Both commands take these flags through the one decorator below, so a flag means the
same in both and reaches the episode the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aci.profiles import PROFILES

if TYPE_CHECKING:
    from harness.run.options import EpisodeOptions

EPISODE_FLAGS = ("max_steps", "cost_limit", "wall_time", "command_timeout", "context_tokens",
                 "temperature", "tool_files", "tool_calls", "aci_profile", "agent_config", "cpu_threads")
"""The click parameter names the decorator adds (each an EpisodeOptions field)."""


def episode_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared episode flags to a click command (innermost first, as click lists them)."""
    flags = [
        click.option("--max-steps", type=click.IntRange(min=1), help="Model replies allowed (default: the task's)."),
        click.option("--cost-limit", type=click.FloatRange(min=0), help="USD the model may cost (default: the task's)."),
        click.option("--wall-time", type=click.FloatRange(min=0),
                     help="Seconds the episode may take; every command, validate and submit gets at most "
                          "the time left (default: the task's)."),
        click.option("--command-timeout", type=click.FloatRange(min=0, min_open=True),
                     help="Seconds one shell command may run (default: the task's)."),
        click.option("--context-tokens", type=click.IntRange(min=1),
                     help="The model's context window (ends with exit_context when full)."),
        click.option("--temperature", type=float, help="Sampling temperature for the model."),
        click.option("--tools", "tool_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="A Python file of extra @tool functions (repeatable)."),
        click.option("--tool-calls", is_flag=True,
                     help="Native function calling: tools go as schemas, actions come back as tool calls "
                          "(models served over the OpenAI API)."),
        click.option("--aci-profile", type=click.Choice(sorted(PROFILES)),
                     help="The interface: mlgym (MLGym-Bench's: 1000-line viewer, step counter, flake8 edit "
                          "check, malformed replies re-asked, every submit ends) or harness (ours). Default: "
                          "mlgym for a task with an mlgym: block in task.yaml, else harness."),
        click.option("--threads", "cpu_threads", type=click.IntRange(min=1),
                     help="Threads the numeric libraries (OpenMP, BLAS, torch …) may use in the sandbox "
                          "(default: HARNESS_THREADS, else the CPUs this process may use; bench splits "
                          "them among its parallel episodes)."),
        click.option("--agent-config", type=click.Path(dir_okay=False, path_type=Path),
                     help="An MLGym agent config YAML (configs/agents/*.yaml) whose prompt templates to use."),
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


def episode_options(flags: dict[str, Any], **more: Any) -> EpisodeOptions:
    """The options of the shared ``flags`` (a command's ``**flags``) and the command's own."""
    from harness.run.options import EpisodeOptions

    unknown = set(flags) - set(EPISODE_FLAGS)
    if unknown:  # a programming error: a command passed its own parameter as a flag
        raise TypeError(f"not shared episode flags: {', '.join(sorted(unknown))}")
    config = flags.get("agent_config")
    if config is not None:  # a missing or malformed file is one line now, not in an episode
        from aci.agent_config import load_agent_config

        load_agent_config(config)
        flags = {**flags, "agent_config": Path(config).resolve()}
    if not flags.get("cpu_threads"):  # the sandbox's default: a malformed HARNESS_THREADS is one line now
        from harness.sandbox.threads import default_threads

        default_threads()
    flags = {**flags, "tool_files": tuple(flags.get("tool_files") or ()), "cpu_threads": flags.get("cpu_threads") or 0}
    return EpisodeOptions(**flags, **more)
