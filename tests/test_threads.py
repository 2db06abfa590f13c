"""The numeric libraries' thread counts inside real sandboxes: solve's default (the CPUs
this process may use), ``--threads``, a bench study's split, and the affinity mask."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from chat_server import ChatServer
from click.testing import CliRunner

from harness.cli import main as cli
from harness.run.trajectory import read_records
from harness.sandbox.threads import THREAD_VARS, usable_cpus

REPO = Path(__file__).resolve().parent.parent
ECHO = ("echo THREADS=$OMP_NUM_THREADS,$MKL_NUM_THREADS,$OPENBLAS_NUM_THREADS,$VECLIB_MAXIMUM_THREADS "
        "WAIT=$OMP_WAIT_POLICY XLA=$XLA_FLAGS")


def say(command: str) -> str:
    return f"DISCUSSION\nChecking the threads.\n\n```\n{command}\n```\n"


def seen(observation: str) -> tuple[str, str]:
    """(the thread counts, XLA_FLAGS) as the sandbox's shell printed them."""
    line = next(line for line in observation.splitlines() if line.startswith("THREADS="))
    counts, _, xla = line.partition(" XLA=")
    counts, _, wait = counts.partition(" WAIT=")
    assert wait == "PASSIVE"  # waiting OpenMP threads sleep rather than spin on a busy machine
    return counts.removeprefix("THREADS="), xla


def solve_echo(tmp_path: Path, *flags: str) -> tuple[str, str]:
    out = tmp_path / "run"
    with ChatServer([say(ECHO)], default=say("submit")) as server:
        outcome = CliRunner().invoke(cli, ["solve", "tasks/titanic", "--model", f"openai:m@{server.base_url}",
                                           "--max-steps", "1", "--no-memory", "-q", "--out", str(out), *flags])
    assert outcome.exit_code == 0, outcome.output
    step = next(r for r in read_records(out) if r["kind"] == "step")
    counts, xla = seen(step["observation"])
    recorded = json.loads((out / "results.json").read_text())["config"]["threads"]
    assert str(recorded) == counts.split(",")[0]  # results.json says what the sandbox was given
    return counts, xla


def test_solve_gives_the_sandbox_this_process_cpus_and_threads_overrides(titanic_env, tmp_path):
    cpus = usable_cpus()
    assert solve_echo(tmp_path / "default") == (",".join([str(cpus)] * 4), "" if cpus > 1 else
                                                "--xla_cpu_multi_thread_eigen=false")
    counts, xla = solve_echo(tmp_path / "three", "--threads", "3")
    assert counts == "3,3,3,3" and xla == ""
    counts, xla = solve_echo(tmp_path / "one", "--threads", "1")
    assert counts == "1,1,1,1" and "xla_cpu_multi_thread_eigen=false" in xla


def test_a_bad_thread_count_is_one_line(tmp_path, monkeypatch):
    outcome = CliRunner().invoke(cli, ["solve", "tasks/titanic", "--model", "demo", "--threads", "0"])
    assert outcome.exit_code == 2 and "--threads" in outcome.output
    monkeypatch.setenv("HARNESS_THREADS", "many")
    outcome = CliRunner().invoke(cli, ["task", "check", "titanic"])
    assert outcome.exit_code != 0 and "Traceback" not in outcome.output
    assert "HARNESS_THREADS='many': give a whole number of threads" in outcome.output


AFFINITY_PROBE = """
import os, sys, tempfile
from pathlib import Path
from harness.sandbox import Sandbox
from harness.study.scheduler import threads_per_episode
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
with tempfile.TemporaryDirectory() as tmp, Sandbox(Path(tmp)) as box:
    print(box.run("echo $OMP_NUM_THREADS").output.strip(), threads_per_episode(1))
"""


@pytest.mark.skipif(usable_cpus() < 2, reason="needs two usable CPUs to restrict the mask to one")
def test_the_thread_count_follows_the_affinity_mask():
    run = subprocess.run([sys.executable, "-c", AFFINITY_PROBE], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**_clean_env(), "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "1"]  # not the machine's usable_cpus() >= 2


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "HARNESS_THREADS" and k not in THREAD_VARS}


def test_a_parallel_study_splits_the_cpus_among_its_episodes(tmp_path):
    study = tmp_path / "study"
    with ChatServer([], default=say(ECHO)) as server:
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "bench", "--tasks", "titanic", "--models",
             f"openai:m@{server.base_url}", "--runs", "2", "--parallel", "2", "--max-steps", "1",
             "--out", str(study)],
            cwd=REPO, capture_output=True, text=True, timeout=300, env=_clean_env())
    assert done.returncode == 0, done.stderr
    split = max(1, usable_cpus() // 2)
    runs = sorted(p for p in (study / "episodes").glob("*/*/run-*") if p.is_dir())
    assert len(runs) == 2
    for run in runs:
        step = next(r for r in read_records(run) if r["kind"] == "step")
        assert seen(step["observation"])[0] == ",".join([str(split)] * 4)
        assert json.loads((run / "results.json").read_text())["steps"] == 1


def test_harness_make_fixes_the_threads_at_make(titanic_env, monkeypatch):
    import harness

    monkeypatch.setenv("HARNESS_THREADS", "3")
    env = harness.make("titanic", max_steps=3, aci_profile="harness")
    monkeypatch.setenv("HARNESS_THREADS", "1")  # too late: make already fixed its count
    try:
        env.reset()
        observation, *_ = env.step(say(ECHO))
        assert seen(observation)[0] == "3,3,3,3" and env.options.cpu_threads == 3
    finally:
        env.close()
    given = harness.make("titanic", cpu_threads=2)
    given.close()
    assert given.options.cpu_threads == 2
