"""Tasks: load and validate a task directory, lay out a fresh workspace.

A task is a directory::

    tasks/house_price/
      task.yaml     the schema below (the ``Task`` model is its single source of truth)
      workspace/    copied fresh into every episode (baseline.py, evaluate.py …)
      data/         read-only inputs, copied to ``data/`` in the workspace
      scoring/      answers and ``score.py``: never inside the agent's sandbox
      DATA.md       where the data comes from

Usage::

    from harness.task.spec import Task, find_task
    task = Task.load(find_task("house_price"))
    task.make_workspace(tmp / "ws")
    task.is_better(0.91, task.baseline[task.primary.name])

Every mistake in a task directory raises :class:`~harness.errors.TaskError` with one
line naming the file, the field and the fix, e.g.
``tasks/x/task.yaml: field 'metrics[0].direction': must be 'maximize' or 'minimize' (got 'max')``.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import shlex
import shutil
import stat
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from harness.errors import TaskError

TASK_FILE = "task.yaml"
SCORER_FILE = "scoring/score.py"
_IGNORED = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}



def _relative_paths(paths: list[str], root: str) -> list[str]:
    """Paths a task names must stay under ``root``: no absolute paths, no '..'."""
    for raw in paths:
        posix = PurePosixPath(raw)
        if not raw or posix.is_absolute() or ".." in posix.parts:
            raise ValueError(f"{raw!r} must be a path relative to {root}, without '..'")
    return paths

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Metric(_Strict):
    """One number the scorer reports."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Key in the scorer's output, e.g. ``r2`` (letters, digits and underscores)."""
    direction: Literal["maximize", "minimize"]
    """Whether higher (``maximize``) or lower (``minimize``) is better."""
    primary: bool = False
    """The metric episodes and benchmarks rank by; exactly one metric is primary (a
    task with a single metric may leave it unmarked)."""


class TaskLimits(_Strict):
    """Budgets of one episode on this task."""

    max_steps: int = Field(50, gt=0)
    """Agent actions before the episode is auto-submitted."""
    cost_limit: float = Field(4.0, ge=0)
    """Model cost (USD) before the episode is auto-submitted; 0 means no limit."""
    command_timeout: float = Field(600.0, gt=0)
    """Seconds one shell command may run before it is killed."""
    wall_time: float = Field(7200.0, gt=0)
    """Seconds the whole episode may take."""
    score_timeout: float = Field(300.0, gt=0)
    """Seconds the scorer may take on one submission."""


class Needs(_Strict):
    """What the machine must offer to run this task."""

    gpus: int = Field(0, ge=0)
    """GPUs the task needs (0 for CPU-only tasks)."""
    network: bool = False
    """Whether the agent's sandbox gets network access (almost always false)."""
    recommended_gpus: int = Field(0, ge=0)
    """GPUs the task's real runs should have: it runs without them (e.g. on its small
    test data), only slowly, and ``harness tasks`` and ``harness task check`` say so."""


class DataFile(_Strict):
    """One file of a data set, identified by its sha256."""

    name: str = Field(pattern=r"^[A-Za-z0-9._+\-]+$")
    """File name (no directories), e.g. ``train-images-idx3-ubyte.gz``; ``--from`` looks for
    files by this name."""
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """Checksum every download and every ``--from`` file must match (64 lower-case hex
    digits). Leave it out only for a file whose publisher gives none: its first
    download is then trusted, and the sha256 it had is recorded with the prepared data
    and reported, so it can be compared with a trusted copy and written here."""
    size: int | None = Field(None, ge=0)
    """Size in bytes, for the progress bar and a quick check before hashing."""
    urls: list[str] = Field(default_factory=list)
    """Where to download it, tried in order (mirrors after the official URL); empty for
    files that only come through ``--from``."""


class DataSet(_Strict):
    """One variant of the task's data: the official files, or a small stand-in in the
    same format (e.g. shipped in the repository for tests)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    """Short name, e.g. ``full`` or ``tiny``; the prepare script gets it as
    ``HARNESS_DATA_SET``."""
    about: str = ""
    """One line on what the set is, shown by ``harness tasks``."""
    files: list[DataFile] = Field(min_length=1)
    """The files the prepare script reads."""
    baseline: dict[str, float] = Field(default_factory=dict)
    """Baseline scores measured on this set, when they differ from the task's
    ``baseline`` (which is for the first set): ``harness task check`` compares with these
    when this set is prepared."""
    tolerance: float | None = Field(None, ge=0)
    """Relative tolerance for ``baseline`` (default: the task's ``tolerance``)."""


class TaskData(_Strict):
    """Data that cannot ship in the repository: ``harness task prepare`` downloads it
    (or takes it from ``--from PATH``), checks every file's sha256 and runs the task's
    prepare script into the user's data directory."""

    sets: list[DataSet] = Field(min_length=1)
    """The data sets; ``harness task prepare TASK`` downloads the first one, ``--from``
    uses whichever set the given files match."""
    prepare: str | None = None
    """Script in the task directory, run with the task environment's Python as
    ``python SCRIPT SOURCE_DIR OUTPUT_DIR`` (SOURCE_DIR holds the set's files by name);
    without one the files themselves are the data."""
    public: list[str] = Field(min_length=1)
    """Paths in the prepared data copied to ``data/`` of every workspace (the training
    and validation data, test inputs without answers). Everything else (the test
    answers) only the scorer sees, at ``$HARNESS_TASK_DATA``."""

    @field_validator("public")
    @classmethod
    def _public_relative(cls, paths: list[str]) -> list[str]:
        return _relative_paths(paths, "the prepared data")

    def set_named(self, name: str) -> DataSet:
        for data_set in self.sets:
            if data_set.name == name:
                return data_set
        raise KeyError(name)


class MlgymLink(_Strict):
    """Which MLGym-Bench task this task reproduces, so that published trajectories
    replay against it, imported scores keep their meaning and published figures are
    only compared where the scale is the benchmark's."""

    id: str = Field(min_length=1)
    """MLGym's task id (``id`` in its ``configs/tasks/*.yaml``), e.g. ``battleOfSexes``."""
    metrics: dict[str, str] = Field(default_factory=dict)
    """MLGym's metric names mapped to this task's, e.g. ``{Score: score}``; names that
    match case-insensitively need no entry."""
    same_scale: bool = True
    """Whether an honest agent's number here is on the benchmark's scale (same data
    set, split, evaluation protocol). When false, studies leave this task out of AUP
    against the published models unless asked, and reports mark it."""
    differs: str = ""
    """One line on what differs from the benchmark when ``same_scale`` is false."""
    noise: dict[str, float] = Field(default_factory=dict)
    """One standard deviation of MLGym's own evaluation of one fixed submission, by
    this task's metric name, where that evaluation is unseeded (the games draw 10,000
    fresh random games each time), e.g. ``{score: 0.004}``. ``harness replay`` of a
    published run counts a score within 3 of them of the recorded one as reproduced."""

    def our_metric(self, mlgym_name: str, ours: list[str]) -> str | None:
        """This task's name for MLGym's metric ``mlgym_name`` (None when unmapped)."""
        if mlgym_name in self.metrics:
            return self.metrics[mlgym_name]
        folded = {name.lower(): name for name in ours}
        return folded.get(mlgym_name.lower())


class Task(_Strict):
    """The contents of ``task.yaml``; ``Task.load(dir)`` also checks the files."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    """Short identifier, lower case, e.g. ``house_price``; by convention the directory name."""
    name: str = Field(min_length=1)
    """Human-readable title."""
    description: str = Field(min_length=1)
    """The prompt the agent reads: the goal, the files, the submission format and the
    installed packages."""
    metrics: list[Metric] = Field(min_length=1)
    """The scorer's metrics; one is primary."""
    baseline: dict[str, float] = Field(default_factory=dict)
    """Score of the task's baseline on the test split, by metric, as measured by
    ``harness task check`` (which fails when the baseline no longer reproduces it)."""
    published_baseline: dict[str, float] = Field(default_factory=dict)
    """Baseline scores published elsewhere (e.g. MLGym-Bench), for reference only."""
    tolerance: float = Field(1e-6, ge=0)
    """Relative tolerance within which a re-run of the baseline must match ``baseline``."""
    baseline_source: Literal["measured", "published"] = "measured"
    """Where ``baseline`` comes from: ``measured`` here by ``harness task check``, or
    ``published`` (the literature's number, for tasks whose real run needs data or a GPU
    the checks lack; ``harness task check`` then reports its measurement without failing)."""
    baseline_command: str = "python baseline.py"
    """Shell command, run in the workspace, that writes the baseline's submission."""
    limits: TaskLimits = Field(default_factory=TaskLimits)
    """Budgets of one episode."""
    requirements: list[str] = Field(default_factory=list)
    """Python packages of the task environment (pip requirement strings); packages the
    harness's own environment already satisfies are reused, not downloaded."""
    needs: Needs = Field(default_factory=Needs)
    """Hardware and network the task needs."""
    submission: list[str] = Field(default_factory=lambda: ["submission.csv"], min_length=1)
    """Workspace-relative file(s) that make up a submission."""
    readonly: list[str] = Field(default_factory=list)
    """Workspace-relative paths the agent cannot modify (e.g. ``evaluate.py``, ``data``)."""
    data: TaskData | None = None
    """Data prepared by ``harness task prepare`` instead of shipped in ``data/``."""
    mlgym: MlgymLink | None = None
    """The MLGym-Bench task this one reproduces, if any."""

    _dir: Path = PrivateAttr(default=Path("."))

    @field_validator("submission", "readonly")
    @classmethod
    def _relative(cls, paths: list[str]) -> list[str]:
        return _relative_paths(paths, "the workspace")

    # -- loading -----------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Task:
        """Load and validate the task at ``path`` (its directory or its task.yaml).

        Raises TaskError with one line naming the file, the field and the fix.
        """
        path = Path(path)
        directory = path.parent if path.name == TASK_FILE else path
        spec_file = directory / TASK_FILE
        shown = _shown(spec_file)
        if not directory.is_dir():
            raise TaskError(f"{_shown(directory)}: no such task directory")
        if not spec_file.is_file():
            raise TaskError(f"{shown}: missing: every task directory needs a {TASK_FILE}")
        try:
            raw = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise TaskError(f"{shown}: not valid YAML{where}: {problem}") from None
        if not isinstance(raw, dict):
            raise TaskError(f"{shown}: must be a mapping of fields (id, name, description, …)")
        try:
            task = cls.model_validate(raw)
        except ValidationError as err:
            raise TaskError(f"{shown}: {_explain(err, cls)}") from None
        task._dir = directory.resolve()
        task._check(shown)
        return task

    def _check(self, shown: str) -> None:
        """Checks across fields and against the files on disk."""
        names = [m.name for m in self.metrics]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise TaskError(
                    f"{shown}: field 'metrics[{i}].name': metric {name!r} is listed twice"
                )
        primaries = [i for i, m in enumerate(self.metrics) if m.primary]
        if len(primaries) > 1 or (not primaries and len(self.metrics) > 1):
            raise TaskError(
                f"{shown}: field 'metrics': mark exactly one metric 'primary: true' "
                f"(found {len(primaries)})"
            )
        for field in ("baseline", "published_baseline"):
            for key, value in getattr(self, field).items():
                if key not in names:
                    raise TaskError(
                        f"{shown}: field '{field}.{key}': unknown metric {key!r} "
                        f"(metrics are: {', '.join(names)})"
                    )
                if not math.isfinite(value):
                    raise TaskError(f"{shown}: field '{field}.{key}': must be a finite number")
        if self.mlgym is not None:
            for theirs, ours in self.mlgym.metrics.items():
                if ours not in names:
                    raise TaskError(
                        f"{shown}: field 'mlgym.metrics.{theirs}': unknown metric {ours!r} "
                        f"(metrics are: {', '.join(names)})"
                    )
            for ours, sd in self.mlgym.noise.items():
                if ours not in names or not (math.isfinite(sd) and sd >= 0):
                    raise TaskError(
                        f"{shown}: field 'mlgym.noise.{ours}': a metric of this task "
                        f"({', '.join(names)}) and a standard deviation >= 0"
                    )
            if not self.mlgym.same_scale and not self.mlgym.differs:
                raise TaskError(
                    f"{shown}: field 'mlgym.differs': say in one line what differs from "
                    "the benchmark when 'same_scale' is false"
                )
        for i, req in enumerate(self.requirements):
            try:
                from packaging.requirements import InvalidRequirement, Requirement
            except ImportError:  # pragma: no cover - packaging ships with pip
                break
            try:
                Requirement(req)
            except InvalidRequirement as err:
                raise TaskError(
                    f"{shown}: field 'requirements[{i}]': {req!r} is not a pip requirement "
                    f"({str(err).splitlines()[0]})"
                ) from None
        root = self.dir
        where = _shown(root)
        if not (root / "workspace").is_dir():
            raise TaskError(
                f"{where}: missing workspace/: create it (it is copied into every episode)"
            )
        if not (root / SCORER_FILE).is_file():
            raise TaskError(
                f"{where}: missing {SCORER_FILE}: every task needs a scorer (see docs/task-format.md)"
            )
        if (root / "data").exists() and (root / "workspace" / "data").exists():
            raise TaskError(
                f"{where}: workspace/data clashes with data/: keep inputs in data/ only"
            )
        if self.data is not None:
            self._check_data(shown, names)
        for i, rel in enumerate(self.readonly):
            if self.data is not None and PurePosixPath(rel).parts[0] == "data":
                continue  # prepared data: laid out by `harness task prepare`
            if not self._source_of(rel).exists():
                raise TaskError(
                    f"{shown}: field 'readonly[{i}]': {rel!r} is neither in workspace/ nor data/"
                )
        try:
            words = shlex.split(self.baseline_command)
        except ValueError as err:
            raise TaskError(f"{shown}: field 'baseline_command': {err}") from None
        for word in words:
            if word.endswith(".py") and not (root / "workspace" / word).is_file():
                raise TaskError(f"{shown}: field 'baseline_command': {word!r} is not in workspace/")

    def _check_data(self, shown: str, names: list[str]) -> None:
        data = self.data
        assert data is not None
        where = _shown(self.dir)
        if (self.dir / "data").exists():
            raise TaskError(
                f"{where}: has both data/ and a 'data:' section: ship inputs in data/ or "
                "prepare them, not both"
            )
        if data.prepare is not None and not (self.dir / data.prepare).is_file():
            raise TaskError(f"{shown}: field 'data.prepare': {data.prepare!r} is not in {where}")
        seen: set[str] = set()
        for i, data_set in enumerate(data.sets):
            if data_set.name in seen:
                raise TaskError(
                    f"{shown}: field 'data.sets[{i}].name': set {data_set.name!r} is listed twice"
                )
            seen.add(data_set.name)
            files = [f.name for f in data_set.files]
            for j, name in enumerate(files):
                if name in files[:j]:
                    raise TaskError(
                        f"{shown}: field 'data.sets[{i}].files[{j}].name': {name!r} is listed twice"
                    )
            for key in data_set.baseline:
                if key not in names:
                    raise TaskError(
                        f"{shown}: field 'data.sets[{i}].baseline.{key}': unknown metric {key!r} "
                        f"(metrics are: {', '.join(names)})"
                    )

    # -- derived attributes ---------------------------------------------------------

    @property
    def dir(self) -> Path:
        """The task directory (absolute)."""
        return self._dir

    @property
    def primary(self) -> Metric:
        """The metric to rank by."""
        for metric in self.metrics:
            if metric.primary:
                return metric
        return self.metrics[0]

    def metric(self, name: str) -> Metric:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(name)

    @cached_property
    def version(self) -> str:
        """Content hash (sha256, 16 hex digits) of every file in the task directory."""
        digest = hashlib.sha256()
        for file in _files(self.dir):
            digest.update(file.relative_to(self.dir).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        return digest.hexdigest()[:16]

    def is_better(self, a: float, b: float) -> bool:
        """Whether score ``a`` beats ``b`` on the primary metric (NaN never wins)."""
        if a is None or (isinstance(a, float) and math.isnan(a)):
            return False
        if b is None or (isinstance(b, float) and math.isnan(b)):
            return True
        return a > b if self.primary.direction == "maximize" else a < b

    # -- workspace ----------------------------------------------------------------

    def _source_of(self, rel: str) -> Path:
        parts = PurePosixPath(rel).parts
        if parts and parts[0] == "data" and (self.dir / "data").exists():
            return self.dir.joinpath(*parts)
        return self.dir.joinpath("workspace", *parts)

    def make_workspace(self, dest: str | os.PathLike[str]) -> None:
        """Lay out a fresh workspace at ``dest``: a copy of workspace/ plus data/ at dest/data
        (for a task with a ``data:`` section, the public part of its prepared data; raises
        DataError when it is not prepared).

        Files under ``readonly`` paths are made read-only (mode 0444) on the host as
        well; the sandbox additionally mounts them read-only. ``scoring/`` is never copied.
        """
        dest = Path(dest)
        prepared = None
        if self.data is not None:
            from harness.task.prepare import require_prepared

            prepared = require_prepared(self)  # before copying anything: one clear line
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.dir / "workspace", dest, dirs_exist_ok=True, ignore=_ignore)
        if (self.dir / "data").is_dir():
            shutil.copytree(self.dir / "data", dest / "data", dirs_exist_ok=True, ignore=_ignore)
        if prepared is not None:
            # Read-only data can be shared with the prepared copy instead of duplicated.
            readonly = {str(PurePosixPath(r)) for r in self.readonly}
            prepared.copy_public(dest / "data", link="data" in readonly)
        for rel in self.readonly:
            target = dest / rel
            paths = [target] if target.is_file() else [p for p in target.rglob("*") if p.is_file()]
            for path in paths:
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode) or info.st_nlink > 1:
                    continue  # shared with the prepared data (or beyond): leave its mode alone
                path.chmod(info.st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    def summary(self) -> dict[str, Any]:
        """One row for ``harness tasks``."""
        return {
            "id": self.id,
            "metric": f"{self.primary.name} ({self.primary.direction})",
            "baseline": self.baseline.get(self.primary.name),
            "gpus": self.needs.gpus,
            "network": self.needs.network,
        }


# -- finding tasks ---------------------------------------------------------------


def repo_tasks_dir() -> Path:
    """The ``tasks/`` directory next to the installed harness package (a checkout)."""
    return Path(__file__).resolve().parents[2] / "tasks"


def find_task(name_or_path: str | os.PathLike[str]) -> Path:
    """Resolve a task: an existing directory (or its task.yaml), or a bare name looked up
    under ``./tasks`` and then the installed repository's ``tasks/``."""
    path = Path(name_or_path)
    if path.name == TASK_FILE and path.is_file():
        return path.parent
    if (path / TASK_FILE).is_file():
        return path
    tried = [path]
    if len(path.parts) == 1:
        for root in (Path.cwd() / "tasks", repo_tasks_dir()):
            candidate = root / path
            tried.append(candidate)
            if (candidate / TASK_FILE).is_file():
                return candidate
    looked = ", ".join(dict.fromkeys(_shown(p) for p in tried))
    raise TaskError(
        f"no task {str(name_or_path)!r} (looked in {looked}): `harness tasks` lists the available tasks"
    )


def list_tasks() -> list[Path]:
    """Task directories under ./tasks and the installed repository's tasks/, by id."""
    found: dict[str, Path] = {}
    for root in (Path.cwd() / "tasks", repo_tasks_dir()):
        if root.is_dir():
            for spec in sorted(root.glob(f"*/{TASK_FILE}")):
                found.setdefault(spec.parent.name, spec.parent)
    return [found[name] for name in sorted(found)]


# -- helpers ----------------------------------------------------------------------


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _IGNORED or n.endswith(".pyc")}


def _files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED and not d.startswith("."))
        out.extend(Path(dirpath) / f for f in sorted(filenames) if not f.endswith(".pyc"))
    return out


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the cwd when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed where ``loc`` points (for 'did you mean')."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        args = getattr(annotation, "__args__", ())
        current = next((a for a in (annotation, *args) if hasattr(a, "model_fields")), None)
    return list(getattr(current, "model_fields", {}) or [])


def _explain(err: ValidationError, model: type[BaseModel]) -> str:
    """The first validation error as one line with the fix."""
    errors = err.errors()
    # A misspelled field shows up as "unknown" and "missing": report the misspelling.
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    more = (
        f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        if len(errors) > 1
        else ""
    )
    loc = first["loc"]
    where = _loc(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
        return f"unknown field '{where}': {hint}{more}"
    if kind == "missing":
        return f"field '{where}' is missing: add it{more}"
    message = first["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = message.replace("Input should be", "must be").replace("String should", "must")
    message = message.replace("List should", "must").replace("Input should", "must")
    got = first.get("input")
    shown_got = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"field '{where}': {message}{shown_got}{more}"
