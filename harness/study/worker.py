"""One episode of a study, in a process of its own.

``python -m harness.study.worker SPEC_JSON`` runs the episode a study's scheduler
handed out and reports on stdout, one JSON object per line: ``step`` events for the
live status line and one ``done`` (or ``error``) event at the end. A process per
episode keeps episodes apart (a crashing model backend or a leak ends with its
episode), lets the scheduler kill one cleanly, and makes the worker the same code
whether the local scheduler or Ray starts it.

The worker dies with its scheduler (``PR_SET_PDEATHSIG``), and its sandboxes die
with it (``--die-with-parent``): a ``kill -9`` of ``harness bench`` leaves nothing
running, and the episode, lacking ``results.json``, is rerun on ``--resume``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aci.errors import AciError

if TYPE_CHECKING:
    from harness.run.options import EpisodeOptions

Emit = Callable[[dict[str, Any]], None]


def run_spec(spec: dict[str, Any], options: EpisodeOptions | dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Run one episode; returns the ``done`` event (also emitted).

    ``options`` are the study's (as JSON from the scheduler's payload, or the object);
    the episode's seed, devices and labels come from ``spec``.
    """
    from harness.models import resolve_model
    from harness.run.episode import Episode
    from harness.run.options import EpisodeOptions, tool_calls_mode
    from harness.task.spec import Task, find_task

    if not isinstance(options, EpisodeOptions):
        options = EpisodeOptions.build("the worker's options", **options)
    options = options.replace(
        seed=spec["seed"], gpus=tuple(spec.get("gpus") or ()),
        labels={"study": spec["study"], "model": spec["model"], "run": spec["run"]},
    )
    log = Path(spec["run_dir"]).parent / f"{Path(spec['run_dir']).name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as notes:
        def note(text: str) -> None:
            notes.write(text.rstrip() + "\n")
            notes.flush()

        task = Task.load(find_task(spec.get("task_dir") or spec["task"]))
        model = resolve_model(spec["model"], task=task, echo=note, temperature=options.temperature,
                              seed=options.seed)
        tool_calls_mode(model, options)  # as solve: refused in one line, never ignored

        def on_step(info: Any) -> None:
            emit({"event": "step", "n": info.n, "max_steps": info.max_steps, "action": info.action,
                  "best": info.best, "cost": info.cost})

        result = Episode(task, model, Path(spec["run_dir"]), options, on_step=on_step,
                         on_status=lambda text: emit({"event": "status", "text": text}),
                         on_phase=lambda name, detail: emit({"event": "phase", "name": name,
                                                             "detail": detail})).run()
    done = {"event": "done", "exit_status": result.exit_status, "final_metrics": result.final_metrics,
            "steps": result.steps, "cost": result.cost, "wall_time_s": result.wall_time_s}
    emit(done)
    return done


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the scheduler dies (Linux)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    _die_with_parent()
    payload = json.loads(argv[0])
    if payload.get("parent") and os.getppid() != payload["parent"]:
        return 3  # the scheduler died before we could tie our fate to it

    def emit(event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event, default=str) + "\n")
        sys.stdout.flush()

    try:
        run_spec(payload["spec"], payload["options"], emit)
    except AciError as err:  # HarnessError included; a --tools file the registry refuses too
        emit({"event": "error", "message": str(err)})
        return 2
    except KeyboardInterrupt:
        emit({"event": "error", "message": "interrupted"})
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
