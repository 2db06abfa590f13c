"""Whether a task can run on this machine now, and what it lacks (``harness tasks``).

States, most blocking first: ``needs GPU`` (``needs.gpus`` exceeds the GPUs here),
``needs prepare`` (its data is not prepared, or was prepared for an older version of
the task), ``ready``. Notes add what else a user should know: a recommended GPU that
is missing, the data set prepared when it is not the task's main one (e.g. the tiny
test set), the download size, network access of the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field

READY = "ready"
NEEDS_PREPARE = "needs prepare"
NEEDS_GPU = "needs GPU"


@dataclass(frozen=True)
class TaskStatus:
    state: str
    """``ready``, ``needs prepare`` or ``needs GPU``."""
    notes: list[str] = field(default_factory=list)
    data_set: str | None = None
    """The prepared data set's name, for a task with prepared data."""

    def __str__(self) -> str:
        return self.state + (f" ({'; '.join(self.notes)})" if self.notes else "")


def task_status(task, gpus: int | None = None) -> TaskStatus:
    """The status of ``task`` on this machine (``gpus``: GPUs here, detected if None)."""
    from harness.scoring.scorer import available_gpus
    from harness.task.prepare import data_root, download_size, find_prepared, human_size

    gpus = available_gpus() if gpus is None else gpus
    notes: list[str] = []
    state = READY
    data_set = None
    if task.needs.gpus > gpus:
        state = NEEDS_GPU
        notes.append(f"{task.needs.gpus} GPU(s), {gpus} here")
    if task.data is not None:
        prepared = find_prepared(task)
        if prepared is None:
            if state == READY:
                state = NEEDS_PREPARE
            size = download_size(task.data.sets[0])
            stale = (data_root(task) / "prepared").exists()
            notes.append(
                ("prepared for an older version; " if stale else "")
                + (f"download {human_size(size)}" if size else "download")
            )
        else:
            data_set = prepared.set_name
            if prepared.set_name != task.data.sets[0].name:
                notes.append(f"{prepared.set_name} data")
    if task.needs.recommended_gpus > gpus and task.needs.gpus <= gpus:
        notes.append("GPU recommended")
    if task.needs.network:
        notes.append("sandbox has network")
    return TaskStatus(state, notes, data_set)


def run_notes(task, gpus: int | None = None) -> list[str]:
    """Lines to show before running ``task`` here (``solve``, ``task check``): a GPU it
    recommends and this machine lacks, a stand-in data set instead of the main one."""
    status = task_status(task, gpus)
    notes = []
    if task.data is not None and status.data_set not in (None, task.data.sets[0].name):
        notes.append(
            f"note: task {task.id} runs on its {status.data_set!r} data set, not the "
            f"benchmark's {task.data.sets[0].name!r}: scores do not compare with the baseline "
            f"(`harness task prepare {task.id}` gets the real data)"
        )
    if "GPU recommended" in status.notes:
        notes.append(
            f"note: task {task.id} recommends a GPU and this machine has none: "
            "training on its full data will be slow"
        )
    return notes


def wheels_line() -> str:
    """Which wheels a task environment built now gets, and why (``harness tasks``, ``task check``)."""
    from harness.task.wheels import wheel_kind

    kind, why = wheel_kind()
    return f"task environments are built with {kind.upper()} wheels ({why})"


def env_summary(task) -> dict | None:
    """The built environment ``task`` runs with: its path, ``cpu``/``cuda`` (None without
    torch or jax) and its size on disk; None when it is not built yet."""
    from harness.task.env import TaskEnv

    env = TaskEnv.find(task)
    if env is None:
        return None
    return {"path": str(env.root), "kind": env.kind, "bytes": env.size()}


def env_text(summary: dict | None) -> str:
    """``CPU 76K``, ``CUDA 5.4G``, ``80K`` (neither torch nor jax), ``-`` (not built)."""
    if summary is None:
        return "-"
    size = du_size(summary["bytes"])
    return f"{summary['kind'].upper()} {size}" if summary["kind"] else size


def du_size(size: float) -> str:
    """Bytes as ``du -h`` writes them (powers of 1024)."""
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return f"{size:.0f}{unit}" if unit in ("B", "K") or size >= 10 else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}T"
