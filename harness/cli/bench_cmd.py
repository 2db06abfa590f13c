"""`harness bench`: a study of tasks x models x runs, resumable, N episodes at a time."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness.cli.episode_options import episode_flags, episode_options
from harness.errors import HarnessError


def _names(text: str, option: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise HarnessError(f"{option} is empty: give comma-separated names, e.g. {option} house_price,titanic")
    return names


@click.command("bench")
@click.option("--tasks", "tasks_text", required=True, help="Comma-separated task names or directories.")
@click.option("--models", "models_text", required=True, help="Comma-separated models (as for solve --model).")
@click.option("--runs", type=int, default=4, show_default=True, help="Episodes per task and model (the k of @k).")
@click.option("--parallel", "-j", type=int, default=1, show_default=True, help="Episodes at a time.")
@click.option("--gpus", default="", help="Comma-separated GPU indices; each GPU episode leases one.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Study directory (default studies/TIME).")
@click.option("--resume", is_flag=True, help="Continue the study in --out: keep finished episodes, rerun the rest.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of run 1 (run i gets seed+i-1).")
@episode_flags
@click.option("--memory", is_flag=True,
              help="Turn the memory tools on (off in studies: episodes would read each other's notes).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where episodes run: worker processes here, or a Ray cluster (pip install 'harness[ray]').")
@click.option("--ray-address", default=None, help="Ray cluster address (default: start a local Ray).")
def bench(tasks_text: str, models_text: str, runs: int, parallel: int, gpus: str, out: Path | None, resume: bool,
          seed: int, memory: bool, executor: str, ray_address: str | None, **flags: Any) -> None:
    """Run every task with every model RUNS times and tabulate the results.

    The study directory records its configuration and every episode; a study killed
    at any moment continues with --resume, which refuses another configuration.
    """
    from harness.cli.bench_display import StudyDisplay
    from harness.cli.solve_cmd import _gpus, warn_weaker_sandbox
    from harness.models.registry import check_name
    from harness.study.directory import Study, check_tool_calls, make_config
    from harness.study.scheduler import LocalExecutor, RayExecutor
    from harness.task.spec import Task, find_task

    options = episode_options(flags, seed=seed, memory=memory)
    if out is None:
        if resume:
            raise HarnessError("--resume needs --out: the study directory to continue")
        from datetime import datetime

        out = Path("studies") / datetime.now().strftime("%Y%m%d-%H%M%S")
    config = make_config(_names(tasks_text, "--tasks"), _names(models_text, "--models"), runs, options)
    for spec in config.models:  # a misspelt name fails now, not after the other models' episodes
        check_name(spec)
    check_tool_calls(config)
    warn_weaker_sandbox()
    gpu_needs = {t: Task.load(find_task(config.task_dirs[t])).needs.gpus for t in config.tasks}
    if executor == "ray":
        runner = RayExecutor(parallel, address=ray_address, gpu_needs=gpu_needs)
    else:
        runner = LocalExecutor(parallel, gpus=_gpus(gpus), gpu_needs=gpu_needs)
    study = Study.open(out, config, resume=resume)
    try:
        specs = study.specs()
        todo = study.pending()
        with StudyDisplay(total=len(specs), done=len(specs) - len(todo), parallel=parallel) as display:
            runner.run(todo, config.options, display.on_event)
        tables = write_tables(study)
    finally:
        study.close()
    display.summary(study, tables)
    if display.failed:
        sys.exit(1)


def write_tables(study) -> tuple | None:
    """tables/best.csv and tables/last.csv of the finished episodes (None if none finished)."""
    from harness.study.metrics import tables_from_results, write_table

    results = list(study.results())
    if not results:
        return None
    best, last = tables_from_results(results)
    (study.root / "tables").mkdir(exist_ok=True)
    write_table(best, study.root / "tables" / "best.csv")
    write_table(last, study.root / "tables" / "last.csv")
    return best, last


COMMANDS = [bench]
