"""`harness sandbox check`: can this machine run sandboxes, and do they hold?"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.sandbox import seccomp
from harness.sandbox.bwrap import find_bwrap
from harness.sandbox.cgroups import CgroupLimiter
from harness.sandbox.core import Sandbox, nproc_uid
from harness.sandbox.limits import Limits, enforcement

USERNS_HELP = (
    "user namespaces look disabled: enable them with "
    "`sudo sysctl -w kernel.unprivileged_userns_clone=1` (Debian) or "
    "`sudo sysctl -w user.max_user_namespaces=15000`; on Ubuntu 23.10+ AppArmor "
    "blocks them: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` "
    "or install the system bubblewrap (apt-get install bubblewrap), which has an AppArmor profile"
)


_CANARY = "HARNESS_CHECK_CANARY"


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str = ""
    warn: bool = False
    """A limit this machine does not enforce: said, not a failure."""


def limit_probes(limits: Limits, cgroup: CgroupLimiter | None, nproc_uid: int | None) -> list[Probe]:
    """One line per kind of limit: enforced here, or not and why (issue 17: an
    ordinary user on cgroup v2 must know what bounds an agent's programs)."""
    from harness.sandbox.threads import default_threads
    from harness.task.spec import TaskLimits

    defaults = TaskLimits()
    lines = enforcement(
        limits, cgroup_kinds=cgroup.kinds if cgroup else {}, cgroup_notes=cgroup.notes if cgroup else [],
        no_swap=bool(cgroup and cgroup.swap), nproc_uid=nproc_uid,
        threads=limits.cpu_threads or default_threads(),
        command_timeout=defaults.command_timeout, wall_time=defaults.wall_time)
    return [Probe(f"limit: {line.name}", True, line.detail, warn=not line.enforced) for line in lines]


def _sysctl(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def userns_problem() -> str | None:
    """A sentence naming the setting that blocks user namespaces, or None."""
    if _sysctl("/proc/sys/kernel/unprivileged_userns_clone") == "0" and os.geteuid() != 0:
        return USERNS_HELP
    if _sysctl("/proc/sys/user/max_user_namespaces") == "0":
        return USERNS_HELP
    if _sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" and os.geteuid() != 0:
        return USERNS_HELP
    return None


def hardening_checks() -> list[tuple[str, str, bool]]:
    """(name, command, should succeed) for what issue-14-style attacks try first."""
    return [
        ("kernel knobs read-only", "echo core > /proc/sys/kernel/core_pattern", False),
        ("no host environment", f"cat /proc/1/environ /proc/self/environ | tr '\\0' '\\n' | grep -q {_CANARY}", False),
        ("shell not inspectable", "ls /proc/1/fd >/dev/null", False),
        ("no new user namespaces", "unshare -U true", False),
        ("no tracing", "python3 -c 'import ctypes,sys; sys.exit(ctypes.CDLL(None).ptrace(16, 1, 0, 0) != 0)'", False),
    ]


def owner_probe(sandbox: Sandbox, workspace: Path) -> Probe:
    """Who files written inside belong to on the host: never root."""
    sandbox.run("touch owner-probe", timeout=10)
    try:
        uid = (workspace / "owner-probe").lstat().st_uid
    except OSError as err:
        return Probe("not host root", False, f"the probe file was not written: {err}")
    if uid == 0:
        return Probe("not host root", False, "sandbox processes run as host uid 0")
    return Probe("not host root", True, f"sandbox processes run as host uid {uid}")


def probes() -> Iterator[Probe]:
    """Each line of the self-check, in order; stops early when nothing more can run."""
    try:
        bwrap, origin = find_bwrap()
    except HarnessError as err:
        yield Probe("bwrap", False, str(err))
        return
    version = subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip()
    yield Probe("bwrap", True, f"{version} from {origin}: {bwrap}")
    problem = userns_problem()
    with tempfile.TemporaryDirectory(prefix="harness-check-") as tmp:
        root = Path(tmp)
        workspace = root / "workspace"
        workspace.mkdir()
        secret = root / "planted-secret.txt"
        secret.write_text("host secret")
        os.environ[_CANARY] = "host-secret"  # must not reach any process inside
        try:
            sandbox = Sandbox(workspace)
        except HarnessError as err:
            yield Probe("user namespaces", False, problem or str(err))
            return
        finally:
            os.environ.pop(_CANARY, None)
        yield Probe("user namespaces", True, "bwrap can create user, pid, net and mount namespaces")
        with sandbox:
            checks = [
                ("no network", "python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), 2)\" 2>/dev/null || exec 3<>/dev/tcp/1.1.1.1/53", False),
                ("no host files", f"cat {secret} /etc/shadow /root/.bashrc", False),
                ("no host home", f"ls {Path.home()}/.ssh {Path.home()}/.bash_history", False),
                ("workspace writable", "echo probe > probe.txt && cat probe.txt", True),
                ("system read-only", "touch /usr/harness-probe", False),
                ("own pid namespace", "test $(ls /proc | grep -c '^[0-9]') -lt 10", True),
            ]
            checks += hardening_checks()
            for name, command, should_succeed in checks:
                result = sandbox.run(command, timeout=10)
                ok = (result.exit_code == 0) == should_succeed
                yield Probe(name, ok, "" if ok else result.output.strip()[:200])
            yield owner_probe(sandbox, workspace)
            problem = seccomp.problem()
            yield Probe("seccomp filter", problem is None,
                        "ptrace, keyrings, mounts, new user namespaces, bpf, perf, io_uring ... refused"
                        if problem is None else problem)
            yield from limit_probes(sandbox.limits, sandbox._cgroup,
                                    nproc_uid(sandbox.limits, sandbox._cgroup, sandbox._launch.ids))
