"""The progress bar of ``harness task prepare`` (a :class:`harness.task.download.Meter`).

On a terminal: a rich bar per file with size, speed and time left. Elsewhere (logs,
CI): one line per file started or resumed.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class DownloadBar:
    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.live = self.console.is_terminal
        self._progress = Progress(
            TextColumn("  {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.live,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> DownloadBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def start(self, name: str, total: int | None, done: int) -> None:
        if not self.live:
            size = f" of {total} bytes" if total else ""
            where = f", resuming at byte {done}" if done else ""
            self.console.print(f"  downloading {name}{size}{where}", highlight=False, markup=False)
        self._task = self._progress.add_task(name, total=total, completed=done)

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self) -> None:
        if self._task is not None and not self.live:
            self._progress.remove_task(self._task)
        self._task = None
