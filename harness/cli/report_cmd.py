"""`harness report`: the HTML report of a study (tables, profiles, plots, transcripts)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the page, figures and transcripts (default STUDY_DIR/report).")
@click.option("--with-published", is_flag=True,
              help="Also place the study's models beside the 12 published MLGym-Bench models.")
@click.option("--include-unlike", is_flag=True,
              help="With --with-published, also profile tasks not on the benchmark's scale (no 'mlgym:' "
                   "block, or same_scale: false); they are marked either way.")
def report(study_dir: Path, out: Path | None, with_published: bool, include_unlike: bool) -> None:
    """Write an HTML report of a study made by `harness bench` (needs the plots extra)."""
    from rich.console import Console

    from harness.report import build_report

    console = Console(stderr=True)
    with console.status("reading the study") as status:
        result = build_report(study_dir, out, with_published=with_published, include_unlike=include_unlike,
                              progress=lambda text: status.update(text))
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {result.index} ({len(result.figures)} figure files, {len(result.transcripts)} transcripts)")


COMMANDS = [report]
