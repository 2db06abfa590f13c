"""The persistent shell inside bwrap.

Each command is sent as ``__h <nbytes>; printf '\\n<sentinel> %d %s\\0' $? "$PWD"``,
then the command's bytes (the shell's cwd rides on the marker, saving a ``pwd`` round
trip per step); the shell function reads exactly those bytes with the ``read``
builtin and ``eval``s them, so no process is forked per command and the command's
text never goes through a parser of ours. The sentinel is random per command, so no
output can fake the end of a command. Whatever comes back, a command ends: with its
marker, at its timeout, or as soon as the shell is seen waiting for input without
having answered (a redefined ``printf``, a subshell reading the channel).
"""

from __future__ import annotations

import array
import enum
import fcntl
import os
import resource
import secrets
import select
import signal
import subprocess
import termios
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.errors import HarnessError, SandboxUnavailable
from harness.sandbox.bwrap import Bind, find_bwrap, sandbox_env
from harness.sandbox.cgroups import CgroupLimiter
from harness.sandbox.diskguard import CHECK_S, DiskGuard
from harness.sandbox.files import SANDBOX_WORKSPACE, WorkspaceFiles
from harness.sandbox.hostuser import HostIds
from harness.sandbox.launch import Launch
from harness.sandbox.limits import Limits
from harness.sandbox.output import OutputCollector
from harness.sandbox.result import Result

_PRELUDE = (
    "set +o history +m 2>/dev/null; exec 2>&1; "
    "__h() { local __hc; LC_ALL=C IFS= read -r -N \"$1\" __hc; eval \"$__hc\" </dev/null; }; "
    "readonly -f __h\n"
)
"""The shell reads each command's bytes from its input with ``read`` and evals them
with /dev/null as their input. Its input is the command channel: the shell runs from an
execute-only file, so it is not dumpable and no program of the agent's can open its
descriptors through /proc; ``__h`` is read-only, so it cannot be redefined."""
_KILL_GRACE_S = 2.0
_READ_CHUNK = 65536
_IDLE_CHECK_S = 0.5
_READ_SYSCALL = {"x86_64": b"0", "aarch64": b"63"}.get(os.uname().machine)
"""read(2)'s number, as /proc/PID/syscall shows it."""


class Read(enum.Enum):
    """How reading a command's output ended."""

    DONE = "done"  # the end marker arrived
    TIMEOUT = "timeout"
    DISK = "disk"  # the disk guard stopped it
    LOST = "lost"  # the shell waits for input and never answered
    EOF = "eof"  # the shell exited


@dataclass(frozen=True)
class ReadOutcome:
    kind: Read
    note: str = ""
    """For a shell that must be replaced: why, in words for the agent."""


class Sandbox:
    """A bwrap sandbox with one persistent bash, for one episode.

    Use as a context manager; :meth:`close` kills every process the sandbox
    started, background jobs included.
    """

    def __init__(
        self,
        workspace: Path | str,
        *,
        network: bool = False,
        binds: Sequence[Bind] = (),
        env: Mapping[str, str] | None = None,
        limits: Limits = Limits(),
        gpus: Sequence[int] = (),
        readonly: Sequence[str] = (),
        nesting: bool = False,
    ) -> None:
        self.workspace = Path(workspace).resolve()
        if not self.workspace.is_dir():
            raise HarnessError(f"workspace {workspace} is not a directory: create it first")
        self.network = network
        self.limits = limits
        self.gpus = tuple(gpus)
        self.bwrap, self.bwrap_origin = find_bwrap()
        protected = [self.workspace / p for p in readonly]
        self.files = WorkspaceFiles(self.workspace, readonly=protected)
        self._launch = sandbox_launch(self.bwrap, self.workspace, protected, network=network, binds=binds,
                                      env=env, limits=limits, gpus=self.gpus, nesting=nesting)
        self._proc: subprocess.Popen[bytes] | None = None
        self._cgroup: CgroupLimiter | None = None
        self._shell_pid: int | None = None
        self._init_pid: int | None = None
        self.cwd = str(SANDBOX_WORKSPACE)
        """The shell's working directory as of the last command that finished."""
        if self._launch.ids is not None:
            self.files.owner = (self._launch.ids.uid, self._launch.ids.gid)
        self._disk = DiskGuard(self.workspace, self.files.readonly, limits, pause=self._pause)
        self._start()

    # -- lifecycle -------------------------------------------------------------

    def _start(self) -> None:
        self._cgroup = CgroupLimiter(self.limits.processes, self.limits.memory_mb << 20)
        self._pids_refused = 0
        self._proc = self._launch.popen(
            child_setup(self.limits, self._cgroup, self._launch.ids, self.gpus),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
        self._stdout = self._proc.stdout.fileno()
        self._stdin = self._proc.stdin.fileno()
        os.set_blocking(self._stdin, False)
        os.set_blocking(self._stdout, False)
        self._poll = select.poll()
        self._poll.register(self._stdout, select.POLLIN | select.POLLHUP | select.POLLERR)
        os.write(self._stdin, _PRELUDE.encode())
        ready = self.run("echo ready", timeout=10.0, _starting=True)
        if ready.exit_code != 0 or "ready" not in ready.output:
            self._kill_all()
            raise SandboxUnavailable(
                f"the sandbox did not start ({self.bwrap}): {ready.output.strip()[:300]} "
                "- run `harness sandbox check` for details"
            )
        self._shell_pid = self._init_pid = None  # looked up on the first timeout

    def _find_shell(self) -> tuple[int | None, int | None]:
        """Host pids of the shell and of bwrap's init inside the pid namespace."""
        try:
            for child in psutil.Process(self._proc.pid).children(recursive=True):
                if child.name() == "bash":
                    return child.pid, child.ppid()
        except psutil.Error:
            pass
        return None, None

    def close(self) -> None:
        """Kill everything the sandbox started and remove its temporary files."""
        if self._proc is not None:
            self._kill_all()
            self._proc = None
        launch = getattr(self, "_launch", None)
        if launch is not None:
            launch.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    @property
    def policy(self) -> dict:
        """What protects this sandbox on this machine, for the trajectory's start record."""
        launch = self._launch
        return {
            "host_uid": launch.ids.uid if launch.ids is not None else os.geteuid(),
            "seccomp": launch.seccomp_problem is None,
            **({"seccomp_problem": launch.seccomp_problem} if launch.seccomp_problem else {}),
            "cgroups": self._cgroup.controllers() if self._cgroup is not None else [],
            "bwrap": self.bwrap_origin,
        }

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def processes(self) -> list[psutil.Process]:
        """Every live process of the sandbox (bwrap itself included)."""
        if self._proc is None:
            return []
        try:
            root = psutil.Process(self._proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    # -- commands --------------------------------------------------------------

    def run(self, cmd: str, timeout: float = 60.0, *, _starting: bool = False) -> Result:
        """Run ``cmd`` in the persistent shell; never raises for what the command does."""
        if self._proc is None:
            raise HarnessError("the sandbox is closed: start a new one")
        if "\0" in cmd:
            return Result("error: the command contains a NUL byte", exit_code=2)
        started = time.perf_counter()
        sentinel = secrets.token_hex(16)
        command = cmd.encode("utf-8", errors="surrogateescape")
        header = f"__h {len(command)}; printf '\\n{sentinel} %d %s\\0' $? \"$PWD\"\n".encode()
        collector = OutputCollector(sentinel.encode(), self.limits.output_bytes)
        try:
            self._send(header + command, started + timeout)
        except OSError:
            if _starting:
                return Result(self._startup_error(), None)
            return self._restart_result(collector, started, "the shell had exited", exited=True)
        self._disk.begin()
        read = self._read_until(collector, started + timeout, watch=not _starting)
        if _starting:
            text = collector.text()[0]
            if read.kind is not Read.DONE:
                return Result(text or self._startup_error(), None)
            self.cwd = collector.cwd or str(SANDBOX_WORKSPACE)
            return Result(text, collector.exit_code)
        if read.kind is Read.DONE:
            return self._finished(collector, started)
        if read.kind is Read.TIMEOUT:
            return self._timed_out(collector, started, timeout)
        # DISK, LOST, EOF: the shell goes (the rest of a loop would go on writing).
        result = self._restart_result(collector, started, read.note, exited=read.kind is Read.EOF)
        if read.kind is Read.DISK:
            self._disk.settle()
        return result

    def _finished(self, collector: OutputCollector, started: float) -> Result:
        text, truncated = collector.text()
        if collector.garbled:
            return self._restart_result(
                collector, started, "the end-of-command marker came back garbled (was printf or "
                "builtin redefined as a shell function?)")
        if self._near_process_limit():
            self._kill_commands()
            self._drain()  # what the dying processes wrote must not open the next command
            self._pids_refused = self._cgroup.pids_refused()  # refusals until they died
            text += (f"\n[the sandbox reached its limit of {self.limits.processes} processes "
                     "(a fork bomb?): all background processes were killed]")
        if collector.cwd:
            self.cwd = collector.cwd
        return Result(text, collector.exit_code, truncated=truncated,
                      elapsed_s=time.perf_counter() - started)

    def _drain(self) -> None:
        """Discard output already waiting in the pipe (late writes of killed processes)."""
        while True:
            try:
                if not os.read(self._stdout, _READ_CHUNK):
                    return
            except (BlockingIOError, OSError):
                return

    def _timed_out(self, collector: OutputCollector, started: float, timeout: float) -> Result:
        """Kill the command's processes and give the shell a moment to report; a shell
        that does not is replaced."""
        self._kill_commands()
        if self._read_until(collector, time.perf_counter() + _KILL_GRACE_S, watch=False).kind is Read.DONE:
            text, truncated = collector.text()
            # Reap the killed jobs now so their "Killed" notices don't reach the next command.
            self.run("wait 2>/dev/null", timeout=_KILL_GRACE_S)
            return Result(text + f"\n[command timed out after {timeout:g} s and was killed]", None,
                          timed_out=True, truncated=truncated, elapsed_s=time.perf_counter() - started)
        result = self._restart_result(collector, started, f"the command timed out after {timeout:g} s")
        return Result(result.output, None, timed_out=True, truncated=result.truncated,
                      restarted=True, elapsed_s=result.elapsed_s)

    def _startup_error(self) -> str:
        try:
            return (self._proc.stdout.read() or b"bwrap exited").decode(errors="replace")
        except (OSError, ValueError):
            return "bwrap exited"

    def _read_until(self, collector: OutputCollector, deadline: float, *, watch: bool = True) -> ReadOutcome:
        """Read the shell's output until the command's end marker or another way the
        command ends. ``watch``: apply the disk guard and the lost-marker check."""
        next_idle_check = time.perf_counter() + _IDLE_CHECK_S
        idle_checks = 0
        while True:
            now = time.perf_counter()
            remaining = deadline - now
            if remaining <= 0:
                return ReadOutcome(Read.TIMEOUT)
            note = self._disk.check() if watch else None
            if note:
                return ReadOutcome(Read.DISK, note)
            events = self._poll.poll(min(remaining, CHECK_S) * 1000)
            if not events:
                if not watch or now < next_idle_check:
                    continue
                next_idle_check = now + _IDLE_CHECK_S
                # A shell waiting for input with nothing left in the pipe is not running
                # our command: the marker was swallowed (printf redefined) or the command
                # stolen. Seen twice in a row, the command is over.
                idle_checks = idle_checks + 1 if self._shell_waits_for_input() else 0
                if idle_checks >= 2:
                    return ReadOutcome(Read.LOST, "the command ended without its end-of-command marker "
                                                  "(a redefined printf, or a process reading the shell's input?)")
                continue
            idle_checks = 0
            try:
                chunk = os.read(self._stdout, _READ_CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                return ReadOutcome(Read.EOF, "the shell exited")
            if collector.feed(chunk):
                return ReadOutcome(Read.DONE)

    def _send(self, data: bytes, deadline: float) -> None:
        """Write all of ``data`` to the shell, giving up (OSError) at ``deadline``
        rather than blocking on a shell that stopped reading."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._stdin, view):]
            except BlockingIOError:
                if time.perf_counter() >= deadline:
                    raise OSError("the shell stopped reading its input") from None
                select.select([], [self._stdin], [], 0.1)

    def _shell(self) -> int | None:
        if self._shell_pid is None:
            self._shell_pid, self._init_pid = self._find_shell()
        return self._shell_pid

    def _shell_waits_for_input(self) -> bool:
        """The shell is blocked reading its input and the pipe holds nothing for it."""
        shell = self._shell()
        if shell is None or _READ_SYSCALL is None:
            return False
        try:
            with open(f"/proc/{shell}/syscall", "rb") as handle:
                fields = handle.read().split()
            pending = array.array("i", [0])
            fcntl.ioctl(self._stdin, termios.FIONREAD, pending)
        except OSError:
            return False
        return len(fields) > 1 and fields[0] == _READ_SYSCALL and fields[1] == b"0x0" and pending[0] == 0

    def _restart_result(self, collector: OutputCollector, started: float, why: str,
                        exited: bool = False) -> Result:
        """Replace the shell. Only one that ``exited`` by itself has an exit code worth
        waiting for; one being stopped (disk, lost marker, timeout) dies at once,
        before it writes more."""
        text, truncated = collector.text()
        exit_code = None
        if self._proc is not None and exited:
            try:
                exit_code = self._proc.wait(timeout=_KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        self._kill_all()
        self._start()
        note = f"\n[{why}; a new shell was started: the working directory and variables were reset]"
        return Result(
            text + note,
            exit_code,
            truncated=truncated,
            restarted=True,
            elapsed_s=time.perf_counter() - started,
        )

    # -- killing ---------------------------------------------------------------

    def _near_process_limit(self) -> bool:
        """The pids limit refused a fork since the last check (a snapshot of the count
        alone misses a bomb whose processes die and respawn), or is nearly reached."""
        if self._cgroup is None or not self.limits.processes:
            return False
        refused = self._cgroup.pids_refused()
        hit, self._pids_refused = refused > self._pids_refused, refused
        return hit or self._cgroup.pids_current() >= 0.9 * self.limits.processes

    def _members(self) -> list[psutil.Process]:
        """Every process of the sandbox: bwrap's tree, and what the cgroup holds that the
        tree walk missed (a process forked while it ran, one reparented away)."""
        procs = self.processes()
        if self._cgroup is not None and self._cgroup.dirs:
            listed = {p.pid for p in procs}
            procs += _processes([pid for pid in self._cgroup.pids() if pid not in listed])
        return procs

    def _pause(self, stop: bool) -> None:
        """SIGSTOP (or SIGCONT) every process of the sandbox but bwrap; twice, for
        children forked while the first pass ran."""
        sig = signal.SIGSTOP if stop else signal.SIGCONT
        for _ in range(2 if stop else 1):
            # The cgroup's list is one small read; the tree walk scans all of /proc,
            # too slow while a flood goes on.
            pids = self._cgroup.pids() if self._cgroup is not None and self._cgroup.dirs else [
                p.pid for p in self.processes()]
            for pid in pids:
                if self._proc is None or pid != self._proc.pid:
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass

    def _kill_commands(self) -> None:
        """SIGKILL every process but bwrap and the shell, until none is left."""
        self._shell()
        keep = {self._proc.pid, self._shell_pid, self._init_pid}
        for _ in range(20):
            procs = [p for p in self._members() if p.pid not in keep]
            if not procs:
                return
            # Stop them all first: a fork bomb's survivors would respawn while we kill.
            for proc in procs:
                _signal(proc, signal.SIGSTOP)
            for proc in procs:
                _kill(proc)
            psutil.wait_procs(procs, timeout=0.2)

    def _kill_all(self) -> None:
        proc = self._proc
        if proc is None:
            return
        victims = self.processes()
        for _ in range(20):
            for victim in victims:
                _kill(victim)
            # Reap bwrap ourselves: psutil would wait out its timeout on our zombie child.
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            victims = [p for p in self._members() if _alive(p)]
            if not victims:
                break
            psutil.wait_procs(victims, timeout=0.2)
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self._cgroup is not None:
            self._cgroup.remove()


def _processes(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            pass
    return found


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill(proc: psutil.Process) -> None:
    _signal(proc, signal.SIGKILL)


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


def sandbox_launch(bwrap: str, workspace: Path, protected: Sequence[Path], *, network: bool,
                   binds: Sequence[Bind], env: Mapping[str, str] | None, limits: Limits,
                   gpus: Sequence[int], **launch_options) -> Launch:
    """The bwrap start of a sandbox over ``workspace``: one place decides it for the
    episode's shell and for ``harness shell``, so the two cannot drift apart."""
    return Launch(bwrap, workspace, network=network, binds=binds,
                  readonly=[p for p in protected if p.exists()],
                  env=sandbox_env(env, gpus, limits.cpu_threads), gpus=gpus, **launch_options)


def child_setup(limits: Limits, cgroup: CgroupLimiter, ids: HostIds | None,
                gpus: Sequence[int] = ()) -> Callable[[], None]:
    """What the child that becomes bwrap does first: join the cgroup, set the rlimits.

    Without a pids cgroup the process count is bounded by RLIMIT_NPROC instead: the
    sandbox user's processes now plus the allowance (the kernel counts per user, so
    the user's other processes count too). A GPU episode gets no address-space limit:
    the CUDA driver reserves far more virtual memory than any RLIMIT_AS would allow,
    so its memory is bounded by the memory cgroup where there is one.
    """
    uid = nproc_uid(limits, cgroup, ids)
    nproc = None if uid is None else _processes_of(uid) + limits.processes

    def in_child() -> None:
        cgroup.enter()
        apply_rlimits(limits, nproc=nproc, address_space=not gpus)

    return in_child


def nproc_uid(limits: Limits, cgroup: CgroupLimiter | None, ids: HostIds | None) -> int | None:
    """The host uid whose process count RLIMIT_NPROC bounds the sandbox by, or None
    where a pids cgroup does (or the limit is off). The sandbox never runs as root
    (a root harness drops to ``ids``), so the kernel always applies it."""
    if not limits.processes or (cgroup is not None and "pids" in cgroup.controllers()):
        return None
    return ids.uid if ids is not None else os.getuid()


def _processes_of(uid: int) -> int:
    count = 0
    for proc in psutil.process_iter(["uids"]):
        uids = proc.info.get("uids")
        if uids is not None and uids.real == uid:
            count += 1
    return count


def apply_rlimits(limits: Limits, *, nproc: int | None = None, address_space: bool = True) -> None:
    """rlimits for bwrap and everything below it (set in the child before exec)."""
    pairs = [
        (resource.RLIMIT_FSIZE, limits.file_size_mb << 20),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if limits.memory_mb and address_space:
        pairs.append((resource.RLIMIT_AS, limits.memory_mb << 20))
    if nproc is not None:
        pairs.append((resource.RLIMIT_NPROC, nproc))
    for kind, value in pairs:
        try:
            soft, hard = resource.getrlimit(kind)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass
