"""`harness replay`: re-execute a recorded trajectory and report what changed.

The recorded actions are fed to a fresh episode as the model's replies; then the
new trajectory is compared with the old one step by step (observations and
scores), so a task author sees exactly where a task or the harness stopped
reproducing a run.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.models.replay import ReplayModel
from harness.run.episode import Episode, EpisodeSettings
from harness.run.trajectory import read_records
from harness.task.spec import Task, find_task

_VOLATILE = ("seconds", "took", "elapsed", "time")


def _scores(records: list[dict]) -> list[dict]:
    return [r.get("metrics") or {} for r in records if r.get("kind") == "score"]


def _same_metrics(a: dict, b: dict, rel: float = 1e-6) -> bool:
    if set(a) != set(b):
        return False
    return all(math.isclose(float(a[k]), float(b[k]), rel_tol=rel, abs_tol=1e-9) for k in a)


def replay_and_compare(trajectory: Path, task_ref: str, out: Path | None,
                       echo: Callable[[str], None] = print) -> bool:
    """Replay and print the differences; True when every score reproduced."""
    task = Task.load(find_task(task_ref))
    model = ReplayModel.from_file(trajectory)
    old = list(read_records(trajectory)) if Path(trajectory).suffix != ".traj" else []
    run_dir = out or Path(tempfile.mkdtemp(prefix="harness-replay-")) / "run"
    result = Episode(task, model, run_dir, EpisodeSettings(max_steps=len(model.actions) + 1)).run()
    new = list(read_records(run_dir))
    old_steps = {r["n"]: r for r in old if r.get("kind") == "step"}
    differing = 0
    for step in (r for r in new if r.get("kind") == "step"):
        before = old_steps.get(step["n"])
        if before is None:
            continue
        if before.get("observation") != step.get("observation"):
            differing += 1
            echo(f"step {step['n']}: observation differs ({step.get('action', '').splitlines()[0][:60]})")
    old_scores, new_scores = _scores(old), _scores(new)
    scores_ok = len(old_scores) == len(new_scores) and all(
        _same_metrics(a, b) for a, b in zip(old_scores, new_scores, strict=False)
    )
    for index, (a, b) in enumerate(zip(old_scores, new_scores, strict=False), 1):
        mark = "same" if _same_metrics(a, b) else "DIFFERENT"
        echo(f"score {index}: recorded {a} · replayed {b} · {mark}")
    if len(old_scores) != len(new_scores):
        echo(f"recorded {len(old_scores)} scores, replay produced {len(new_scores)}")
    echo(f"replayed {result.steps} steps into {run_dir}: {differing} observations differ; "
         f"scores {'reproduced' if scores_ok else 'did NOT reproduce'}; exit {result.exit_status}")
    return scores_ok or not old
