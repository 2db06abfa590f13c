"""`harness solve` and `show`: one episode and its record."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from harness.cli.episode_options import episode_flags, episode_options
from harness.errors import HarnessError
from harness.textsafe import visible


def _default_out(task_id: str, model: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)[:40]
    return Path("runs") / f"{task_id}-{safe}-{stamp}"


@click.command("solve")
@click.argument("task_ref", metavar="TASK")
@click.option("--model", "-m", default="demo", show_default=True,
              help="demo, demo-baseline, llama, an alias from models.toml, openai:<name>@<base_url>, "
                   "replay:PATH or human.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory (default runs/TASK-MODEL-TIME).")
@click.option("--seed", type=int, help="Seed passed to the model's sampler.")
@episode_flags
@click.option("--memory", "memory_path", is_flag=False, flag_value="", default=None, metavar="[PATH]",
              help="Turn the memory tools on (the mlgym profile has them off), optionally with "
                   "this database file.")
@click.option("--no-memory", is_flag=True, help="Turn the memory tools off.")
@click.option("--gpus", default="", help="Comma-separated GPU indices to give the sandbox.")
@click.option("--quiet", "-q", is_flag=True, help="Only print the summary.")
def solve(task_ref: str, model: str, out: Path | None, seed: int | None, memory_path: str | None,
          no_memory: bool, gpus: str, quiet: bool, **flags: Any) -> None:
    """Let a model work TASK (a task directory or name) in a fresh sandbox."""
    from harness.cli.progress import EpisodeDisplay
    from harness.models import resolve_model
    from harness.run.engine import episode_budget
    from harness.run.episode import Episode
    from harness.run.options import tool_calls_mode
    from harness.task.spec import Task, find_task
    from harness.task.status import run_notes

    if no_memory and memory_path is not None:
        raise HarnessError("--memory and --no-memory contradict each other: give one")
    memory = False if no_memory else (True if memory_path is not None else None)  # None: the profile's
    options = episode_options(flags, seed=seed, memory=memory,
                              memory_path=Path(memory_path) if memory_path else None, gpus=_gpus(gpus))
    task = Task.load(find_task(task_ref))
    echo = (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))
    for note in run_notes(task):  # a GPU the task recommends, a stand-in data set
        echo(note)
    chosen = resolve_model(model, task=task, echo=echo, temperature=options.temperature, seed=seed)
    tool_calls_mode(chosen, options)  # refuse what the model cannot honour, before anything starts
    run_dir = out or _default_out(task.id, model)
    warn_weaker_sandbox()
    max_steps = episode_budget(task, options).max_steps
    with EpisodeDisplay(task, quiet=quiet, max_steps=max_steps) as display:
        if hasattr(chosen, "on_event"):  # retries and warnings of the model client, as they happen
            chosen.on_event = display.model_event
        episode = Episode(task, chosen, run_dir, options, on_step=display.step, on_status=display.status,
                          on_phase=display.phase)
        if episode.profile_note:  # a default the user did not choose: say it where it stays
            click.echo(episode.profile_note, err=True)
        result = episode.run()
    display.summary(result, task)
    if result.exit_status == "interrupted":
        sys.exit(130)
    failure = harness_failure(result)
    if failure:  # the harness, its scorer or the model server failed, not the agent: say so to scripts
        click.echo(f"the harness failed: {visible(failure)}", err=True)
        sys.exit(1)


_CRASH = re.compile(r"^(the scorer failed|scorer bug:|[A-Za-z_][\w.]*(Error|Exception): )")
"""How a scorer crash reads (aci's submit, the scorer's own exit, an exception in the
autosubmission), as opposed to a submission the scorer refused."""


def harness_failure(result: Any) -> str | None:
    """Why the episode failed on the harness's side (None: it did not).

    ``exit_error`` (the model server or the harness broke the episode), or the scoring
    that ended the episode (a submit or the autosubmission) crashed: the agent's work
    was never judged, whatever it was. A submission the scorer refused is the agent's
    failure and exits 0 like any other scored episode.
    """
    if result.exit_status == "exit_error":
        return result.error or "the episode ended with exit_error"
    if result.final_metrics is not None or not result.validations:
        return None
    last = result.validations[-1]
    error = last.get("error") or ""
    if last.get("kind") != "validate" and _CRASH.match(error):
        return f"scoring the final submission crashed: {error}"
    return None


def warn_weaker_sandbox() -> None:
    """One line before an episode (or a study) when the sandbox lacks its seccomp filter."""
    from harness.sandbox import seccomp

    problem = seccomp.problem()
    if problem:
        click.echo(f"warning: the sandbox runs without its seccomp filter: {problem}", err=True)


def _gpus(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise HarnessError(f"--gpus {text!r}: give comma-separated device indices, e.g. --gpus 0,1") from None


@click.command("show")
@click.argument("run_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--full", is_flag=True, help="Show whole observations, not their first 40 lines.")
def show(run_dir: Path, full: bool) -> None:
    """Print a readable transcript of a run."""
    from harness.cli.transcript import render

    render(run_dir, full=full)


COMMANDS = [solve, show]  # replay and import: harness.cli.replay_cmd
