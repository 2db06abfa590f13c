"""A study: tasks x models x runs, laid out in one directory, resumable.

The directory is the study's whole state, so a study killed at any moment (kill -9
included) resumes from what is on disk:

    STUDY/study.json                          configuration, its hash, versions, host
    STUDY/study.lock                          flock'd while a bench process works here
    STUDY/episodes/<task>/<model>/run-<i>/    one episode's run directory

An episode is finished when its ``results.json`` exists and its exit status is not
``interrupted``; anything else is rerun from scratch on ``--resume`` (its directory
is cleared first), so a half-run episode can never leak into the tables. The
configuration is hashed, and a study refuses to resume under another one: results
of different settings are never mixed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.run.options import EpisodeOptions
from harness.run.trajectory import RESULTS, write_json_atomic
from harness.task.spec import Task, find_task
from harness.versions import environment_lock, host, versions

STUDY_FILE = "study.json"
LOCK_FILE = "study.lock"
FORMAT = 1
UNFINISHED_STATUSES = frozenset({"interrupted"})


class StudyError(HarnessError):
    """The study directory cannot be used as asked (exists, locked, other config)."""


LEGACY_OPTIONS = {"max_steps": "max_steps", "cost_limit": "cost_limit",
                  "context_tokens": "context_tokens", "temperature": "temperature",
                  "tools": "tool_files", "tool_calls": "tool_calls"}
"""study.json keys of the options a study always records (its first format), by option."""
STUDY_OPTIONS = ("wall_time", "command_timeout", "window", "keep_last", "memory", "aci_profile", "agent_config")
"""Options recorded only when they differ from the default, so that a study made
before they existed hashes the same when resumed with the same settings."""
STUDY_DEFAULTS = {"memory": False}
"""Defaults of a study where they differ from an episode's: memory is off in studies
(``harness bench --memory`` turns it on), so False is not recorded."""


@dataclass(frozen=True)
class StudyConfig:
    """Everything that decides an episode's outcome besides chance."""

    tasks: tuple[str, ...]
    models: tuple[str, ...]
    runs: int
    options: EpisodeOptions = field(default_factory=lambda: EpisodeOptions(seed=0))
    """The episodes' options; its ``seed`` is run 1's (run i gets seed + i - 1)."""
    task_versions: dict[str, str] = field(default_factory=dict)
    task_dirs: dict[str, str] = field(default_factory=dict)
    tool_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.options.seed or 0

    def to_json(self) -> dict[str, Any]:
        """study.json's ``config``: the options flat beside the matrix, as studies always had them."""
        options = self.options.to_json()
        data: dict[str, Any] = {"tasks": list(self.tasks), "models": list(self.models), "runs": self.runs,
                                "seed": self.seed}
        data.update({key: options[name] for key, name in LEGACY_OPTIONS.items()})
        defaults = {**EpisodeOptions().to_json(), **STUDY_DEFAULTS}
        data.update({name: options[name] for name in STUDY_OPTIONS if options[name] != defaults[name]})
        data.update(task_versions=dict(self.task_versions), task_dirs=dict(self.task_dirs),
                    tool_hashes=dict(self.tool_hashes))
        return data

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()


def make_config(tasks: list[str], models: list[str], runs: int,
                options: EpisodeOptions | None = None) -> StudyConfig:
    """A config with the tasks' content hashes and the tool files' hashes pinned.

    ``options.seed`` is run 1's seed (default 0); per-episode fields (gpus, labels,
    cpu_threads) are the scheduler's and are not part of a study's configuration.
    """
    options = options or EpisodeOptions()
    if options.seed is None:
        options = options.replace(seed=0)
    if options.memory is None:  # off in studies unless asked (harness bench --memory)
        options = options.replace(memory=False)
    if runs < 1:
        raise StudyError(f"--runs {runs}: a study needs at least one run per task and model")
    if not tasks or not models:
        raise StudyError("a study needs at least one task (--tasks) and one model (--models)")
    for name, values in (("--tasks", tasks), ("--models", models)):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise StudyError(f"{name} names {', '.join(repeated)} twice: give each once")
    loaded = [Task.load(find_task(ref)) for ref in tasks]
    tool_hashes = {}
    for path in options.tool_files:
        try:
            tool_hashes[str(path)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
        except OSError as err:
            raise StudyError(f"--tools {path}: cannot read it ({err.strerror})") from None
    if options.agent_config:  # its templates decide the prompts: pin its content, not its name
        try:
            digest = hashlib.sha256(Path(options.agent_config).read_bytes()).hexdigest()[:16]
        except OSError as err:
            raise StudyError(f"--agent-config {options.agent_config}: cannot read it ({err.strerror})") from None
        tool_hashes[f"agent-config:{options.agent_config}"] = digest
    return StudyConfig(
        tasks=tuple(t.id for t in loaded), models=tuple(models), runs=runs, options=options,
        task_versions={t.id: t.version for t in loaded}, tool_hashes=tool_hashes,
        task_dirs={t.id: str(t.dir) for t in loaded},
    )


def check_tool_calls(config: StudyConfig) -> None:
    """Refuse ``--tool-calls`` up front, as solve does, for a model that writes text.

    Only with ``--tool-calls``: each model is resolved here once. A model this machine
    cannot resolve (a server only a Ray cluster reaches) is left to its workers, which
    apply the same check before their episode starts.
    """
    if not config.options.tool_calls:
        return
    from harness.models import resolve_model
    from harness.run.options import tool_calls_mode

    task_dir = config.task_dirs[config.tasks[0]]
    for spec in config.models:
        try:
            model = resolve_model(spec, task=task_dir, echo=lambda text: None)
        except HarnessError:
            continue
        tool_calls_mode(model, config.options)


def slug(name: str) -> str:
    """A model alias as a directory name (``openai:m@http://h:1/v1`` has / and :)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return safe[:60] + ("-" + hashlib.sha256(name.encode()).hexdigest()[:8] if safe != name else "")


@dataclass(frozen=True)
class EpisodeSpec:
    """One cell of the matrix: what a worker needs to run it, as plain JSON."""

    task: str
    model: str
    run: int
    seed: int
    run_dir: str
    study: str
    task_dir: str = ""

    @property
    def key(self) -> str:
        return f"{self.task}/{self.model}/run-{self.run}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Study:
    """A study directory: created, or resumed under the same configuration."""

    def __init__(self, root: Path, config: StudyConfig) -> None:
        self.root = Path(root)
        self.config = config
        self._lock_fd: int | None = None

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path, config: StudyConfig, *, resume: bool) -> Study:
        """Create the study, or resume it; refuse to mix configurations."""
        root = Path(root)
        study = cls(root, config)
        existing = root / STUDY_FILE
        if existing.is_file():
            if not resume:
                raise StudyError(f"{root} already holds a study: pass --resume to continue it, "
                                 "or choose another --out")
            study.lock()
            try:
                study._check_same_config(existing)
            except StudyError:
                study.close()
                raise
        else:
            if root.exists() and any(p.name != LOCK_FILE and p.suffix != ".tmp" for p in root.iterdir()):
                raise StudyError(f"{root} exists and is not a study directory: choose another --out")
            root.mkdir(parents=True, exist_ok=True)
            study.lock()
            write_json_atomic(existing, {
                "format": FORMAT, "config": config.to_json(), "config_hash": config.digest(),
                "created": datetime.now(UTC).isoformat(), "versions": versions(), "host": host(),
                "environment": environment_lock(),
            })
        return study

    def _check_same_config(self, path: Path) -> None:
        try:
            recorded = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise StudyError(f"{path}: unreadable ({err}); the study cannot be resumed") from None
        if recorded.get("config_hash") == self.config.digest():
            return
        old, new = recorded.get("config") or {}, self.config.to_json()
        differing = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        details = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in differing[:3])
        raise StudyError(f"{self.root} was run with another configuration ({details}): resume it with "
                         "the same options, or start a new study with another --out")

    def lock(self) -> None:
        """Hold the study's lock for this process's lifetime; refuse a second writer."""
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StudyError(f"another `harness bench` (pid {holder}) is writing to {self.root}: "
                             "wait for it to finish or use another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- the matrix ----------------------------------------------------------------

    def specs(self) -> list[EpisodeSpec]:
        """Every episode of the study, runs interleaved so partial studies stay balanced."""
        out = []
        for run in range(1, self.config.runs + 1):
            for task in self.config.tasks:
                for model in self.config.models:
                    run_dir = self.root / "episodes" / task / slug(model) / f"run-{run}"
                    out.append(EpisodeSpec(task, model, run, self.config.seed + run - 1,
                                           str(run_dir), self.root.name,
                                           self.config.task_dirs.get(task, task)))
        return out

    def pending(self) -> list[EpisodeSpec]:
        """Episodes still to run; their leftovers from a killed attempt are cleared."""
        todo = []
        for spec in self.specs():
            if finished(Path(spec.run_dir)):
                continue
            if Path(spec.run_dir).exists():
                shutil.rmtree(spec.run_dir)
            todo.append(spec)
        return todo

    def results(self) -> Iterator[dict[str, Any]]:
        """results.json of every finished episode."""
        for spec in self.specs():
            data = read_results(Path(spec.run_dir))
            if data is not None and data.get("exit_status") not in UNFINISHED_STATUSES:
                yield data


def read_results(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(run_dir) / RESULTS).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def finished(run_dir: Path) -> bool:
    data = read_results(run_dir)
    return data is not None and data.get("exit_status") not in UNFINISHED_STATUSES
