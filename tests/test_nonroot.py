"""The README's first command as an ordinary user (here: nobody), the way most people
run the harness: the demo episode submits with a valid score, and `harness sandbox
check` run as that user says which limits hold for it."""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


def _as_nobody(argv: list[str], home: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``python -m harness.cli ARGV`` as nobody from nobody's own virtual environment,
    as a user who followed the README would. It is made from the distribution's
    interpreter (this venv's may sit under /root) and its site-packages is this venv's,
    bind-mounted in a private mount namespace (nothing is copied, the host's mount table
    never sees it); the checkout is staged where nobody can read it (tox's .tox is 0700),
    as a root harness stages bwrap's sources."""
    from harness.sandbox.hostuser import HostIds, Stage, _libc, _mount, drop_to

    python = shutil.which("python3", path="/usr/bin:/bin")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python is None or subprocess.run([python, "-c", "import sys; print(sys.version[:4])"],
                                        capture_output=True, text=True).stdout.strip() != version:
        pytest.skip(f"no system python{version} to run the harness as another user")
    ours = next(p for p in site.getsitepackages() if (Path(p) / "numpy").is_dir())
    venv = home / "venv"
    if not venv.exists():
        subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    theirs = venv / "lib" / f"python{version}" / "site-packages"
    stage_dir = Path(tempfile.mkdtemp(prefix="stage-", dir=home))
    os.chmod(stage_dir, 0o755)
    stage = Stage(stage_dir)
    repo = stage.path(str(REPO))
    env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "HOME": str(home), "HARNESS_CACHE_DIR": str(home / "cache"),
           "HARNESS_DATA_DIR": str(home / "data"), "LANG": "C.UTF-8", "PYTHONPATH": repo,
           "HARNESS_THREADS": "1"}  # one thread per sandbox: CI machines are small and shared

    def become_nobody() -> None:
        stage.mount_in_child()  # also makes the mount namespace private
        _mount(_libc(), ours.encode(), str(theirs).encode(), 0x1000 | 0x4000)  # MS_BIND | MS_REC
        drop_to(HostIds(NOBODY, NOBODY))
        os.chdir(repo)  # after the mounts: the staged checkout, not the empty directory under it

    return subprocess.run([str(venv / "bin" / "python"), "-m", "harness.cli", *argv], env=env,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=become_nobody)


@pytest.fixture
def nobody_home():
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user")
    home = Path(tempfile.mkdtemp(prefix="harness-nobody-"))  # pytest's tmp_path is 0700 under root's
    os.chmod(home, 0o755)
    os.chown(home, NOBODY, NOBODY)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow  # ~30 s: a whole training episode
def test_the_readme_demo_runs_as_an_ordinary_user_and_the_check_states_its_limits(nobody_home):
    out = nobody_home / "run"
    solved = _as_nobody(["solve", "tasks/house_price", "--model", "demo", "--out", str(out), "-q"],
                        nobody_home, timeout=300)
    assert solved.returncode == 0, solved.stdout[-2000:] + solved.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["exit_status"] == "submitted", results
    assert 0.5 < results["final_metrics"]["r2"] <= 1.0, results  # the baseline's r2 is ~0.88
    start = json.loads((out / "trajectory.jsonl").read_text().splitlines()[0])
    assert start["sandbox"]["host_uid"] == NOBODY and start["sandbox"]["seccomp"], start["sandbox"]

    check = _as_nobody(["sandbox", "check"], nobody_home, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = {m[2]: line for line in check.stdout.splitlines()
             if (m := re.match(r"(pass|warn)  (limit: [^:]+): ", line))}
    assert set(lines) == {f"limit: {n}" for n in ("processes", "memory", "disk", "time", "CPU threads",
                                                  "GPU memory")}, check.stdout
    # What the check says agrees with what bounded the episode's sandbox (its start record):
    # here nobody can write no cgroup (v1, root's), so RLIMIT_NPROC bounds its processes.
    if "pids" in start["sandbox"]["cgroups"]:
        assert lines["limit: processes"].startswith("pass  limit: processes: cgroup v"), check.stdout
    else:
        assert lines["limit: processes"].startswith(
            f"pass  limit: processes: RLIMIT_NPROC: 512 processes beyond those host uid {NOBODY} already runs")
    if "memory" in start["sandbox"]["cgroups"]:
        assert lines["limit: memory"].startswith("pass  limit: memory: cgroup v"), check.stdout
    else:
        assert lines["limit: memory"].startswith("warn  limit: memory: RLIMIT_AS only: 8192 MiB per process")
    assert lines["limit: GPU memory"].startswith("warn") and lines["limit: time"].startswith("pass")
