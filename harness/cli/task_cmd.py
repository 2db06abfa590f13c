"""``harness tasks``, ``harness task check`` and ``harness score``."""

from __future__ import annotations

import json
import os
import sys

import click

from harness.errors import HarnessError, TaskError
from harness.textsafe import visible


def _progress(message: str) -> None:
    click.echo(f"  {message}", err=True)


@click.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per task.")
@click.option("--fits", is_flag=True, help="Only tasks this machine can run (GPUs); ids only.")
def tasks_command(as_json: bool, fits: bool) -> None:
    """List the tasks with their metric, baseline, needs and status on this machine
    (ready, needs prepare, needs GPU)."""
    from harness.scoring.scorer import available_gpus
    from harness.task.spec import Task, list_tasks
    from harness.task.status import env_summary, env_text, task_status, wheels_line

    gpus = available_gpus()
    rows = []
    for directory in list_tasks():
        try:
            task = Task.load(directory)
        except TaskError as err:
            rows.append({"id": directory.name, "error": str(err)})
            continue
        row = task.summary()
        row["path"] = str(directory)
        status = task_status(task, gpus)
        row["status"] = status.state
        row["status_notes"] = status.notes
        row["data_set"] = status.data_set
        row["baseline_source"] = task.baseline_source
        row["env"] = env_summary(task)
        if fits and task.needs.gpus > gpus:
            continue
        rows.append(row)
    if fits:
        for row in rows:
            if "error" not in row:
                click.echo(row["id"])
        return
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("no tasks found under ./tasks")
        return
    click.echo(f"{'task':<18} {'metric':<22} {'baseline':>12}  {'needs':<9} {'env':<10} status")
    for row in rows:
        if "error" in row:
            click.echo(f"{row['id']:<18} invalid: {row['error']}")
            continue
        baseline = "-" if row["baseline"] is None else f"{row['baseline']:.6g}"
        if row["baseline_source"] == "published" and row["baseline"] is not None:
            baseline += "*"
        needs = f"{row['gpus']} GPU" if row["gpus"] else "CPU"
        needs += ", network" if row["network"] else ""
        status = row["status"] + (f" ({'; '.join(row['status_notes'])})" if row["status_notes"] else "")
        env = env_text(row["env"])
        click.echo(f"{row['id']:<18} {row['metric']:<22} {baseline:>12}  {needs:<9} {env:<10} {status}")
    if any(r.get("baseline_source") == "published" for r in rows):
        click.echo("* published baseline (its real run needs the full data set or a GPU-scale budget), not measured here")
    click.echo("env: the task environment's torch/jax build and its size on disk (packages reused from "
               "the harness's own environment not counted; - not built yet)")
    click.echo(wheels_line())


@click.group("task")
def task_group() -> None:
    """Work with one task."""


@task_group.command("prepare")
@click.argument("task_ref", metavar="TASK")
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=str),
    help="Use files you already have: a directory (searched by file name) or an archive.",
)
@click.option("--set", "set_name", help="The data set to download (default: the task's first).")
def prepare_command(task_ref: str, source: str | None, set_name: str | None) -> None:
    """Download (or take --from PATH), verify and prepare TASK's data.

    Files are checked against the sha256 in task.yaml; an interrupted download resumes
    where it stopped. Everything goes to the data directory (HARNESS_DATA_DIR).
    """
    from harness.cli.download_bar import DownloadBar
    from harness.task.prepare import prepare
    from harness.task.spec import Task, find_task

    task = Task.load(find_task(task_ref))
    with DownloadBar() as bar:
        prepared = prepare(task, source, set_name=set_name, meter=bar, say=_progress)
    click.echo(f"{task.id}: ready (data set {prepared.set_name}, {prepared.path})")


def _threads_option(command):
    """``--threads N``: the numeric libraries' threads in this command's sandboxes."""
    return click.option("--threads", type=click.IntRange(min=1), default=None,
                        help="Threads the numeric libraries may use in the sandbox (default: "
                             "HARNESS_THREADS, else the CPUs this process may use).")(command)


def _set_threads(threads: int | None) -> None:
    """Every sandbox this command starts (baseline, scorer) reads it from here."""
    from harness.sandbox.threads import THREADS_ENV, default_threads

    if threads is not None:
        os.environ[THREADS_ENV] = str(threads)
    default_threads()  # a malformed HARNESS_THREADS is one line now, not a traceback later


@task_group.command("check")
@click.argument("task_ref", metavar="TASK")
@_threads_option
def check_command(task_ref: str, threads: int | None) -> None:
    """Validate TASK, build its environment, run and score its baseline.

    Fails when the baseline's score differs from the one recorded in task.yaml by
    more than the task's tolerance.
    """
    from harness.scoring.scorer import check_task, expected_baseline
    from harness.task.spec import Task, find_task

    _set_threads(threads)
    task = Task.load(find_task(task_ref))
    click.echo(f"{task.id}: task.yaml valid (version {task.version})", err=True)
    _say_status(task)
    report = check_task(task, progress=_progress)
    _say_env(task)
    expected, tolerance = expected_baseline(task)
    for metric in task.metrics:
        measured = report.score.metrics.get(metric.name)
        recorded = expected.get(metric.name)
        mark = "MISMATCH" if metric.name in report.mismatches else "ok"
        if recorded is not None:
            recorded_text = f"recorded {recorded:.10g}"
        elif task.baseline_source == "published" and metric.name in task.baseline:
            recorded_text = f"published {task.baseline[metric.name]:.10g}, not compared"
        else:
            recorded_text = "not recorded"
        click.echo(f"  {metric.name}: {measured:.10g} ({recorded_text}) {mark}")
    if not report.ok:
        names = ", ".join(report.mismatches)
        raise TaskError(
            f"task {task.id}: the baseline's {names} differ from task.yaml beyond the "
            f"tolerance {tolerance:g}: update 'baseline' if the change is intended"
        )
    click.echo(f"{task.id}: ok")


def _say_status(task) -> None:
    """Tell the user what the check will run on: the data set, a missing GPU."""
    from harness.task.status import run_notes, task_status, wheels_line

    status = task_status(task)
    if status.data_set is not None:
        click.echo(f"  data set: {status.data_set}", err=True)
    click.echo(f"  {wheels_line()}", err=True)
    for note in run_notes(task):
        click.echo(f"  {note}", err=True)


def _say_env(task) -> None:
    """The environment the check ran with: where it is, its torch/jax build, its size."""
    from harness.task.status import env_summary, env_text

    summary = env_summary(task)
    if summary is not None:
        click.echo(f"  environment: {summary['path']} ({env_text(summary)})", err=True)


@click.command("score")
@click.argument("task_ref", metavar="TASK")
@click.argument("submission", type=click.Path(dir_okay=True, path_type=str))
@_threads_option
def score_command(task_ref: str, submission: str, threads: int | None) -> None:
    """Score a SUBMISSION file (or a workspace directory) for TASK; prints JSON."""
    from pathlib import Path

    from harness.scoring.scorer import Scorer
    from harness.task.env import TaskEnv
    from harness.task.spec import Task, find_task

    _set_threads(threads)
    task = Task.load(find_task(task_ref))
    env = TaskEnv.ensure(task, progress=_progress)
    path = Path(submission)
    scorer = Scorer(task, env)
    score = scorer.score(path) if path.is_dir() else scorer.score_file(path)
    click.echo(json.dumps(score.to_json()))
    if not score.ok:
        click.echo(f"error: {visible(str(score.error))}", err=True)  # may quote the submission's output
        sys.exit(InvalidExit.exit_code)


class InvalidExit(HarnessError):
    exit_code = 1


COMMANDS = [tasks_command, task_group, score_command]


@task_group.command("import-mlgym")
@click.argument("checkout", metavar="PATH", type=click.Path(file_okay=False, path_type=str))
@click.option("--out", default="tasks", show_default=True, type=click.Path(file_okay=False, path_type=str),
              help="Directory to write the task directories into.")
@click.option("--task", "only", multiple=True, metavar="ID",
              help="Import only this MLGym task (its id or config name; repeat for several).")
@click.option("--direction", "directions", multiple=True, metavar="METRIC=DIR",
              help="Set a metric's direction (maximize or minimize), e.g. --direction Time=minimize.")
@click.option("--hide", multiple=True, metavar="NAME",
              help="Also keep files of this name (or glob) out of the agent's workspace.")
@click.option("--force", is_flag=True, help="Replace task directories that exist.")
def import_mlgym_command(checkout: str, out: str, only: tuple[str, ...], directions: tuple[str, ...],
                         hide: tuple[str, ...], force: bool) -> None:
    """Build harness tasks from an MLGym checkout's configs/tasks/*.yaml.

    Each task gets MLGym's starter code in workspace/, its evaluation script and
    answers in scoring/ (out of the agent's reach) with a scorer that runs the
    evaluation script unchanged, and an 'mlgym:' block. Tasks that cannot be
    imported here (Hub datasets, torchrun) get a one-line note.
    """
    from harness.task.mlgym_import import import_mlgym

    given = {}
    for item in directions:
        metric, _, direction = item.partition("=")
        if not metric or direction not in ("maximize", "minimize"):
            raise TaskError(f"--direction {item!r}: give METRIC=maximize or METRIC=minimize")
        given[metric] = direction
    results = import_mlgym(checkout, out, only=only, directions=given, hide=hide, force=force)
    failed = 0
    for item in results:
        label = item.mlgym_id or item.config
        if item.error:
            failed += 1
            click.echo(f"{label}: error: {visible(item.error)}")
            continue
        click.echo(f"{label}: " + (f"-> {item.task_dir}" if item.task_dir else "not imported"))
        for note in item.notes:
            click.echo(f"  {visible(note)}")
    written = sum(1 for item in results if item.task_dir)
    click.echo(f"{written} of {len(results)} task configs imported into {out}", err=True)
    if written == 0 or (only and failed):
        sys.exit(1)
