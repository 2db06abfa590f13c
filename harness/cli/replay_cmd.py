"""`harness replay` and `harness import`: recorded trajectories, ours and MLGym's."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("replay")
@click.argument("trajectory", type=click.Path(exists=True, path_type=Path))
@click.option("--task", "task_ref", required=True, help="The task the trajectory was recorded on.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run directory for the replay.")
def replay(trajectory: Path, task_ref: str, out: Path | None) -> None:
    """Re-execute a trajectory's actions and report where observations or scores differ."""
    from harness.run.replay import replay_and_compare
    from harness.textsafe import visible

    # The lines quote the recorded actions: agent text, made visible before it is printed.
    ok = replay_and_compare(trajectory, task_ref, out, echo=lambda text: click.echo(visible(text)))
    if not ok:
        sys.exit(1)


@click.command("import")
@click.argument("traj", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output JSONL (default: beside the input).")
def import_(traj: Path, out: Path | None) -> None:
    """Convert an MLGym .traj file to a harness trajectory (JSONL)."""
    from harness.run.trajectory import import_mlgym

    target = out or traj.with_suffix(".jsonl")
    steps = import_mlgym(traj, target)
    click.echo(f"wrote {target} ({steps} steps)")


COMMANDS = [replay, import_]
