"""A task with its tiny stand-in data set prepared in a data directory of its own (for tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.task.prepare import Prepared, prepare
from harness.task.spec import Task


@contextmanager
def tiny_prepared(tmp_path_factory, task_dir: Path) -> Iterator[tuple[Task, Prepared]]:
    """Prepare ``task_dir/tiny`` through the real prepare step; HARNESS_DATA_DIR points at it meanwhile."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_DATA_DIR", str(tmp_path_factory.mktemp(f"{task_dir.name}-data")))
        task = Task.load(task_dir)
        yield task, prepare(task, task_dir / "tiny")
