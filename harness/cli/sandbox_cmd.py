"""`harness sandbox check` and `harness shell`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.errors import HarnessError


@click.group("sandbox")
def sandbox_group() -> None:
    """Inspect the bubblewrap sandbox."""


@sandbox_group.command("check")
@click.option("--gpu", "gpu", is_flag=True,
              help="Also check CUDA inside a GPU sandbox: the driver and device nodes, then nvidia-smi, "
                   "torch.cuda.is_available() and a matmul in a sandbox leasing one GPU as an episode would.")
@click.option("--gpu-index", type=int, default=None, help="The GPU --gpu leases (default: the first).")
@click.option("--task", "task_name", default=None,
              help="With --gpu: try torch from this task's environment (built if missing).")
def check(gpu: bool, gpu_index: int | None, task_name: str | None) -> None:
    """Say which bwrap is used and probe the sandbox's isolation."""
    import itertools

    from harness.sandbox.check import probes

    failed = 0
    lines = probes()
    if gpu:
        lines = itertools.chain(lines, _gpu_probes(gpu_index, task_name))
    for probe in lines:
        mark = click.style("pass", fg="green") if probe.ok else click.style("FAIL", fg="red")
        if probe.ok and probe.warn:
            mark = click.style("warn", fg="yellow")  # a limit not enforced here: said, not failed
        click.echo(f"{mark}  {probe.name}" + (f": {probe.detail}" if probe.detail else ""))
        failed += not probe.ok
    if failed:
        raise HarnessError(f"{failed} sandbox probe(s) failed: see the lines above")


def _gpu_probes(index: int | None, task_name: str | None):
    """The GPU lines, after the task environment (if any) is built."""
    from harness.sandbox.gpu import gpu_probes

    task_env = None
    if task_name:
        from harness.task.env import TaskEnv
        from harness.task.spec import Task, find_task

        task_env = TaskEnv.ensure(Task.load(find_task(task_name)), progress=lambda line: click.echo(line, err=True))
    yield from gpu_probes(index, task_env)


@click.command("shell")
@click.option("--workspace", "-w", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory mounted read-write at /home/agent/workspace.")
@click.option("--task", "task_name", default=None,
              help="Open exactly this task's episode sandbox: its environment, read-only files, "
                   "network setting and limits (an empty workspace gets the task's files).")
@click.option("-c", "command", help="Run one command and exit with its status.")
@click.option("--network", is_flag=True, help="Allow network access (agents never get it unless a task asks).")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds before -c is killed.")
def shell(workspace: Path, task_name: str | None, command: str | None, network: bool, timeout: float) -> None:
    """A shell in exactly the sandbox an agent gets."""
    from harness.sandbox import Sandbox
    from harness.sandbox.interactive import run_interactive

    workspace.mkdir(parents=True, exist_ok=True)
    options = _task_sandbox(task_name, workspace) if task_name else {"network": network}
    if command is not None:
        with Sandbox(workspace, **options) as sandbox:
            result = sandbox.run(command, timeout=timeout)
        sys.stdout.write(result.output)
        if result.output and not result.output.endswith("\n"):
            sys.stdout.write("\n")
        sys.exit(result.exit_code if result.exit_code is not None else 124)
    sys.exit(run_interactive(workspace, **options))


def _task_sandbox(name: str, workspace: Path) -> dict:
    """The arguments an episode of task ``name`` opens its sandbox with."""
    from harness.task.env import TaskEnv
    from harness.task.spec import Task, find_task

    task = Task.load(find_task(name))
    if not any(workspace.iterdir()):
        task.make_workspace(workspace)
    env = TaskEnv.ensure(task, progress=lambda line: click.echo(line, err=True))
    return {"network": task.needs.network, "binds": env.binds(), "env": env.env(),
            "readonly": task.readonly, "gpus": list(range(task.needs.gpus))}


COMMANDS = [sandbox_group, shell]
