"""`harness replay` and `harness import`: recorded trajectories, ours and MLGym's."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("replay")
@click.argument("trajectory", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--task", "task_ref",
              help="The task to replay on (default: the one the trajectory names, or for an MLGym "
                   ".traj the task whose 'mlgym:' block has its id).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory for the replay.")
@click.option("--tools", "tool_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A Python file of custom tools the run used (repeatable), as given to solve.")
def replay(trajectory: Path, task_ref: str | None, out: Path | None, tool_files: tuple[Path, ...]) -> None:
    """Re-execute a trajectory's actions (.jsonl or MLGym .traj) and print recorded
    against replayed scores for every validate and submit.

    Exits 1 when a score differs beyond the task's tolerance.
    """
    from harness.run.replay import replay_and_compare
    from harness.textsafe import visible

    # The lines quote the recorded actions: agent text, made visible before it is printed.
    ok = replay_and_compare(trajectory, task_ref, out, echo=lambda text: click.echo(visible(text)),
                            progress=lambda text: click.echo(visible(text), err=True),
                            tool_files=tool_files)
    if not ok:
        sys.exit(1)


@click.command("import")
@click.argument("traj", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output JSONL (default: beside the input).")
@click.option("--task", "task_ref", help="Our task to map its metric names to (default: the one linked by "
                                         "its 'mlgym:' block).")
def import_(traj: Path, out: Path | None, task_ref: str | None) -> None:
    """Convert an MLGym .traj file (and the results.json beside it) to a harness
    trajectory (JSONL): steps, every score, cost, tokens, submission."""
    from harness.run.trajectory import import_mlgym
    from harness.task.spec import Task, find_task

    task = Task.load(find_task(task_ref)) if task_ref else None
    target = out or traj.with_suffix(".jsonl")
    steps = import_mlgym(traj, target, task)
    click.echo(f"wrote {target} ({steps} steps)")


COMMANDS = [replay, import_]
