"""CPU or CUDA wheels for a task environment, and what a built one holds.

PyPI's torch for Linux is the CUDA build: installing it pulls ~3 GB of ``nvidia_*``
libraries, useless on a machine without an NVIDIA driver (a 5.4 GB environment for the
Fashion-MNIST task). So an environment is built with CPU wheels (torch from the PyTorch
CPU index, jax without its CUDA extras) unless this machine has an NVIDIA driver, and
with CUDA wheels (PyPI's torch, ``jax[cuda12]``) when it has one.

Overrides, for users and tests:

- ``HARNESS_WHEELS``: ``cpu`` or ``cuda`` (default ``auto``: the driver decides).
- ``HARNESS_TORCH_INDEX``: the index CPU torch comes from (a mirror), or ``pypi`` to
  take PyPI's torch anyway. When the index cannot be reached the build stops with one
  line naming it and these variables; it never falls back to CUDA wheels by itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.errors import TaskError

WHEELS_ENV = "HARNESS_WHEELS"
TORCH_INDEX_ENV = "HARNESS_TORCH_INDEX"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU, CUDA = "cpu", "cuda"
TORCH_FAMILY = frozenset({"torch", "torchvision", "torchaudio"})
"""Packages whose CPU builds live on the PyTorch index, not on PyPI."""
JAX_CUDA_EXTRA = "cuda12"
PYTHON = "{python}"
"""Stands for the environment's interpreter in :func:`pip_commands` (and in the cache key)."""

_UNREACHABLE = (
    "NewConnectionError", "Failed to establish a new connection", "Name or service not known",
    "Temporary failure in name resolution", "Network is unreachable", "Connection refused",
    "ConnectTimeout", "Read timed out", "ProxyError", "Could not fetch URL", "No route to host",
)


def nvidia_driver(root: Path = Path("/"), search_path: str | None = None) -> bool:
    """Whether an NVIDIA driver is loaded: its ``/proc`` entry (under ``root``), else an
    ``nvidia-smi`` on ``search_path`` (default PATH) that lists a GPU."""
    if (root / "proc" / "driver" / "nvidia" / "version").is_file():
        return True
    smi = shutil.which("nvidia-smi", path=search_path)
    if smi is None:
        return False
    try:
        run = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return run.returncode == 0 and "GPU" in run.stdout


def wheel_kind(root: Path = Path("/"), search_path: str | None = None) -> tuple[str, str]:
    """(``cpu`` or ``cuda``, why) for the environments built now."""
    given = os.environ.get(WHEELS_ENV, "auto").strip().lower() or "auto"
    if given in (CPU, CUDA):
        return given, f"{WHEELS_ENV}={given}"
    if given != "auto":
        raise TaskError(f"{WHEELS_ENV}={given!r}: use cpu, cuda or auto")
    if nvidia_driver(root, search_path):
        return CUDA, f"NVIDIA driver found; {WHEELS_ENV}=cpu to change"
    return CPU, f"no NVIDIA driver here; {WHEELS_ENV}=cuda to change"


def torch_index() -> str | None:
    """The index CPU torch comes from; None: PyPI's (the user opted in with ``pypi``)."""
    given = os.environ.get(TORCH_INDEX_ENV, "").strip()
    if given.lower() == "pypi":
        return None
    return given or TORCH_CPU_INDEX


def _for_kind(req: Requirement, kind: str) -> Requirement:
    """jax without CUDA extras on CPU, with ``cuda12`` on CUDA (other packages as given)."""
    name = canonicalize_name(req.name)
    if name not in ("jax", "jaxlib"):
        return req
    changed = Requirement(str(req))
    cuda = {e for e in changed.extras if e.startswith(("cuda", "tpu", "rocm"))}
    if kind == CPU:
        changed.extras -= cuda
    elif name == "jax" and not cuda:
        changed.extras.add(JAX_CUDA_EXTRA)
    return changed


def pip_commands(missing: Iterable[str], kind: str, index: str | None = TORCH_CPU_INDEX,
                 python: str = PYTHON) -> list[list[str]]:
    """The pip command lines that install ``missing`` into the environment of ``python``.

    On CPU the torch family comes first, from ``index`` alone (an extra index would not
    stop pip preferring PyPI's newer CUDA release), so that the rest finds it installed.
    """
    base = ["-m", "pip", "--python", python, "install", "--no-input", "--disable-pip-version-check"]
    reqs = [_for_kind(Requirement(r), kind) for r in missing]
    torch = [str(r) for r in reqs if canonicalize_name(r.name) in TORCH_FAMILY]
    rest = [str(r) for r in reqs if canonicalize_name(r.name) not in TORCH_FAMILY]
    commands = []
    if kind == CPU and torch and index is not None:
        commands.append([*base, "--retries", "1", "--timeout", "20", "--index-url", index, *torch])
    else:
        rest = torch + rest
    if rest:
        commands.append([*base, *rest])
    return commands


def unreachable(output: str) -> bool:
    """Whether pip's output says an index could not be reached (not that a package is missing)."""
    return any(marker in output for marker in _UNREACHABLE)


def index_of(command: list[str]) -> str | None:
    """The ``--index-url`` of a pip command line, if it sets one."""
    return command[command.index("--index-url") + 1] if "--index-url" in command else None


def packages_of(command: list[str]) -> list[str]:
    """The requirements a pip command line of :func:`pip_commands` installs."""
    args, out = command[command.index("install") + 1:], []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--retries", "--timeout", "--index-url"):
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def unreachable_message(index: str, packages: list[str]) -> str:
    return (f"could not reach the PyTorch CPU wheel index {index} for {', '.join(packages)}: set "
            f"{TORCH_INDEX_ENV} to a mirror, {TORCH_INDEX_ENV}=pypi to take PyPI's torch (its CUDA "
            f"build, ~3 GB more), or {WHEELS_ENV}=cuda (nothing was cached)")


# -- what a built environment holds --------------------------------------------------------


def installed_kind(site_dirs: Iterable[Path]) -> str | None:
    """``cpu`` or ``cuda`` for the torch/jax an environment sees; None without either."""
    names: list[str] = []
    for site in site_dirs:
        try:
            names += [n for n in os.listdir(site) if n.endswith(".dist-info")]
        except OSError:
            continue
    dists = {canonicalize_name(n[: -len(".dist-info")].split("-")[0]): n for n in names}
    torch = dists.get("torch")
    jax = dists.get("jax")
    if torch is None and jax is None:
        return None
    nvidia = any(name.startswith("nvidia-") for name in dists)
    if jax is not None and any(re.fullmatch(r"jax-cuda\d+-(plugin|pjrt)", name) for name in dists):
        return CUDA
    if torch is not None and "+cpu" not in torch and nvidia:
        return CUDA
    return CPU


ACCELERATED = frozenset({"torch", "jax", "jaxlib"})


def pulls_accelerated(requirements: Iterable[str], limit: int = 500) -> bool:
    """Whether ``requirements`` reach torch or jax, directly or through the dependencies of
    the installed distributions (so a numpy-only task has no CPU/CUDA kind to show)."""
    import importlib.metadata

    todo = [Requirement(r).name for r in requirements]
    seen: set[str] = set()
    while todo and len(seen) < limit:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        if name in ACCELERATED:
            return True
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            try:
                req = Requirement(text)
            except ValueError:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return False


def tree_size(root: Path) -> int:
    """Bytes ``root`` takes on disk (``du``: blocks, hard links once, symlinks not followed)."""
    def used(info: os.stat_result) -> int:
        return info.st_blocks * 512 if hasattr(info, "st_blocks") else info.st_size

    try:
        top = os.stat(root, follow_symlinks=False)
    except OSError:
        return 0
    total, seen = used(top), {(top.st_dev, top.st_ino)}
    stack = [str(root)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += used(info)
    return total
