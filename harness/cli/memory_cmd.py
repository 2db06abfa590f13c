"""``harness memory show|search|add|clear TASK``: the user's view of a task's memory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from harness.errors import HarnessError
from harness.textsafe import visible

_memory_option = click.option(
    "--memory", "memory_path", type=click.Path(dir_okay=False, path_type=Path),
    help="Memory database file (default: the task's file under the data directory).")


def _open(task_ref: str, memory_path: Path | None, *, must_exist: bool = True):
    """The Memory of TASK (a task directory, a task name, or the id of a removed task)."""
    from harness.errors import TaskError
    from harness.run.memory import Memory
    from harness.task.spec import Task, find_task

    try:
        task_id = Task.load(find_task(task_ref)).id
    except TaskError:
        if memory_path is None and not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", task_ref):
            raise
        task_id = task_ref  # memory of a task that is no longer on disk
    memory = Memory.for_task(task_id, path=memory_path)
    if must_exist and not memory.path.exists():
        raise HarnessError(f"no memory for task {task_id} yet ({memory.path} does not exist): "
                           "episodes write it through memory_write")
    return memory


def _print(entries, as_json: bool) -> None:
    for entry in entries:
        if as_json:
            click.echo(json.dumps({
                "id": entry.id, "text": entry.text, "episode": entry.episode, "step": entry.step,
                "created": entry.created, "best_score": entry.best_score, "metric": entry.metric,
            }))
        else:
            click.echo(visible(f"[{entry.header()}]\n{entry.text}\n"))  # the agent wrote it


@click.group("memory")
def memory_group() -> None:
    """Inspect, search, add to or clear a task's memory (what memory_write stored)."""


@memory_group.command("show")
@click.argument("task_ref", metavar="TASK")
@_memory_option
@click.option("--last", type=int, help="Only the N most recent entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
def show(task_ref: str, memory_path: Path | None, last: int | None, as_json: bool) -> None:
    """Print every entry of TASK's memory, oldest first."""
    with _open(task_ref, memory_path) as memory:
        entries = list(reversed(memory.recent(last))) if last else memory.entries()
        if not entries and not as_json:
            click.echo(f"{memory.path}: no entries")
            return
        _print(entries, as_json)
        if not as_json:
            click.echo(f"{len(entries)} of {memory.count()} entries ({memory.path})", err=True)


@memory_group.command("search")
@click.argument("task_ref", metavar="TASK")
@click.argument("query", nargs=-1, required=True)
@_memory_option
@click.option("--limit", default=10, show_default=True, help="Entries to show at most.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
def search(task_ref: str, query: tuple[str, ...], memory_path: Path | None, limit: int,
           as_json: bool) -> None:
    """The entries most relevant to QUERY (BM25, ties by recency), as memory_read ranks them."""
    with _open(task_ref, memory_path) as memory:
        entries = memory.search(" ".join(query), limit=limit)
        if not entries and not as_json:
            click.echo("no entries match")
            return
        _print(entries, as_json)


@memory_group.command("add")
@click.argument("task_ref", metavar="TASK")
@click.argument("text", nargs=-1, required=True)
@_memory_option
def add(task_ref: str, text: tuple[str, ...], memory_path: Path | None) -> None:
    """Add a note of your own to TASK's memory (e.g. a hint for the next episodes)."""
    with _open(task_ref, memory_path, must_exist=False) as memory:
        entry = memory.add(" ".join(text), episode="user")  # MemoryEntryTooLarge: one line
        click.echo(f"added entry #{entry.id} to {memory.path}")


@memory_group.command("clear")
@click.argument("task_ref", metavar="TASK")
@_memory_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def clear(task_ref: str, memory_path: Path | None, yes: bool) -> None:
    """Delete every entry of TASK's memory."""
    with _open(task_ref, memory_path) as memory:
        count = memory.count()
        if not yes:
            click.confirm(f"Delete all {count} entries of {memory.path}?", abort=True)
        removed = memory.clear()
        click.echo(f"deleted {removed} entries from {memory.path}")


COMMANDS = [memory_group]
