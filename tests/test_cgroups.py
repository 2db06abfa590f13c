"""Cgroup limits against fake cgroupfs trees (v1, v2 delegated, v2 not delegated, none):
which files get written with what, and what `harness sandbox check` says about it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.sandbox import cgroups
from harness.sandbox.cgroups import CgroupHost, CgroupLimiter, systemd_argv
from harness.sandbox.check import limit_probes
from harness.sandbox.core import child_setup, nproc_uid
from harness.sandbox.hostuser import HostIds
from harness.sandbox.limits import Limits

GIB = 1 << 30
USER = "/user.slice/user-1000.slice/user@1000.service/app.slice"


def _group(path: Path, *, controllers: str = "", procs: str = "", delegate: bool = False) -> Path:
    """A directory shaped like a cgroup (the kernel would fill in the files)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "cgroup.controllers").write_text(controllers)
    (path / "cgroup.subtree_control").write_text("")
    (path / "cgroup.procs").write_text(procs)
    if delegate:
        os.setxattr(path, "user.delegate", b"1")
    return path


def _no_rehome(pid: int) -> str | None:
    raise AssertionError("systemd must not be asked when the own group is delegated")


def _lines(limiter: CgroupLimiter, limits: Limits, ids: HostIds | None = None) -> dict[str, tuple[bool, str]]:
    probes = limit_probes(limits, limiter, nproc_uid(limits, limiter, ids))
    return {p.name.removeprefix("limit: "): (not p.warn, p.detail) for p in probes}


def test_v1_writes_each_hierarchy_as_before(tmp_path):
    text = "9:name=systemd:/\n8:pids:/docker/abc\n4:memory:/docker/abc\n1:cpu:/\n0::/\n"
    for controller in ("pids", "memory"):
        (tmp_path / controller / "docker" / "abc").mkdir(parents=True)
    limiter = CgroupLimiter(100, 2 * GIB, host=CgroupHost(tmp_path, text))
    assert limiter.kinds == {"pids": "cgroup v1", "memory": "cgroup v1"} and not limiter.notes
    pids_dir, memory_dir = limiter.dirs
    assert pids_dir.parent == tmp_path / "pids/docker/abc" and memory_dir.parent == tmp_path / "memory/docker/abc"
    assert pids_dir.name.startswith(f"harness-{os.getpid()}-")
    assert (pids_dir / "pids.max").read_text() == "100"
    assert (memory_dir / "memory.limit_in_bytes").read_text() == str(2 * GIB)
    limiter.enter()
    assert (pids_dir / "cgroup.procs").read_text() == str(os.getpid())
    (pids_dir / "pids.events").write_text("max 7\n")
    assert limiter.pids_refused() == 7
    lines = _lines(limiter, Limits(processes=100, memory_mb=2048))
    assert lines["processes"] == (True, "cgroup v1: at most 100 processes in the whole sandbox (pids.max)")
    assert lines["memory"][0] and lines["memory"][1].startswith("cgroup v1: 2048 MiB for the whole sandbox")


def test_v2_delegated_group_is_split_into_a_leaf_and_one_group_per_sandbox(tmp_path):
    own = f"{USER}/harness-own.scope"
    scope = _group(tmp_path / own.lstrip("/"), controllers="cpu memory pids",
                   procs=f"{os.getpid()}\n", delegate=True)
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc")
    host = CgroupHost(tmp_path, f"0::{own}\n", rehome=_no_rehome)
    limiter = CgroupLimiter(64, 3 * GIB, host=host)
    assert limiter.kinds == {"pids": "cgroup v2", "memory": "cgroup v2"} and not limiter.notes
    # no internal processes: the harness moved into a leaf before the controllers were enabled
    assert (scope / "main" / "cgroup.procs").read_text() == str(os.getpid())
    assert (scope / "cgroup.subtree_control").read_text() == "+pids +memory"
    [sandbox] = limiter.dirs
    assert sandbox.parent == scope and sandbox.name.startswith(f"harness-{os.getpid()}-")
    assert (sandbox / "pids.max").read_text() == "64"
    assert (sandbox / "memory.max").read_text() == str(3 * GIB)
    assert (sandbox / "memory.swap.max").read_text() == "0" and limiter.swap
    # a second sandbox of the same process reuses the split group
    second = CgroupLimiter(10, 0, host=host)
    assert second.kinds == {"pids": "cgroup v2"} and second.dirs[0].parent == scope
    assert not (second.dirs[0] / "memory.max").exists()
    lines = _lines(limiter, Limits(processes=64, memory_mb=3072))
    assert lines["processes"] == (True, "cgroup v2: at most 64 processes in the whole sandbox (pids.max)")
    assert lines["memory"][1].startswith("cgroup v2: 3072 MiB for the whole sandbox, no swap")


def test_v2_delegated_group_without_memory_gives_pids_and_says_so(tmp_path):
    own = f"{USER}/harness-pidsonly.scope"
    _group(tmp_path / own.lstrip("/"), controllers="pids", procs=f"{os.getpid()}\n", delegate=True)
    (tmp_path / "cgroup.controllers").write_text("memory pids")
    limiter = CgroupLimiter(64, GIB, host=CgroupHost(tmp_path, f"0::{own}\n", rehome=_no_rehome))
    assert limiter.controllers() == ["pids"]
    assert limiter.notes == ["memory: not enabled in the delegated group harness-pidsonly.scope"]
    enforced, detail = _lines(limiter, Limits(processes=64, memory_mb=1024))["memory"]
    assert not enforced and detail.startswith("RLIMIT_AS only: 1024 MiB per process;")


def test_v2_not_delegated_asks_systemd_for_a_delegated_scope(tmp_path):
    """A terminal's session scope is not ours to split: systemd moves the harness into a
    scope of its own (here the fake systemd does what the real one does to the tree)."""
    session = "/user.slice/user-1000.slice/session-2.scope"
    _group(tmp_path / session.lstrip("/"), controllers="memory pids", procs=f"1234\n{os.getpid()}\n")
    (tmp_path / "cgroup.controllers").write_text("memory pids")
    host = CgroupHost(tmp_path, f"0::{session}\n")
    asked = []

    def systemd(pid: int) -> str | None:
        asked.append(pid)
        scope = f"{USER}/harness-{pid}.scope"
        _group(tmp_path / scope.lstrip("/"), controllers="memory pids", procs=f"{pid}\n")
        host.self_cgroup = f"0::{scope}\n"
        return None

    host.rehome = systemd
    limiter = CgroupLimiter(32, GIB, host=host)
    assert asked == [os.getpid()]
    scope = tmp_path / f"{USER.lstrip('/')}/harness-{os.getpid()}.scope"
    assert limiter.kinds == {"pids": "cgroup v2", "memory": "cgroup v2"}
    assert limiter.dirs[0].parent == scope and (limiter.dirs[0] / "pids.max").read_text() == "32"
    assert (tmp_path / session.lstrip("/") / "cgroup.subtree_control").read_text() == ""  # left alone
    argv = systemd_argv(4321, root=False)
    assert argv[:2] == ["busctl", "--user"] and "StartTransientUnit" in argv
    assert argv[argv.index("PIDs"):argv.index("PIDs") + 4] == ["PIDs", "au", "1", "4321"]
    assert argv[argv.index("Delegate"):argv.index("Delegate") + 3] == ["Delegate", "b", "true"]
    assert "harness-4321.scope" in argv and systemd_argv(1, root=True)[1] == "--system"


def test_v2_not_delegated_and_no_systemd_falls_back_to_rlimits(tmp_path):
    session = "/user.slice/user-1000.slice/session-2.scope"
    _group(tmp_path / session.lstrip("/"), controllers="memory pids", procs=f"{os.getpid()}\n")
    (tmp_path / "cgroup.controllers").write_text("memory pids")
    host = CgroupHost(tmp_path, f"0::{session}\n", rehome=lambda pid: "Failed to connect to bus: No medium found")
    limiter = CgroupLimiter(32, GIB, host=host)
    assert limiter.dirs == [] and limiter.kinds == {}
    assert "not delegated" in limiter.notes[0] and "No medium found" in limiter.notes[0]
    assert not list((tmp_path / session.lstrip("/")).glob("harness-*"))  # nothing written there
    lines = _lines(limiter, Limits(processes=32, memory_mb=1024), HostIds(1000, 1000))
    enforced, detail = lines["processes"]
    assert enforced and detail.startswith("RLIMIT_NPROC: 32 processes beyond those host uid 1000 already runs")
    assert "No medium found" in detail
    assert not lines["memory"][0] and "RLIMIT_AS only: 1024 MiB per process;" in lines["memory"][1]


def test_no_cgroups_at_all(tmp_path):
    limiter = CgroupLimiter(32, GIB, host=CgroupHost(tmp_path / "absent", ""))
    assert limiter.dirs == [] and "no cgroup v2 hierarchy" in limiter.notes[0]
    lines = _lines(limiter, Limits(processes=0, memory_mb=0))
    assert lines["processes"] == (False, "none: disabled (processes=0)")
    assert lines["memory"] == (False, "none: disabled (memory_mb=0)")
    assert lines["time"][0] and not lines["GPU memory"][0] and not lines["CPU threads"][0]
    assert lines["disk"][0] and "20480 MiB" in lines["disk"][1]


def test_rlimit_nproc_is_set_when_no_pids_group_is_usable(tmp_path):
    """The real child setup: without a pids group the child gets RLIMIT_NPROC, with one it does not."""
    none = CgroupLimiter(77, 0, host=CgroupHost(tmp_path / "absent", ""))
    uid = os.getuid()
    before = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _uid(p) == uid)
    got = subprocess.run(["bash", "-c", "ulimit -u"], capture_output=True, text=True,
                         preexec_fn=child_setup(Limits(processes=77), none, None)).stdout.strip()
    assert got.isdigit() and abs(int(got) - (before + 77)) <= 10, (got, before)
    (tmp_path / "pids" / "x").mkdir(parents=True)
    with_pids = CgroupLimiter(77, 0, host=CgroupHost(tmp_path, "8:pids:/x\n"))
    assert with_pids.controllers() == ["pids"] and nproc_uid(Limits(processes=77), with_pids, None) is None
    unlimited = subprocess.run(["bash", "-c", "ulimit -u"], capture_output=True, text=True).stdout.strip()
    assert subprocess.run(["bash", "-c", "ulimit -u"], capture_output=True, text=True,
                          preexec_fn=child_setup(Limits(processes=77), with_pids, None)).stdout.strip() == unlimited


def _uid(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each fake tree is set up from scratch (the real code does it once per process)."""
    yield
    cgroups._bases.clear()
