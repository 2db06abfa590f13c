"""Scorer of a task imported from MLGym: runs MLGym's own evaluation script, unchanged.

``harness task import-mlgym`` copies this file, as it is, to the imported task's
``scoring/score.py``; ``scoring/mlgym.json`` beside it says what to run. For each
submission it rebuilds MLGym's workspace in a fresh directory: the task's pristine
``workspace/`` (starter code and public data, never the agent's copies), then
``scoring/hidden/`` on top (the evaluation script and the answers the agent never
sees), then the submission's files. The evaluation script runs there with the task
environment's Python, in a child sandbox (nested bwrap: no network, this scorer's
directory hidden, the system read-only) where that directory is
``/home/agent/workspace`` and the current directory, as in MLGym's container, so
scripts that use absolute paths find their files. Its stdout's JSON object is the
score: MLGym's metric names are mapped to the task's, and an evaluation that
prints none, or fails, is an invalid submission (one line).

As in MLGym, the evaluation script imports a Python submission (a strategy, a
heuristic) into its own process: such code can print a score of its choosing.
Tasks written by hand for this harness run submitted code apart from the scorer
(``harness_submitted``); an imported task trusts its submission as MLGym does.

Runs inside the scorer's sandbox: standard library plus the scoring helpers only.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from harness_scoring import SubmissionError, run, task_workspace
from harness_submitted import isolated_command

HERE = Path(__file__).resolve().parent
MLGYM_WORKSPACE = "/home/agent/workspace"
"""Where MLGym's container keeps the agent's workspace; evaluation scripts name it."""
_TAIL = 300


def _config() -> dict:
    return json.loads((HERE / "mlgym.json").read_text(encoding="utf-8"))


def _copy(source: Path, target: Path) -> None:
    """Copy a file or a tree onto ``target``, replacing what is there, writable."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False)
    else:
        shutil.copyfile(source, target)


def _writable(root: Path) -> None:
    """MLGym's workspace is the agent's own: its scripts may write beside themselves."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IWUSR | stat.S_IRUSR | (stat.S_IXUSR if path.is_dir() else 0))


def build_workspace(submission_dir: Path, work: Path, config: dict) -> None:
    """MLGym's workspace for one evaluation: starter code and data, the hidden
    evaluation files, the submission on top."""
    shutil.copytree(task_workspace(), work, symlinks=False)
    hidden = HERE / "hidden"
    if hidden.is_dir():
        shutil.copytree(hidden, work, dirs_exist_ok=True, symlinks=False)
    for rel in config["submission"]:
        source = submission_dir / rel
        if not source.exists():
            raise SubmissionError(f"{rel} not found: the submission is {', '.join(config['submission'])}")
        _copy(source, work / rel)
    _writable(work)


def _isolated(work: Path, command: list[str]) -> tuple[list[str], int | None]:
    """The child sandbox's command line and the seccomp filter's fd (or None): the
    scorer's files and /home hidden, MLGym's workspace path writable."""
    return isolated_command(
        command,
        mounts=["--tmpfs", str(HERE), "--tmpfs", "/home", "--bind", str(work), MLGYM_WORKSPACE],
        chdir=MLGYM_WORKSPACE,
        env={"HOME": "/home/agent", "MPLBACKEND": "Agg"},
    )


def metrics_from_output(stdout: str, names: dict[str, str]) -> dict[str, float]:
    """The task's metrics from the evaluation's stdout: its last JSON object line,
    MLGym's names mapped to ours (case-insensitively, as MLGym's own names vary)."""
    found = None
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                found = value
                break
    if found is None:
        raise SubmissionError("the evaluation printed no JSON metrics")
    folded = {str(key).lower(): value for key, value in found.items()}
    metrics = {}
    for theirs, ours in names.items():
        value = folded.get(theirs.lower())
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            shown = ", ".join(found) or "nothing"
            raise SubmissionError(f"the evaluation reported no number for {theirs} (it reported {shown})")
        if not math.isfinite(value):
            raise SubmissionError(f"the evaluation reported {theirs} = {value}")
        metrics[ours] = float(value)
    return metrics


def score(submission_dir: Path) -> dict[str, float]:
    config = _config()
    with tempfile.TemporaryDirectory(prefix="mlgym-eval-") as tmp:
        work = Path(tmp) / "workspace"
        build_workspace(submission_dir, work, config)
        command = [sys.executable, config["evaluate"], *config.get("args", [])]
        argv, fd = _isolated(work, command)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                                  timeout=config.get("timeout"), pass_fds=() if fd is None else (fd,))
        except subprocess.TimeoutExpired:
            raise SubmissionError(f"the evaluation took more than {config.get('timeout')} s") from None
        finally:
            if fd is not None:
                os.close(fd)
    try:
        return metrics_from_output(done.stdout, config["metrics"])
    except SubmissionError as err:
        if done.returncode == 0:
            raise
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        raise SubmissionError(f"the evaluation failed (exit {done.returncode}): {last[:_TAIL]}") from err


if __name__ == "__main__":
    run(score)
