"""TaskEnv: the Python environment a task's code runs with inside the sandbox.

One virtual environment per (requirements, interpreter) under
``harness.paths.cache_dir()/envs/<key>``, built once and reused by every later
episode. It is created from the base interpreter the harness runs on, and a ``.pth``
file puts the harness environment's site-packages after its own, so packages the
harness already has (numpy, pandas, scikit-learn, torch …) are reused, not
downloaded: a task whose requirements are all satisfied builds offline in well under
a second. Only the unsatisfied requirements are pip-installed into the venv, with CPU
or CUDA wheels as the machine's NVIDIA driver says (:mod:`harness.task.wheels`); tasks
with the same requirements share one environment.

The venv is built in a temporary directory next to its final place and renamed into
place when complete, under a file lock, so a failed or interrupted build leaves no
cache entry and concurrent episodes build it once.

    env = TaskEnv.ensure(task)
    with Sandbox(ws, binds=env.binds(), env=env.env()) as sb:
        sb.run(f"{env.python} baseline.py")

Inside the sandbox the venv is bound read-only at its own host path and the shared
site-packages at neutral paths (see :meth:`TaskEnv.binds`); the repository itself
(which holds ``tasks/*/scoring``) is never bound.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from harness import paths
from harness.errors import TaskError
from harness.sandbox import Bind
from harness.task.wheels import (
    PYTHON,
    index_of,
    installed_kind,
    packages_of,
    pip_commands,
    pulls_accelerated,
    torch_index,
    tree_size,
    unreachable,
    unreachable_message,
    wheel_kind,
)

INSIDE_SITE = "/opt/harness/site-packages"
"""Where the harness's own site-packages appear inside the sandbox."""
SHARED_PTH = "_harness_shared.pth"
MARKER = ".harness-env.json"
"""Written last into a finished environment; its presence means the build completed."""

# Distributions that provide the same import package under another name.
_EQUIVALENT = {
    "xgboost": ("xgboost-cpu",),
    "xgboost-cpu": ("xgboost",),
    "opencv-python": ("opencv-python-headless",),
    "opencv-python-headless": ("opencv-python",),
}

Progress = Callable[[str], None]


class TaskEnv:
    """A built task environment (use :meth:`ensure` to get one)."""

    def __init__(self, root: Path, shared: Iterable[Path]) -> None:
        self.root = Path(root)
        """The venv directory (same path on the host and inside the sandbox)."""
        self.shared = [Path(p) for p in shared]
        """Harness site-packages the venv reuses (bound read-only)."""

    def __repr__(self) -> str:
        return f"TaskEnv({str(self.root)!r})"

    @property
    def python(self) -> str:
        """Path of the environment's python, valid on the host and inside the sandbox."""
        return str(self.root / "bin" / "python")

    def binds(self) -> list[Bind]:
        """Read-only bind mounts the sandbox needs for this environment.

        The harness's own site-packages are mounted under :data:`INSIDE_SITE`, not at
        their host path (often inside the user's checkout), with the venv's ``.pth``
        swapped for one naming those paths; the harness's own install records (its
        editable finder maps ``harness`` to the checkout) are covered by empty ones.
        """
        overlay = self._overlay()
        binds = [Bind(self.root, str(self.root))]
        for index, path in enumerate(self.shared):
            inside = f"{INSIDE_SITE}/{index}"
            binds.append(Bind(path, inside))
            for name in _harness_records(path):
                cover = overlay / ("empty-dir" if (path / name).is_dir() else "empty")
                binds.append(Bind(cover, f"{inside}/{name}"))
        binds.append(Bind(overlay / SHARED_PTH, str(self._site_dir() / SHARED_PTH)))
        return binds

    def _site_dir(self) -> Path:
        return self.root / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"

    def _overlay(self) -> Path:
        """Files bound over parts of the environment inside the sandbox (made once)."""
        overlay = self.root / ".inside"
        pth = "".join(f"{INSIDE_SITE}/{i}\n" for i in range(len(self.shared)))
        if (overlay / SHARED_PTH).is_file() and (overlay / SHARED_PTH).read_text() == pth:
            return overlay
        tmp = Path(tempfile.mkdtemp(prefix=".inside-", dir=self.root))
        try:
            (tmp / SHARED_PTH).write_text(pth)
            (tmp / "empty").write_text("")
            (tmp / "empty-dir").mkdir()
            for path in [tmp, *tmp.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            shutil.rmtree(overlay, ignore_errors=True)
            os.rename(tmp, overlay)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (overlay / SHARED_PTH).is_file():
                raise
        return overlay

    def env(self) -> dict[str, str]:
        """Environment variables for the sandbox: the venv's bin first on PATH."""
        return {
            "PATH": str(self.root / "bin"),
            "VIRTUAL_ENV": str(self.root),
            "PYTHONNOUSERSITE": "1",
        }

    @property
    def info(self) -> dict:
        """What the build recorded: requirements, what was reused and installed."""
        return json.loads((self.root / MARKER).read_text())

    @property
    def kind(self) -> str | None:
        """``cpu`` or ``cuda``: the torch/jax build this environment installed or reuses
        from the harness; None when its requirements reach neither."""
        own = installed_kind([self._site_dir()])
        if own is not None:
            return own
        try:
            requirements = self.info.get("requirements", [])
        except (OSError, ValueError):
            return None
        return installed_kind(self.shared) if pulls_accelerated(requirements) else None

    def size(self) -> int:
        """Bytes the venv takes on disk (the harness's packages it reuses not counted)."""
        return tree_size(self.root)

    # -- finding and building ------------------------------------------------------

    @classmethod
    def find(cls, task) -> TaskEnv | None:
        """The environment ``task`` would run with, if it is built (never builds)."""
        try:
            plan = _Plan.of(task)
        except TaskError:
            return None
        final = paths.cache_dir() / "envs" / plan.key
        return cls(final, plan.shared) if (final / MARKER).is_file() else None

    @classmethod
    def ensure(cls, task, progress: Progress | None = None) -> TaskEnv:
        """Return the environment for ``task.requirements``, building it on first use.

        Raises TaskError naming the package when pip cannot install a requirement; no
        cache entry is left behind then.
        """
        say = progress or (lambda message: None)
        plan = _Plan.of(task)
        shared, key, missing = plan.shared, plan.key, plan.missing
        envs = paths.cache_dir() / "envs"
        envs.mkdir(parents=True, exist_ok=True)
        final = envs / key
        if (final / MARKER).is_file():
            _readable_by_all(final)
            return cls(final, shared)
        with paths.locked(envs / f"{key}.lock"):
            if (final / MARKER).is_file():  # built by someone else while we waited
                return cls(final, shared)
            if final.exists():  # a foreign or damaged directory: never trust it
                shutil.rmtree(final)
            reused = [str(r) for r in plan.parsed if str(r) not in missing]
            say(
                f"building the environment of task {task.id} in {final} "
                f"(reusing {len(reused)} package(s) of the harness"
                + (f", installing {', '.join(missing)} with {plan.kind.upper()} wheels: {plan.why})"
                   if missing else ")")
            )
            started = time.monotonic()
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}.build-", dir=envs))
            tmp.chmod(0o755)  # mkdtemp's 0700 would lock out a sandbox that runs as another uid
            try:
                _build(tmp, final, shared, plan.commands, say)
                info = {
                    "task": task.id,
                    "requirements": plan.requirements,
                    "reused": reused,
                    "installed": missing,
                    "wheels": plan.kind if missing else None,
                    "pip": plan.commands,
                    "shared": [str(p) for p in shared],
                    "python": sys.version.split()[0],
                    "built_s": round(time.monotonic() - started, 2),
                }
                (tmp / MARKER).write_text(json.dumps(info, indent=2) + "\n")
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            say(f"task environment ready ({time.monotonic() - started:.1f}s)")
        return cls(final, shared)


class _Plan:
    """What an environment for a task's requirements would hold, and its cache key.

    Tasks with the same requirements share one environment. The key covers the pip
    command lines, so the CPU/CUDA choice (and the torch index) is part of it whenever
    something is installed; an environment that installs nothing is the same either way.
    """

    def __init__(self, task) -> None:
        self.requirements = list(task.requirements)
        self.parsed = []
        for req in self.requirements:
            try:
                self.parsed.append(Requirement(req))
            except InvalidRequirement as err:
                raise TaskError(f"task {task.id}: requirement {req!r} is invalid ({err})") from None
        self.missing = [str(r) for r in self.parsed if not _satisfied(r)]
        self.shared = _shared_site_packages()
        self.kind, self.why = wheel_kind()
        self.commands = pip_commands(self.missing, self.kind, torch_index()) if self.missing else []
        self.key = _key(self.requirements, self.missing, self.shared, self.commands)

    @classmethod
    def of(cls, task) -> _Plan:
        return cls(task)


def _readable_by_all(root: Path) -> None:
    """Environments built before sandboxes ran as their own uid were left 0700."""
    try:
        if root.stat().st_mode & 0o055 != 0o055:
            root.chmod(0o755)
    except OSError:
        pass


def _base_python() -> str:
    """The interpreter the harness's own venv was made from (or this one)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return base if os.path.exists(base) else sys.executable


def _shared_site_packages() -> list[Path]:
    """The harness environment's site-packages (not the base install: that is bound anyway)."""
    out = []
    for entry in site.getsitepackages():
        path = Path(entry)
        if path.is_dir() and path.resolve() not in [p.resolve() for p in out]:
            out.append(path)
    return out


def _harness_records(site_dir: Path) -> list[str]:
    """Entries of a site-packages that record where the harness itself is installed."""
    try:
        names = os.listdir(site_dir)
        cached = os.listdir(site_dir / "__pycache__") if "__pycache__" in names else []
    except OSError:
        return []
    found = [n for n in names if n.startswith("__editable__") or re.fullmatch(r"harness-[^-]+\.dist-info", n)]
    found += [f"__pycache__/{n}" for n in cached if n.startswith("__editable__")]
    return sorted(found)


def _satisfied(req: Requirement) -> bool:
    """Whether the harness's own environment already provides ``req``."""
    if req.marker is not None and not req.marker.evaluate():
        return True
    if req.url:
        return False
    names = [req.name, *_EQUIVALENT.get(canonicalize_name(req.name), ())]
    for name in names:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if req.specifier.contains(version, prereleases=True):
            return True
    return False


def _key(requirements: list[str], missing: list[str], shared: list[Path],
         commands: list[list[str]] | None = None) -> str:
    """The cache key: what the environment holds and how it was installed (not the task)."""
    fields = {
        "requirements": sorted(requirements),
        "missing": sorted(missing),
        "python": sys.version,
        "base": os.path.realpath(_base_python()),
        "shared": [str(p) for p in shared],
    }
    if commands:  # only then: environments that install nothing keep their keys
        fields["pip"] = commands
    blob = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _build(tmp: Path, final: Path, shared: list[Path], commands: list[list[str]], say: Progress) -> None:
    run = subprocess.run(
        [_base_python(), "-m", "venv", "--without-pip", str(tmp)],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise TaskError(f"could not create a venv with {_base_python()}: {_last_line(run.stderr)}")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_dir = tmp / "lib" / version / "site-packages"
    site_dir.mkdir(parents=True, exist_ok=True)
    # Plain path lines: the harness's own .pth files (its editable install) stay inert.
    (site_dir / SHARED_PTH).write_text("".join(f"{p}\n" for p in shared))
    python = str(tmp / "bin" / "python")
    for command in commands:
        argv = [sys.executable, *(python if part == PYTHON else part for part in command)]
        packages = packages_of(command)
        say(f"pip install {' '.join(packages)}" + (f" from {index_of(command)}" if index_of(command) else ""))
        run = subprocess.run(argv, capture_output=True, text=True)
        if run.returncode == 0:
            continue
        output = run.stdout + run.stderr
        index = index_of(command)
        if index is not None and unreachable(output):
            raise TaskError(unreachable_message(index, packages))
        failed = _failed_package(output, packages)
        raise TaskError(
            f"could not install {failed} into the task environment: "
            f"{_last_line(run.stderr or run.stdout)} (nothing was cached; fix the "
            "requirement in task.yaml or make the package available to pip)"
        )
    _relocate(tmp, final)


def _relocate(tmp: Path, final: Path) -> None:
    """Rewrite the build directory's path to the final one in scripts and pyvenv.cfg."""
    old, new = str(tmp).encode(), str(final).encode()
    candidates = [tmp / "pyvenv.cfg", *(tmp / "bin").iterdir()]
    for path in candidates:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old in data and b"\0" not in data[:1024]:
            path.write_bytes(data.replace(old, new))


def _failed_package(output: str, missing: list[str]) -> str:
    patterns = (
        r"No matching distribution found for ([^\s]+)",
        r"Could not find a version that satisfies the requirement ([^\s]+)",
        r"Failed (?:to build|building wheel for) ([^\s]+)",
        r"Could not build wheels for ([^\s,]+)",
    )
    for pattern in patterns:
        match = re.search(pattern, output)
        if match:
            return repr(match.group(1))
    if len(missing) == 1:
        return repr(missing[0])
    return "one of " + ", ".join(repr(m) for m in missing)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1][:300]
