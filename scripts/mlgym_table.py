"""Print, per built-in task, how its numbers line up with MLGym-Bench's.

For every task whose task.yaml links an MLGym task (the ``mlgym:`` block), one row:

- MLGym's published baseline (the ``baseline_scores`` of its task config);
- MLGym's own baseline files, unchanged, run and scored here: the files its config
  lists as starter code that are this task's submission or its baseline script are
  laid over a fresh workspace, the baseline script (if any) runs in the sandbox, and
  the workspace is scored by the task's scorer, exactly as ``harness score`` does;
- our built-in baseline's score (task.yaml ``baseline``);
- with ``--replay``, one published Claude-3.5 trajectory replayed: recorded against
  replayed score.

Usage (``PATH`` is a checkout of github.com/facebookresearch/MLGym)::

    python scripts/mlgym_table.py --mlgym PATH [--replay] [--task sat_3 ...]

A task whose data or GPU is missing here gets its reason in the row instead of a
number: the table says why a cell is empty rather than leaving it blank.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.errors import HarnessError  # noqa: E402
from harness.scoring.scorer import Scorer, run_baseline  # noqa: E402
from harness.task.env import TaskEnv  # noqa: E402
from harness.task.spec import Task  # noqa: E402

REPLAY_MODEL = "metagen-claude-35-sonnet-new"


def say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def linked_tasks(names: list[str]) -> list[Task]:
    tasks = []
    for directory in sorted((REPO / "tasks").iterdir()):
        if not (directory / "task.yaml").is_file():
            continue
        if names and directory.name not in names:
            continue
        task = Task.load(directory)
        if task.mlgym is not None:
            tasks.append(task)
    return tasks


def mlgym_config(mlgym: Path, task_id: str) -> dict:
    for path in sorted((mlgym / "configs" / "tasks").glob("*.yaml")):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(config, dict) and config.get("id") == task_id:
            return config
    raise HarnessError(f"{mlgym}: no task config with id {task_id!r} under configs/tasks/")


def primary_value(task: Task, scores: dict[str, float]) -> float | None:
    """The task's primary metric out of MLGym-named or our-named scores."""
    primary = task.primary.name
    names = [m.name for m in task.metrics]
    for key, value in scores.items():
        ours = task.mlgym.our_metric(key, names) if task.mlgym else key
        if ours == primary and isinstance(value, (int, float)):
            return float(value)
    return None


def baseline_files(config: dict, task: Task) -> tuple[list[str], str | None]:
    """MLGym's starter files that make up its baseline: the task's submission files and
    the baseline script; and the command that runs the script (None: the file is the
    submission)."""
    evaluation = {Path(p).name for p in config.get("evaluation_paths") or []}
    baseline_paths = [p for p in config.get("baseline_paths") or [] if Path(p).name not in evaluation]
    wanted = {Path(p).parts[0] for p in task.submission} | {Path(p).parts[0] for p in baseline_paths}
    files = [p for p in config.get("starter_code") or [] if Path(p).name in wanted]
    command = f"python {baseline_paths[0]}" if baseline_paths else None
    return files, command


def score_mlgym_baseline(mlgym: Path, task: Task, config: dict) -> str:
    if task.needs.gpus:
        return "not run: needs a GPU"
    if task.data is not None:
        from harness.task.prepare import require_prepared

        try:
            require_prepared(task)
        except HarnessError as err:
            return f"not run: {err}"
    files, command = baseline_files(config, task)
    if not files:
        return "not run: MLGym lists no baseline file that is this task's submission"
    env = TaskEnv.ensure(task, progress=say)
    with tempfile.TemporaryDirectory(prefix=f"mlgym-table-{task.id}-") as tmp:
        workspace = Path(tmp) / "workspace"
        task.make_workspace(workspace)
        for rel in files:
            source = mlgym / rel
            target = workspace / source.name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
        if command is not None:
            say(f"{task.id}: running MLGym's `{command}` in the sandbox")
            try:
                run_baseline(task, env, workspace, command)
            except HarnessError as err:
                return f"failed: {str(err)[:120]}"
        say(f"{task.id}: scoring MLGym's baseline files")
        score = Scorer(task, env).score(workspace)
    if not score.ok:
        return f"rejected: {str(score.error)[:80]}"
    return f"{score.metrics[task.primary.name]:.4f}"


def replay_published(mlgym: Path, task: Task) -> str:
    runs = sorted((mlgym / "trajectories" / "mlgym_bench_v0").glob(
        f"{REPLAY_MODEL}__{task.mlgym.id}__*run_0"))
    if not runs:
        return "no published trajectory"
    trajectory = next(iter(sorted(runs[0].glob("*.traj"))), None)
    if trajectory is None:
        return "no .traj file"
    say(f"{task.id}: replaying {runs[0].name}")
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "replay", str(trajectory), "--task", str(task.dir)],
        capture_output=True, text=True, cwd=REPO,
    )
    lines = [line for line in done.stdout.splitlines() if " · replayed " in line]
    if not lines:
        tail = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        return f"replay failed: {tail[:80]}"
    agreeing = sum(1 for line in lines if line.endswith(" · same") or " · within noise" in line)
    last = lines[-1].split(" · ")
    return f"{agreeing} of {len(lines)} scores agree; last: {last[0]}, {last[1]} -> {last[2].removeprefix('replayed ')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlgym", type=Path, required=True, help="a checkout of MLGym")
    parser.add_argument("--task", action="append", default=[], help="only these tasks")
    parser.add_argument("--replay", action="store_true",
                        help="also replay a published Claude-3.5 trajectory per task")
    args = parser.parse_args(argv)
    rows = []
    for task in linked_tasks(args.task):
        config = mlgym_config(args.mlgym, task.mlgym.id)
        published = primary_value(task, (config.get("baseline_scores") or [{}])[0])
        try:
            theirs = score_mlgym_baseline(args.mlgym, task, config)
        except HarnessError as err:
            theirs = f"error: {err}"
        ours = task.baseline.get(task.primary.name)
        replay = replay_published(args.mlgym, task) if args.replay else ""
        scale = "yes" if task.mlgym.same_scale else f"no: {task.mlgym.differs}"
        rows.append((task.id, task.mlgym.id, task.primary.name,
                     "" if published is None else f"{published:.4f}", theirs,
                     "" if ours is None else f"{ours:.4f}"
                     + (" (published)" if task.baseline_source == "published" else ""),
                     replay, scale))
        say(f"{task.id}: done")
    header = ("task", "MLGym id", "metric", "MLGym published baseline",
              "MLGym's baseline files, scored here", "our baseline",
              "Claude-3.5 run_0 replayed", "benchmark scale")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
