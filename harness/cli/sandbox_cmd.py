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
def check() -> None:
    """Say which bwrap is used and probe the sandbox's isolation."""
    from harness.sandbox.check import probes

    failed = 0
    for probe in probes():
        mark = click.style("pass", fg="green") if probe.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark}  {probe.name}" + (f": {probe.detail}" if probe.detail else ""))
        failed += not probe.ok
    if failed:
        raise HarnessError(f"{failed} sandbox probe(s) failed: see the lines above")


@click.command("shell")
@click.option("--workspace", "-w", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory mounted read-write at /home/agent/workspace.")
@click.option("-c", "command", help="Run one command and exit with its status.")
@click.option("--network", is_flag=True, help="Allow network access (agents never get it unless a task asks).")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds before -c is killed.")
def shell(workspace: Path, command: str | None, network: bool, timeout: float) -> None:
    """A shell in exactly the sandbox an agent gets."""
    from harness.sandbox import Sandbox

    workspace.mkdir(parents=True, exist_ok=True)
    if command is not None:
        with Sandbox(workspace, network=network) as sandbox:
            result = sandbox.run(command, timeout=timeout)
        sys.stdout.write(result.output)
        if result.output and not result.output.endswith("\n"):
            sys.stdout.write("\n")
        sys.exit(result.exit_code if result.exit_code is not None else 124)
    from harness.sandbox.bwrap import SHELL, find_bwrap, sandbox_env
    from harness.sandbox.core import apply_rlimits
    from harness.sandbox.launch import Launch
    from harness.sandbox.limits import Limits

    bwrap, _ = find_bwrap()
    env = sandbox_env({"PS1": "agent@sandbox:\\w$ "}, (), 0)
    # The same start as an episode's shell (uid, seccomp, empty environment, rlimits),
    # with a terminal: no new session, an interactive bash.
    launch = Launch(bwrap, workspace.resolve(), network=network, binds=(), readonly=(), env=env,
                    gpus=(), interactive=True, command=(SHELL, "--noprofile", "--norc", "-i"))
    try:
        code = launch.popen(lambda: apply_rlimits(Limits())).wait()
    finally:
        launch.close()
    sys.exit(code)


COMMANDS = [sandbox_group, shell]
