"""``harness profile``: AUP of score tables in the published MLGym-Bench layout."""

from __future__ import annotations

from pathlib import Path

import click

from harness.study.metrics import KNOWN_MINIMIZE, ScoreTable, aup_csv, profiles, read_table

_MINIMIZE_HELP = (
    "A lower-is-better task (repeat for several). Default: the MLGym-Bench lower-is-better "
    "tasks present in the table, by published name ('3-SAT', 'Language Modeling') or harness "
    "task id ('sat_3', 'language_modeling'), so the published tables need no flag. Giving "
    "--minimize replaces that default."
)


@click.command("profile")
@click.argument("best", metavar="BEST.csv", type=click.Path(path_type=Path))
@click.option("--last", "last", metavar="LAST.csv", type=click.Path(path_type=Path),
              help="The Best Submission table, for the 'Last AUP' column.")
@click.option("--minimize", multiple=True, metavar="TASK", help=_MINIMIZE_HELP)
@click.option("--plot", metavar="FILE", type=click.Path(path_type=Path),
              help="Also draw the performance profiles to FILE (.png, .svg, .pdf; needs "
                   "pip install 'harness[plots]').")
def profile(best: Path, last: Path | None, minimize: tuple[str, ...], plot: Path | None) -> None:
    """Print each model's AUP (area under its performance profile) as CSV.

    BEST.csv holds Best Attempt@k scores in the published layout: a 'Task' column, a
    'baseline' column and one column per model, an empty cell for a missing score.
    The baseline is profiled like a model. AUP depends on the set of models
    compared: adding or removing one changes everyone's value.
    """
    if plot is not None:
        from harness.study.profile_plot import check_target

        check_target(plot)
    best_table = _read(best, minimize)
    last_table = _read(last, minimize) if last is not None else None
    result = profiles(best_table, last_table)
    click.echo(aup_csv(result), nl=False)
    if plot is not None:
        from harness.study.profile_plot import plot_profiles

        click.echo(f"wrote {plot_profiles(result, plot)}", err=True)


def _read(path: Path, minimize: tuple[str, ...]) -> ScoreTable:
    if minimize:
        return read_table(path, minimize)
    table = read_table(path)
    table.minimize = {task for task in table.tasks if task in KNOWN_MINIMIZE}
    return table


COMMANDS = [profile]
