"""Faults at random moments: a hanging server, and kill -9 of `harness solve` and `harness bench`.

Whatever moment a run is killed at, its trajectory reads back without a corrupted
line, results files are whole JSON or absent, and a study resumed afterwards ends
with exactly its set of episodes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chat_server import ChatServer, Delay

from harness.models.openai import OpenAIModel, OpenAISettings
from harness.run.episode import Episode
from harness.run.options import EpisodeOptions
from harness.run.trajectory import read_records

REPO = Path(__file__).resolve().parent.parent
KILLS = 20


def say(command: str) -> str:
    return f"DISCUSSION\nNext.\n\n```\n{command}\n```\n"


def test_a_server_that_hangs_mid_episode_ends_it_with_exit_error_and_keeps_the_steps(house_price, tmp_path):
    with ChatServer([say("ls"), say("python baseline.py")], default=Delay(30, say("ls"))) as server:
        model = OpenAIModel(OpenAISettings(model="m", base_url=server.base_url, timeout_s=0.5,
                                           max_attempts=2, backoff_s=0.01, backoff_max_s=0.02))
        result = Episode(house_price, model, tmp_path / "run", EpisodeOptions()).run()
    assert result.exit_status == "exit_error" and "timed out" in (result.error or "")
    steps = [r for r in read_records(tmp_path / "run") if r["kind"] == "step"]
    assert [s["action"] for s in steps] == ["ls", "python baseline.py"]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["exit_status"] == "exit_error" and results["steps"] == 2


def _whole_json_or_absent(path: Path) -> None:
    if path.exists():
        json.loads(path.read_text())  # raises on a half-written file


@pytest.mark.slow
def test_kill_9_of_solve_at_random_moments_never_corrupts_the_record(tmp_path):
    rng = random.Random(1234)
    script = [say("ls"), say("python baseline.py"), say("validate"), say("cat evaluate.py")]
    with ChatServer(script, default=Delay(0.05, say("ls -la data"))) as server:
        for attempt in range(KILLS):
            run_dir = tmp_path / f"run-{attempt}"
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.cli", "solve", "tasks/house_price", "-q", "--max-steps", "30",
                 "--model", f"openai:m@{server.base_url}", "--out", str(run_dir)],
                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 2.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            if (run_dir / "trajectory.jsonl").exists():
                records = list(read_records(run_dir))  # may be empty: killed before the first line
                assert all(isinstance(r.get("kind"), str) for r in records)
                assert not records or records[0]["kind"] == "start"
            _whole_json_or_absent(run_dir / "results.json")


@pytest.mark.slow
def test_kill_9_of_bench_at_random_moments_then_resume_finishes_the_study(tmp_path):
    rng = random.Random(99)
    study = tmp_path / "study"
    args = [sys.executable, "-m", "harness.cli", "bench", "--tasks", "titanic", "--models", "demo,demo-baseline",
            "--runs", "2", "--parallel", "2", "--out", str(study)]
    for attempt in range(KILLS):
        proc = subprocess.Popen(args + (["--resume"] if attempt else []), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 2.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for path in study.glob("episodes/*/*/run-*"):
            if (path / "trajectory.jsonl").exists():
                list(read_records(path))
            _whole_json_or_absent(path / "results.json")
        _whole_json_or_absent(study / "study.json")
    finished = subprocess.run(args + ["--resume"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    keys = sorted(str(p.parent.relative_to(study / "episodes")) for p in study.glob("episodes/*/*/run-*/results.json"))
    assert keys == ["titanic/demo-baseline/run-1", "titanic/demo-baseline/run-2",
                    "titanic/demo/run-1", "titanic/demo/run-2"]
    assert sorted(p.name for p in (study / "episodes" / "titanic" / "demo").iterdir()
                  if p.is_dir()) == ["run-1", "run-2"]
    time.sleep(0.3)
    leftovers = subprocess.run(["pgrep", "-f", f"harness.study.worker.*{study}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
