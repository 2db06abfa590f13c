"""Optional cgroup limits: a process cap and a memory cap for the whole sandbox.

rlimits are per process (RLIMIT_AS) or per user (RLIMIT_NPROC), so neither bounds a
sandbox as a whole; a pids and a memory cgroup do. Three ways to get one:

* **cgroup v1** (older distributions, many containers, root): a ``harness-*`` group in
  this process's own ``pids`` and ``memory`` hierarchies, where they are writable.
* **cgroup v2, delegated** (an ordinary user on Ubuntu 22.04+, Fedora, Debian 12):
  the harness needs a cgroup that is *delegated* to it (systemd marks those with the
  ``user.delegate``/``trusted.delegate`` attribute; a terminal's scope is writable by
  its user but not delegated, and systemd may remove what others create there).
  When its own cgroup is not, the harness asks systemd once per process for one:
  ``StartTransientUnit("harness-PID.scope", PIDs=[own pid], Delegate=yes)`` over the
  user's bus (the system bus for root), the D-Bus form of
  ``systemd-run --user --scope -p Delegate=yes``, which can move a process that is
  already running, so nothing is re-executed. v2 allows controllers for children only
  in a group without processes of its own, so the harness first moves the group's
  processes (itself) into a leaf ``main``, enables ``+pids +memory`` for the
  subtree, and gives each sandbox a sibling of ``main`` with ``pids.max``,
  ``memory.max`` and ``memory.swap.max`` = 0 (a sandbox that fills its memory is
  OOM-killed inside its group instead of pushing the desktop into swap).
* **none**: we say why (``CgroupLimiter.notes``), and the sandbox relies on
  RLIMIT_NPROC (see :func:`harness.sandbox.core.child_setup`), RLIMIT_AS and timeouts.

Everything takes the cgroupfs root and the text of ``/proc/self/cgroup`` so tests can
point it at a fake tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_PREFIX = "harness-"
LEAF = "main"
"""Where the harness's own processes go inside a delegated v2 group."""
CONTROLLERS = ("pids", "memory")
_DELEGATE_ATTRS = ("trusted.delegate", "user.delegate")


@dataclass
class CgroupHost:
    """Where the cgroup filesystem is and which group this process is in."""

    root: Path = ROOT
    self_cgroup: str | None = None
    """The text of /proc/self/cgroup; None: read it (again after a move)."""
    rehome: Callable[[int], str | None] | None = None
    """Ask systemd to put this pid in a delegated scope; returns an error or None.
    None: :func:`systemd_scope`."""

    def proc_cgroup(self) -> str:
        if self.self_cgroup is not None:
            return self.self_cgroup
        try:
            return Path("/proc/self/cgroup").read_text()
        except OSError:
            return ""


def v1_path(text: str, controller: str) -> str | None:
    """This process's cgroup for a v1 controller, or None where it is not in v1."""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[0] != "0" and controller in parts[1].split(","):
            return parts[2]
    return None


def v2_path(text: str) -> str | None:
    """This process's cgroup in the unified (v2) hierarchy: the ``0::/path`` line."""
    for line in text.splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def delegated(directory: Path) -> bool:
    """Whether systemd delegated this group (it sets the attribute since v251; a
    ``harness-PID.scope`` we asked for with Delegate=yes is delegated too)."""
    for attr in _DELEGATE_ATTRS:
        try:
            if os.getxattr(directory, attr) == b"1":
                return True
        except OSError:
            pass
    return directory.name == f"{_PREFIX}{os.getpid()}.scope"


@dataclass
class V2Base:
    """A delegated v2 group, set up for sandbox children (or why there is none)."""

    directory: Path | None
    controllers: tuple[str, ...] = ()
    note: str = ""


_bases: dict[Path, V2Base] = {}


def v2_base(host: CgroupHost) -> V2Base:
    """The group sandboxes are created in, set up once per process and cgroupfs."""
    base = _bases.get(host.root)
    if base is None:
        base = _bases[host.root] = _setup_v2(host)
    return base


def _setup_v2(host: CgroupHost) -> V2Base:
    if not (host.root / "cgroup.controllers").is_file():
        return V2Base(None, note="no cgroup v2 hierarchy is mounted at " + str(host.root))
    own = v2_path(host.proc_cgroup())
    if own is None:
        return V2Base(None, note="this process is in no cgroup v2 group")
    directory = host.root / own.lstrip("/")
    if directory.name == LEAF and delegated(directory.parent) and _enabled(directory.parent):
        return V2Base(directory.parent, _enabled(directory.parent))  # set up already
    if not delegated(directory):
        rehome = host.rehome or systemd_scope
        error = rehome(os.getpid())
        if error is not None:
            return V2Base(None, note=f"{own} is not delegated to this user and systemd gave no "
                                     f"delegated scope: {error}")
        own = v2_path(host.proc_cgroup()) or own
        directory = host.root / own.lstrip("/")
        if not delegated(directory):
            return V2Base(None, note=f"systemd's scope {own} is not delegated")
    return _split(directory)


def _enabled(directory: Path) -> tuple[str, ...]:
    have = [word.lstrip("+") for word in _read(directory / "cgroup.subtree_control").split()]
    return tuple(c for c in CONTROLLERS if c in have)


def _split(directory: Path) -> V2Base:
    """v2's no-internal-processes rule: move the group's processes into a leaf, then
    enable the controllers for its children."""
    available = [c for c in CONTROLLERS if c in _read(directory / "cgroup.controllers").split()]
    if not available:
        return V2Base(None, note=f"{directory.name} offers neither the pids nor the memory controller "
                                 "(systemd's user@.service delegates them by default: Delegate=pids memory)")
    leaf = directory / LEAF
    try:
        leaf.mkdir(exist_ok=True)
        for pid in _procs(directory):
            try:
                (leaf / "cgroup.procs").write_text(str(pid))
            except ProcessLookupError:
                pass  # exited meanwhile
        (directory / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in available))
    except OSError as err:
        return V2Base(None, note=f"could not set up the delegated group {directory.name}: {err.strerror or err}")
    enabled = _enabled(directory)
    if not enabled:
        return V2Base(None, note=f"{directory.name}: enabling {', '.join(available)} for its children had no effect")
    return V2Base(directory, enabled)


def systemd_argv(pid: int, root: bool) -> list[str]:
    """busctl's call for ``systemd-run --scope -p Delegate=yes`` on a running pid."""
    return ["busctl", "--system" if root else "--user", "--timeout=10", "call",
            "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
            "StartTransientUnit", "ssa(sv)a(sa(sv))", f"{_PREFIX}{pid}.scope", "fail", "4",
            "PIDs", "au", "1", str(pid),
            "Delegate", "b", "true",
            "CollectMode", "s", "inactive-or-failed",
            "Description", "s", "harness: sandboxes of one harness process",
            "0"]


def systemd_scope(pid: int) -> str | None:
    """Ask the user's (root: the system's) systemd to move ``pid`` into a delegated
    scope of its own; wait until the move shows in /proc/self/cgroup."""
    argv = systemd_argv(pid, os.geteuid() == 0)
    busctl = shutil.which(argv[0])
    if busctl is None:
        return "busctl (systemd) is not installed"
    try:
        done = subprocess.run([busctl, *argv[1:]], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"busctl failed: {err}"
    if done.returncode != 0:
        return (done.stderr.strip() or done.stdout.strip() or f"busctl exited {done.returncode}").splitlines()[0]
    for _ in range(100):  # the job runs asynchronously
        if (v2_path(_read(Path("/proc/self/cgroup"))) or "").endswith(f"/{_PREFIX}{pid}.scope"):
            return None
        time.sleep(0.02)
    return "the scope was started but this process was not moved into it within 2 s"


@dataclass
class CgroupLimiter:
    """One cgroup per sandbox (per v1 hierarchy), holding bwrap and everything it starts."""

    pids_max: int
    memory_bytes: int
    host: CgroupHost = field(default_factory=CgroupHost)
    dirs: list[Path] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    """Per controller in use: "cgroup v1" or "cgroup v2"."""
    notes: list[str] = field(default_factory=list)
    """Why a wanted controller is not in use, in words."""
    swap: bool = False
    """v2: the sandbox may not swap (memory.swap.max = 0)."""
    _where: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wanted = {"pids": self.pids_max, "memory": self.memory_bytes}
        wanted = {c: v for c, v in wanted.items() if v > 0}
        name = f"{_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        text = self.host.proc_cgroup()
        in_v1 = {c for c in wanted if v1_path(text, c) is not None}
        for controller in CONTROLLERS:
            if controller in in_v1:
                self._v1(controller, wanted[controller], v1_path(text, controller), name)
        rest = [c for c in CONTROLLERS if c in wanted and c not in in_v1]
        if rest:
            self._v2(rest, wanted, name)

    def _v1(self, controller: str, value: int, own: str, name: str) -> None:
        knob = "pids.max" if controller == "pids" else "memory.limit_in_bytes"
        parent = self.host.root / controller / own.lstrip("/")
        _sweep(parent)
        directory = parent / name
        try:
            directory.mkdir()
            (directory / knob).write_text(str(value))
        except OSError as err:
            _remove(directory)
            self.notes.append(f"{controller}: cgroup v1 group {own} is not writable ({err.strerror or err})")
            return
        self.dirs.append(directory)
        self._where[controller] = directory
        self.kinds[controller] = "cgroup v1"

    def _v2(self, controllers: list[str], wanted: dict[str, int], name: str) -> None:
        base = v2_base(self.host)
        usable = [c for c in controllers if c in base.controllers]
        if base.directory is None or not usable:
            note = base.note or f"the delegated group offers no {' or '.join(controllers)} controller"
            self.notes.append(f"{'/'.join(controllers)}: {note}")
            return
        _sweep(base.directory)
        directory = base.directory / name
        knobs = [("pids.max", wanted["pids"])] if "pids" in usable else []
        if "memory" in usable:
            knobs.append(("memory.max", wanted["memory"]))
        try:
            directory.mkdir()
            for knob, value in knobs:
                (directory / knob).write_text(str(value))
        except OSError as err:
            _remove(directory)
            self.notes.append(f"{'/'.join(usable)}: cannot create a group in {base.directory}: {err.strerror or err}")
            return
        if "memory" in usable:
            try:
                (directory / "memory.swap.max").write_text("0")
                self.swap = True
            except OSError:
                pass  # no swap accounting (swapaccount=0): memory.max alone
        missing = [c for c in controllers if c not in usable]
        if missing:
            self.notes.append(f"{'/'.join(missing)}: not enabled in the delegated group {base.directory.name}")
        self.dirs.append(directory)
        for controller in usable:
            self._where[controller] = directory
            self.kinds[controller] = "cgroup v2"

    def controllers(self) -> list[str]:
        return [c for c in CONTROLLERS if c in self._where]

    def enter(self) -> None:
        """Move the calling process in; called in the child before exec."""
        pid = str(os.getpid())
        for directory in self.dirs:
            try:
                (directory / "cgroup.procs").write_text(pid)
            except OSError:
                pass

    def pids_current(self) -> int:
        directory = self._where.get("pids")
        try:
            return int(_read(directory / "pids.current")) if directory else 0
        except ValueError:
            return 0

    def pids_refused(self) -> int:
        """How many forks the pids limit has refused so far (``pids.events``' max)."""
        directory = self._where.get("pids")
        if directory is None:
            return 0
        for line in _read(directory / "pids.events").splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit():
                return int(value)
        return 0

    def pids(self) -> list[int]:
        found: set[int] = set()
        for directory in self.dirs:
            found.update(_procs(directory))
        return sorted(found)

    def remove(self) -> None:
        for directory in self.dirs:
            _remove(directory)
        self.dirs = []


_swept: set[Path] = set()


def _sweep(parent: Path) -> None:
    """Remove the cgroups of harness processes that died without cleaning up (kill -9);
    once per parent and process. The names carry the owning pid; whatever still runs
    in such a cgroup is an orphan of the dead harness and is killed first."""
    if parent in _swept:
        return
    _swept.add(parent)
    try:
        entries = [p for p in parent.iterdir() if p.name.startswith(_PREFIX) and p.is_dir()]
    except OSError:
        return
    for directory in entries:
        owner = directory.name[len(_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and _alive(int(owner)):
            continue
        if not owner.isdigit() and _procs(directory):
            continue  # an older harness's name: only empty ones are known to be left over
        for pid in _procs(directory):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        _remove(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _procs(directory: Path) -> list[int]:
    try:
        return [int(p) for p in (directory / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _remove(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass
