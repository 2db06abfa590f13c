"""The ``harness`` command: click commands only, no logic.

Each command group lives in its own module so parts of the product can add
commands without touching each other. User mistakes (``AciError``: a
``HarnessError``, or a tool the ``aci`` registry refuses) become one line on stderr
and a non-zero exit; other exceptions show a traceback only with ``--debug``.
"""

from __future__ import annotations

import sys

import click

from aci.errors import AciError
from harness import __version__
from harness.textsafe import visible


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # noqa: D102 - click hook
        try:
            return super().invoke(ctx)
        except AciError as err:  # HarnessError is one
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {visible(str(err))}", err=True)  # it may quote agent text
            sys.exit(getattr(err, "exit_code", 2))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """A local gym for AI-research agents."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    from harness.cli import sandbox_cmd

    for module in (sandbox_cmd,):
        for command in module.COMMANDS:
            main.add_command(command)
    # Optional groups are registered when their modules exist.
    import importlib

    for name in ("task_cmd", "solve_cmd", "memory_cmd", "bench_cmd", "profile_cmd", "report_cmd",
                 "replay_cmd", "models_cmd"):
        try:
            module = importlib.import_module(f"harness.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"harness.cli.{name}":
                raise
            continue
        for command in module.COMMANDS:
            main.add_command(command)


_register()
