"""`harness bench`: real studies with the demo model and a real chat server, killed and resumed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from chat_server import ChatServer, ToolCall

from harness.errors import HarnessError
from harness.run.options import EpisodeOptions
from harness.run.trajectory import read_records
from harness.study.directory import Study, StudyError, make_config
from harness.study.worker import run_spec

REPO = Path(__file__).resolve().parent.parent


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", "bench", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def episode_results(study: Path) -> dict[str, dict]:
    found = {}
    for path in sorted((study / "episodes").glob("*/*/run-*/results.json")):
        found[str(path.parent.relative_to(study / "episodes"))] = json.loads(path.read_text())
    return found


def workers_of(study: Path) -> list[psutil.Process]:
    alive = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "harness.study.worker" in cmdline and str(study) in cmdline:
            alive.append(proc)
    return alive


def test_study_runs_every_episode_and_records_what_a_reproduction_needs(tmp_path):
    study = tmp_path / "study"
    looks_around = "DISCUSSION\nLooking around.\n\n```\nls\n```\n"
    with ChatServer([], default=looks_around) as server:
        scripted = f"openai:scripted@{server.base_url}"
        done = bench("--tasks", "titanic", "--models", f"demo,{scripted}", "--runs", "2", "--parallel", "2",
                     "--max-steps", "12", "--out", str(study))
    assert done.returncode == 0, done.stderr
    results = episode_results(study)
    assert len(results) == 4
    config = json.loads((study / "study.json").read_text())
    assert config["config"]["runs"] == 2 and len(config["config_hash"]) == 64
    assert config["environment"]["psutil"] and config["versions"]["harness"]
    for key, data in results.items():
        run = int(key.rsplit("-", 1)[1])
        assert data["labels"]["run"] == run and data["seed"] == run - 1
        assert data["task_version"] == config["config"]["task_versions"]["titanic"]
        assert data["host"]["cpu_count"] and data["versions"]["git_commit"]
        assert data["config"]["gpus"] == []
    demo = [d for d in results.values() if d["labels"]["model"] == "demo"]
    scripted_runs = [d for d in results.values() if d["labels"]["model"] != "demo"]
    assert all(d["exit_status"] == "submitted" and d["final_metrics"]["accuracy"] > d["baseline"]["accuracy"]
               for d in demo)
    # The scripted model never submits nor writes a submission: autosubmitted with no score.
    assert all(d["exit_status"].startswith("autosubmission") and d["steps"] == 12 and not d["final_metrics"]
               for d in scripted_runs)
    assert "4 of 4 episodes finished" in done.stdout
    assert (study / "tables" / "best.csv").is_file()
    header = (study / "tables" / "best.csv").read_text().splitlines()[0]
    assert "demo" in header and "baseline" in header


def test_kill_9_then_resume_finishes_the_same_episodes(tmp_path):
    study = tmp_path / "study"
    args = ["--tasks", "titanic", "--models", "demo", "--runs", "3", "--parallel", "1", "--out", str(study)]
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "bench", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not episode_results(study):
        time.sleep(0.1)
    time.sleep(0.5)  # well into the next episode
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = episode_results(study)
    assert 1 <= len(first) < 3
    time.sleep(0.5)
    assert workers_of(study) == []  # the workers died with the scheduler
    resumed = bench(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming:" in resumed.stderr
    final = episode_results(study)
    assert sorted(final) == ["titanic/demo/run-1", "titanic/demo/run-2", "titanic/demo/run-3"]
    for key, data in first.items():  # finished episodes are kept, not rerun
        assert final[key]["started"] == data["started"]
    assert all(d["exit_status"] == "submitted" for d in final.values())


def test_a_study_refuses_to_mix_configurations_or_writers(tmp_path):
    study = tmp_path / "study"
    config = make_config(["titanic"], ["demo"], 2)
    Study.open(study, config, resume=False).close()
    with pytest.raises(StudyError, match="--resume"):
        Study.open(study, config, resume=False)
    with pytest.raises(StudyError, match=r"runs: 2 -> 3"):
        Study.open(study, make_config(["titanic"], ["demo"], 3), resume=True)
    holder = Study.open(study, config, resume=True)
    try:
        other = subprocess.run(
            [sys.executable, "-m", "harness.cli", "bench", "--tasks", "titanic", "--models", "demo",
             "--runs", "2", "--out", str(study), "--resume"], cwd=REPO, capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert other.returncode == 2
    assert other.stderr.strip() == (f"error: another `harness bench` (pid {os.getpid()}) is writing to {study}: "
                                    "wait for it to finish or use another --out")
    bad = bench("--tasks", "titanic", "--models", "demo", "--runs", "0", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: --runs 0") and "Traceback" not in bad.stderr


def test_gpu_episodes_lease_one_device_each_and_wait_for_a_free_one(tmp_path):
    task = tmp_path / "titanic_gpu"
    shutil.copytree(REPO / "tasks" / "titanic", task)
    text = (task / "task.yaml").read_text().replace("id: titanic", "id: titanic_gpu", 1)
    (task / "task.yaml").write_text(text.replace("gpus: 0", "gpus: 1"))
    study = tmp_path / "study"
    done = bench("--tasks", str(task), "--models", "demo", "--runs", "3", "--parallel", "3",
                 "--gpus", "7,9", "--out", str(study))
    assert done.returncode == 0, done.stderr
    results = list(episode_results(study).values())
    assert len(results) == 3
    spans = [(r["config"]["gpus"], r["started"], r["ended"]) for r in results]
    assert all(gpus in ([7], [9]) for gpus, _, _ in spans)
    for i, (gpus_a, start_a, end_a) in enumerate(spans):  # a device is never shared at once
        for gpus_b, start_b, end_b in spans[i + 1:]:
            if gpus_a == gpus_b:
                assert end_a <= start_b or end_b <= start_a


# Run in a network namespace of its own with only `lo` up: Ray otherwise binds the
# machine's interface address and probes a public resolver to find it.
_LO_UP_THEN_BENCH = (
    "import fcntl, os, socket, struct, sys\n"
    "fcntl.ioctl(socket.socket(), 0x8914, struct.pack('16sh', b'lo', 0x1 | 0x40))  # SIOCSIFFLAGS up\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'harness.cli', 'bench', *sys.argv[1:]])\n"
)


def test_ray_executor_runs_the_same_study(tmp_path):
    pytest.importorskip("ray")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to keep Ray's traffic in a network namespace")
    study = tmp_path / "study"
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", _LO_UP_THEN_BENCH, "--tasks", "titanic",
                           "--models", "demo", "--runs", "2", "--parallel", "2", "--executor", "ray",
                           "--out", str(study)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = episode_results(study)
    assert sorted(results) == ["titanic/demo/run-1", "titanic/demo/run-2"]
    assert all(d["exit_status"] == "submitted" for d in results.values())


TEXT_ONLY = "--tool-calls needs a model served over the OpenAI API; demo writes its actions as text"


def test_tool_calls_are_refused_for_a_text_model_as_solve_refuses_them(tmp_path):
    study = tmp_path / "study"
    refused = bench("--tasks", "titanic", "--models", "demo", "--tool-calls", "--out", str(study), timeout=120)
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"error: {TEXT_ONLY}"
    assert not study.exists()  # refused before the study was made
    # A worker handed such options all the same refuses them in the same words, not silently.
    spec = {"task": "titanic", "model": "demo", "run": 1, "seed": 0, "study": "s",
            "run_dir": str(tmp_path / "episodes" / "run-1")}
    events = []
    with pytest.raises(HarnessError) as info:
        run_spec(spec, EpisodeOptions(tool_calls=True).to_json(), events.append)
    assert str(info.value) == TEXT_ONLY and events == []
    assert not (tmp_path / "episodes" / "run-1").exists()


def test_tool_calls_reach_the_episodes_of_a_study(tmp_path):
    study = tmp_path / "study"
    with ChatServer([], default=ToolCall("bash", {"command": "ls data"}, text="Look.")) as server:
        done = bench("--tasks", "titanic", "--models", f"openai:scripted@{server.base_url}", "--runs", "1",
                     "--max-steps", "2", "--tool-calls", "--out", str(study))
        requests = [r["json"] for r in server.chat_requests]
    assert done.returncode == 0, done.stderr
    assert len(requests) == 2 and all({t["function"]["name"] for t in r["tools"]} >= {"bash", "validate"}
                                      for r in requests)
    (run_dir,) = study.glob("episodes/titanic/*/run-1")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["config"]["tool_calls"] is True and results["steps"] == 2
    steps = [r for r in read_records(run_dir) if r["kind"] == "step"]
    assert [s["action"] for s in steps] == ["ls data", "ls data"] and steps[0]["thought"] == "Look."
    assert json.loads((study / "study.json").read_text())["config"]["tool_calls"] is True


def test_a_study_made_before_episode_options_resumes_with_the_same_settings(tmp_path):
    config = make_config(["titanic"], ["demo"], 2, EpisodeOptions(max_steps=12))
    first_format = {"tasks": ["titanic"], "models": ["demo"], "runs": 2, "seed": 0, "max_steps": 12,
                    "cost_limit": None, "context_tokens": None, "temperature": None, "tools": [],
                    "tool_calls": False, "task_versions": config.task_versions,
                    "task_dirs": config.task_dirs, "tool_hashes": {}}
    assert config.to_json() == first_format
    study = tmp_path / "study"
    study.mkdir()
    digest = hashlib.sha256(json.dumps(first_format, sort_keys=True).encode()).hexdigest()
    (study / "study.json").write_text(json.dumps({"format": 1, "config": first_format, "config_hash": digest}))
    Study.open(study, config, resume=True).close()
    longer = make_config(["titanic"], ["demo"], 2, EpisodeOptions(max_steps=12, wall_time=60))
    with pytest.raises(StudyError, match=r"wall_time: None -> 60\.0"):
        Study.open(study, longer, resume=True)


def test_a_misspelt_model_is_refused_before_the_study_starts(tmp_path):
    study = tmp_path / "study"
    done = bench("--tasks", "titanic", "--models", "demo,dmeo", "--runs", "1", "--out", str(study))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown model 'dmeo'" in lines[0], done.stderr
    assert not (study / "episodes").exists()  # no episode of 'demo' ran first


def test_a_study_refuses_to_resume_when_its_agent_config_file_changed(tmp_path):
    agent_config = tmp_path / "agent.yaml"
    agent_config.write_text("agent:\n  templates:\n    system_template: one\n")
    options = EpisodeOptions(agent_config=agent_config)
    study = tmp_path / "study"
    Study.open(study, make_config(["titanic"], ["demo"], 1, options), resume=False).close()
    Study.open(study, make_config(["titanic"], ["demo"], 1, options), resume=True).close()
    agent_config.write_text("agent:\n  templates:\n    system_template: two\n")  # same name, new prompts
    with pytest.raises(StudyError, match="agent-config"):
        Study.open(study, make_config(["titanic"], ["demo"], 1, options), resume=True)
