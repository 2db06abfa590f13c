"""What of the host's NVIDIA driver a GPU sandbox sees, the way the NVIDIA container
toolkit (libnvidia-container) gives a container its GPUs.

For a lease of GPUs ``[2]`` the sandbox gets:

- the device nodes: ``/dev/nvidia2`` only, plus the shared control nodes
  ``/dev/nvidiactl``, ``/dev/nvidia-uvm``, ``/dev/nvidia-uvm-tools``,
  ``/dev/nvidia-modeset`` and the MIG capability nodes of GPU 2 under
  ``/dev/nvidia-caps`` (never the MIG ``config``/``monitor`` ones), where they exist.
  bwrap's ``--remount-ro`` would add ``nodev``, so device mounts stay writable
  mounts; the nodes' own modes decide access, as on the host.
- ``/proc/driver/nvidia`` as a read-only tmpfs holding ``version``, ``registry``, a
  copy of ``params`` with ``ModifyDeviceFiles: 0`` (the user-space driver must not
  try to create the nodes of GPUs it was not given) and ``gpus/<bus id>`` of the
  leased GPUs only.
- ``/sys`` as a read-only tmpfs holding what NVML reads: the leased GPUs' PCI device
  directories (at their real ``/sys/devices/...`` path, with the
  ``/sys/bus/pci/devices/<bus id>`` symlink) and ``/sys/module/nvidia``.
- the driver's libraries and ``nvidia-smi`` come with the read-only ``/usr``; those
  found only through the harness's ``LD_LIBRARY_PATH``/``PATH`` outside ``/usr`` are
  bound read-only at the same path and added to the sandbox's variables.

CUDA enumerates the devices it can open, so inside the leased GPUs are devices
``0..k-1``; :func:`harness.sandbox.bwrap.sandbox_env` sets ``CUDA_VISIBLE_DEVICES``
to exactly that and ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so ``cuda:i`` is ``nvidia-smi``'s
GPU ``i``. Every probe reads under :data:`ROOT`, so tests point it at a fake tree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

ROOT = "/"
"""Where the host's ``/dev``, ``/proc`` and ``/sys`` are probed (tests: a fake tree)."""

CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
PROC_DRIVER = "/proc/driver/nvidia"
_PROC_FILES = ("version", "registry")
_DRIVER_LIBS = ("libcuda.so.1", "libnvidia-ml.so.1")
_VISIBLE = ("/usr/", "/opt/conda/")
"""Host trees every sandbox already sees read-only (see bwrap._SYSTEM_DIRS)."""


@dataclass(frozen=True)
class GpuView:
    """The host paths a sandbox leasing ``gpus`` gets, as sandbox paths (the host
    path is ``root`` + the sandbox path)."""

    gpus: tuple[int, ...]
    root: str = "/"
    devices: tuple[str, ...] = ()
    params: str | None = None
    """``/proc/driver/nvidia/params`` with ``ModifyDeviceFiles: 0``; None without a driver."""
    proc: tuple[str, ...] = ()
    """Entries of ``/proc/driver/nvidia`` bound read-only (files and per-GPU dirs)."""
    sys_binds: tuple[str, ...] = ()
    sys_links: tuple[tuple[str, str], ...] = ()
    """(link text, sandbox path) of the ``/sys/bus/pci/devices`` symlinks."""
    extra_binds: tuple[str, ...] = ()
    """Driver libraries' directories and ``nvidia-smi`` outside the visible trees."""
    library_dirs: tuple[str, ...] = ()
    path_dirs: tuple[str, ...] = ()
    bus_ids: Mapping[int, str] = field(default_factory=dict)

    def host(self, path: str) -> str:
        return _under(self.root, path)

    def argv(self, params_file: str | None, source: Callable[[str], str] = str) -> list[str]:
        """bwrap options giving the sandbox these paths; ``params_file`` holds
        :attr:`params` on the host (written by the caller)."""
        argv: list[str] = []
        for device in self.devices:
            argv += ["--dev-bind", source(self.host(device)), device]
        if self.params is not None and params_file is not None:
            argv += ["--tmpfs", PROC_DRIVER, "--ro-bind", source(params_file), f"{PROC_DRIVER}/params"]
            for entry in self.proc:
                argv += ["--ro-bind", source(self.host(f"{PROC_DRIVER}/{entry}")), f"{PROC_DRIVER}/{entry}"]
            argv += ["--remount-ro", PROC_DRIVER]
        if self.sys_binds:
            argv += ["--tmpfs", "/sys"]
            for path in self.sys_binds:
                argv += ["--ro-bind", source(self.host(path)), path]
            for text, path in self.sys_links:
                argv += ["--symlink", text, path]
            argv += ["--remount-ro", "/sys"]
        for path in self.extra_binds:
            argv += ["--ro-bind", source(self.host(path)), path]
        return argv

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` with the out-of-tree driver directories appended to the search paths."""
        env = dict(env)
        for name, dirs in (("LD_LIBRARY_PATH", self.library_dirs), ("PATH", self.path_dirs)):
            if dirs:
                env[name] = ":".join([p for p in env.get(name, "").split(":") if p] + list(dirs))
        return env


def _under(root: str, path: str) -> str:
    return path if root in ("", "/") else os.path.join(root, path.lstrip("/"))


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def bus_ids(root: str = "") -> dict[int, str]:
    """Device minor (the N of ``/dev/nvidiaN``) -> PCI bus id, from the driver's
    ``/proc/driver/nvidia/gpus/<bus id>/information``."""
    found: dict[int, str] = {}
    base = _under(root or ROOT, f"{PROC_DRIVER}/gpus")
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return found
    for bus in entries:
        match = re.search(r"^Device Minor:\s*(\d+)", _read(f"{base}/{bus}/information") or "", re.M)
        if match:
            found[int(match.group(1))] = bus
    return found


def host_gpus(root: str = "") -> list[int]:
    """The GPU indices whose ``/dev/nvidiaN`` node exists."""
    try:
        names = os.listdir(_under(root or ROOT, "/dev"))
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(re.compile(r"nvidia(\d+)").fullmatch, names) if m)


def _mig_caps(root: str, gpus: Sequence[int]) -> list[str]:
    """``/dev/nvidia-caps`` nodes of the leased GPUs' MIG instances (``config`` and
    ``monitor`` govern every GPU and are never given)."""
    text = _read(_under(root, "/proc/driver/nvidia-caps/mig-minors")) or ""
    nodes = []
    for line in text.splitlines():
        match = re.fullmatch(r"gpu(\d+)/\S+\s+(\d+)", line.strip())
        if match and int(match.group(1)) in gpus:
            nodes.append(f"/dev/nvidia-caps/nvidia-cap{match.group(2)}")
    return nodes


def _params(root: str) -> str | None:
    text = _read(_under(root, f"{PROC_DRIVER}/params"))
    if text is None:
        return None
    return re.sub(r"^ModifyDeviceFiles: *1", "ModifyDeviceFiles: 0", text, flags=re.M)


def _sysfs(root: str, buses: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    binds: list[str] = []
    links: list[tuple[str, str]] = []
    top = os.path.realpath(_under(root, "/"))
    for bus in buses:
        link = f"/sys/bus/pci/devices/{bus}"
        host = _under(root, link)
        if os.path.islink(host):
            real = os.path.realpath(host)
            if os.path.isdir(real) and (top == "/" or real.startswith(top + "/")):
                binds.append("/" + os.path.relpath(real, top))
                links.append((os.readlink(host), link))
        elif os.path.isdir(host):
            binds.append(link)
    if binds and os.path.isdir(_under(root, "/sys/module/nvidia")):
        binds.append("/sys/module/nvidia")
    return binds, links


def _outside(path: str) -> bool:
    return not any(path.startswith(prefix) for prefix in _VISIBLE)


def _driver_files(root: str, environ: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(binds, library dirs, path dirs) for driver files the harness finds only through
    its own search paths, outside the trees every sandbox sees."""
    binds: list[str] = []
    libs: list[str] = []
    paths: list[str] = []
    for directory in environ.get("LD_LIBRARY_PATH", "").split(":"):
        directory = os.path.normpath(directory) if directory.startswith("/") else ""
        if directory and _outside(directory + "/") and directory not in libs and any(
                os.path.exists(_under(root, f"{directory}/{lib}")) for lib in _DRIVER_LIBS):
            libs.append(directory)
            binds.append(directory)
    for directory in environ.get("PATH", "").split(":"):
        directory = os.path.normpath(directory) if directory.startswith("/") else ""
        smi = f"{directory}/nvidia-smi"
        if directory and os.access(_under(root, smi), os.X_OK):
            if _outside(directory + "/"):
                binds.append(smi)
                paths.append(directory)
            break
    return binds, libs, paths


def discover(gpus: Sequence[int], root: str | None = None,
             environ: Mapping[str, str] | None = None) -> GpuView | None:
    """What a sandbox leasing ``gpus`` is given; None for a CPU sandbox."""
    if not gpus:
        return None
    root = ROOT if root is None else root
    environ = os.environ if environ is None else environ
    leased = tuple(sorted(set(gpus)))
    candidates = [f"/dev/nvidia{index}" for index in leased]
    candidates += [f"/dev/{name}" for name in CONTROL_NODES] + _mig_caps(root, leased)
    devices = tuple(d for d in candidates if os.path.exists(_under(root, d)))
    buses = bus_ids(root)
    leased_buses = [buses[index] for index in leased if index in buses]
    params = _params(root)
    proc: list[str] = []
    if params is not None:
        proc = [name for name in _PROC_FILES if os.path.exists(_under(root, f"{PROC_DRIVER}/{name}"))]
        proc += [f"gpus/{bus}" for bus in leased_buses]
        proc += [f"capabilities/gpu{index}" for index in leased
                 if os.path.isdir(_under(root, f"{PROC_DRIVER}/capabilities/gpu{index}"))]
    sys_binds, sys_links = _sysfs(root, leased_buses)
    binds, libs, paths = _driver_files(root, environ)
    return GpuView(leased, root, devices, params, tuple(proc), tuple(sys_binds), tuple(sys_links),
                   tuple(binds), tuple(libs), tuple(paths),
                   {index: buses[index] for index in leased if index in buses})


# -- `harness sandbox check --gpu` --------------------------------------------------

_TORCH_PROBE = """
import sys
try:
    import torch
except ImportError:
    print("harness-gpu: no-torch"); sys.exit(3)
if torch.version.cuda is None:
    print("harness-gpu: cpu-torch", torch.__version__); sys.exit(4)
if not torch.cuda.is_available():
    print("harness-gpu: no-cuda", torch.__version__); sys.exit(5)
a = torch.randn(512, 512, device="cuda")
value = (a @ a.T).trace().item()
torch.cuda.synchronize()
print("harness-gpu: ok", torch.cuda.device_count(), torch.cuda.get_device_name(0), round(value))
"""


def _driver_probes(root: str):
    """Host-side lines: the driver, the leased-able GPUs, the shared control nodes."""
    from harness.sandbox.check import Probe

    version = _read(_under(root, f"{PROC_DRIVER}/version"))
    if version is None:
        yield Probe("NVIDIA driver", False, f"no NVIDIA driver: {PROC_DRIVER}/version does not exist "
                                            "(no NVIDIA GPU here, or the nvidia kernel module is not loaded)")
    else:
        yield Probe("NVIDIA driver", True, " ".join(version.splitlines()[0].split()))
    gpus = host_gpus(root)
    if not gpus:
        yield Probe("GPU device nodes", False, "no GPU: no /dev/nvidiaN device node exists")
    else:
        yield Probe("GPU device nodes", True, ", ".join(f"/dev/nvidia{i}" for i in gpus))
    if version is None or not gpus:
        return
    for name, hint in (("nvidiactl", "created with the driver's GPU nodes"),
                       ("nvidia-uvm", "appears once a CUDA program ran as root, or with "
                                      "`sudo nvidia-modprobe -u -c=0`")):
        if not os.path.exists(_under(root, f"/dev/{name}")):
            yield Probe(f"/dev/{name}", False, f"missing ({hint}): CUDA cannot start without it, "
                                               "and no sandbox can create it")


def gpu_probes(index: int | None = None, task_env=None):
    """Each line of ``harness sandbox check --gpu``: the host's driver and nodes, then
    ``nvidia-smi``, ``torch.cuda.is_available()`` and a matmul inside a real sandbox
    leasing one GPU exactly as an episode would. ``task_env``: a TaskEnv whose python
    (and torch) is tried; else the sandbox's ``python3``."""
    import tempfile
    from pathlib import Path

    from harness.errors import HarnessError
    from harness.sandbox.check import Probe
    from harness.sandbox.core import Sandbox

    root = ROOT
    host = list(_driver_probes(root))
    yield from host
    if not all(probe.ok for probe in host):
        return
    index = host_gpus(root)[0] if index is None else index
    if not os.path.exists(_under(root, f"/dev/nvidia{index}")):
        yield Probe(f"GPU {index}", False, f"/dev/nvidia{index} does not exist")
        return
    options: dict = {"gpus": [index]}
    python = "python3"
    if task_env is not None:
        options.update(binds=task_env.binds(), env=task_env.env())
        python = task_env.python
    with tempfile.TemporaryDirectory(prefix="harness-gpu-check-") as tmp:
        try:
            sandbox = Sandbox(Path(tmp), **options)
        except HarnessError as err:
            yield Probe("GPU sandbox", False, str(err))
            return
        with sandbox:
            smi = sandbox.run("nvidia-smi -L", timeout=60)
            lines = smi.output.strip().splitlines() or ["no output"]
            yield Probe("nvidia-smi in the sandbox", smi.exit_code == 0,
                        lines[0] if smi.exit_code == 0 else f"exit {smi.exit_code}: {lines[-1][:200]}")
            (Path(tmp) / "gpu_probe.py").write_text(_TORCH_PROBE)
            run = sandbox.run(f"{python} gpu_probe.py 2>&1", timeout=300)
            yield _torch_probe(run.output, run.exit_code, python, task_env is not None)
            memory = "memory" in (sandbox._cgroup.controllers() if sandbox._cgroup else [])
    yield Probe("GPU sandbox memory", True,
                f"bounded by the memory cgroup ({sandbox.limits.memory_mb} MiB; no RLIMIT_AS, which CUDA "
                "cannot start under)" if memory else
                "NOT bounded: GPU sandboxes get no RLIMIT_AS (CUDA cannot start under one) and no memory "
                "cgroup is writable here", warn=not memory)


def _torch_probe(output: str, exit_code: int | None, python: str, in_task: bool):
    from harness.sandbox.check import Probe

    name = "torch.cuda in the sandbox"
    where = "the task environment" if in_task else f"the sandbox's {python} (give --task NAME to try a task's)"
    tagged = [line for line in output.splitlines() if line.startswith("harness-gpu: ")]
    last = (output.strip().splitlines() or ["no output"])[-1][:200]
    if not tagged:
        return Probe(name, False, f"{python} failed (exit {exit_code}): {last}")
    words = tagged[-1].split()[1:]
    if words[0] == "ok":
        return Probe(name, True, f"{words[1]} device(s), {' '.join(words[2:-1])}; a 512x512 matmul ran")
    if words[0] == "no-torch":
        return Probe(name, False, f"no torch in {where}")
    if words[0] == "cpu-torch":
        return Probe(name, False, f"torch {words[1]} in {where} is a CPU-only build (no CUDA)")
    reason = [line for line in output.splitlines() if "harness-gpu" not in line and line.strip()]
    return Probe(name, False, f"torch {words[1]} has CUDA but torch.cuda.is_available() is False"
                 + (f": {reason[-1].strip()[:200]}" if reason else ""))
