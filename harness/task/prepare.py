"""``harness task prepare``: a task's data that cannot ship in the repository.

A task with a ``data:`` section in task.yaml lists one or more data sets (the
official files, maybe a small stand-in in the same format), each file with its
sha256. Preparing takes one set's files, either downloaded (resumable, see
:mod:`harness.task.download`) or found in ``--from PATH`` (a directory searched by file
name, an archive, or one of the files itself), checks every sha256, runs the task's
prepare script on them and installs the result, all under the user's data directory::

    <harness.paths.data_dir()>/tasks/<task id>/
      downloads/NAME        verified downloads, kept: preparing again needs no network
      downloads/NAME.part   an unfinished download; the next attempt resumes it
      prepared/             the prepare script's output; its marker file is written last
      prepared/.harness-data.json   which set, and the fingerprint of what made it

The prepare script's output is built in a temporary directory and renamed into
place only when complete, so a failure (offline, bad checksum, script error) leaves
the previous state untouched. Episodes copy the ``public`` paths of the prepared data
into ``data/`` of the agent's workspace; the scorer's sandbox sees all of it at
``$HARNESS_TASK_DATA``, so test answers never enter the agent's sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness import paths
from harness.errors import DataError
from harness.task.download import Meter, fetch, sha256_of

MARKER = ".harness-data.json"
SCORER_MOUNT = "/task_data"
"""Where the scorer's sandbox sees the prepared data (also in ``$HARNESS_TASK_DATA``)."""

Say = Callable[[str], None]


@dataclass(frozen=True)
class Prepared:
    """Prepared data of a task on this machine."""

    path: Path
    """The prepared directory (public and private parts)."""
    data_set: object
    """The :class:`~harness.task.spec.DataSet` it was made from."""
    info: dict
    """The marker's contents: set, fingerprint, files, source, time."""
    public: tuple[str, ...]

    @property
    def set_name(self) -> str:
        return self.data_set.name

    def copy_public(self, dest: Path, *, link: bool = False) -> None:
        """Copy the public paths into ``dest`` (a workspace's ``data/``).

        With ``link`` (only for data the workspace holds read-only, or the agent could
        change the prepared files through the link), files are hard-linked where the
        filesystem allows: a workspace then costs no copy of gigabytes of images or
        token shards.
        """
        copy = _link_or_copy if link else shutil.copyfile
        dest.mkdir(parents=True, exist_ok=True)
        for rel in self.public:
            source = self.path / PurePosixPath(rel)
            target = dest / PurePosixPath(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True, copy_function=copy)
            else:
                copy(source, target)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(os.path.realpath(source), target)  # never a link to a symlink
    except OSError:  # another filesystem, or links not allowed: copy
        shutil.copyfile(source, target)


def data_root(task) -> Path:
    """Where this task's downloads and prepared data live."""
    return paths.data_dir() / "tasks" / task.id


def fingerprint(task, data_set) -> str:
    """What the prepared data depends on: the set's files, the script and ``public``."""
    script = task.data.prepare
    blob = {
        "files": sorted((f.name, f.sha256) for f in data_set.files),
        "public": list(task.data.public),
        "script": sha256_of(task.dir / script) if script else None,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def download_size(data_set) -> int | None:
    sizes = [f.size for f in data_set.files]
    return None if None in sizes else sum(sizes)


def find_prepared(task) -> Prepared | None:
    """The task's prepared data when it is complete and current, else None."""
    if task.data is None:
        return None
    directory = data_root(task) / "prepared"
    try:
        info = json.loads((directory / MARKER).read_text())
        data_set = task.data.set_named(info["set"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("fingerprint") != fingerprint(task, data_set):
        return None
    if not all((directory / PurePosixPath(rel)).exists() for rel in task.data.public):
        return None
    return Prepared(directory, data_set, info, tuple(task.data.public))


def require_prepared(task) -> Prepared:
    """The prepared data, or DataError saying the command that prepares it."""
    found = find_prepared(task)
    if found is not None:
        return found
    stale = (data_root(task) / "prepared" / MARKER).is_file()
    size = download_size(task.data.sets[0])
    download = f", downloads {human_size(size)}" if size else ""
    why = "was prepared for an older version of the task" if stale else "is not prepared"
    raise DataError(
        f"task {task.id}: its data {why}: run `harness task prepare {task.id}`{download} "
        f"(or `--from PATH` if you already have the files)"
    )


def prepare(
    task,
    source: str | os.PathLike[str] | None = None,
    *,
    set_name: str | None = None,
    meter: Meter | None = None,
    say: Say | None = None,
) -> Prepared:
    """Get one data set's files (download, or ``source``), verify them, run the prepare
    script and install the result. Returns the prepared data; raises DataError with one
    line (and changes nothing installed) when any step fails."""
    say = say or (lambda message: None)
    if task.data is None:
        raise DataError(f"task {task.id} has no data to prepare: its inputs ship with it")
    if set_name is not None:
        try:
            task.data.set_named(set_name)
        except KeyError:
            names = ", ".join(s.name for s in task.data.sets)
            raise DataError(f"task {task.id} has no data set {set_name!r} (sets: {names})") from None
    root = data_root(task)
    root.mkdir(parents=True, exist_ok=True)
    hint = f"; if you have the files, run `harness task prepare {task.id} --from PATH`"
    with paths.locked(root / ".lock"), _scratch(root) as scratch:
        if source is None:
            data_set = task.data.set_named(set_name) if set_name else task.data.sets[0]
            current = find_prepared(task)
            if current is not None and current.set_name == data_set.name:
                say(f"task {task.id}: data set {data_set.name!r} is already prepared in {current.path}")
                return current
            missing = [f.name for f in data_set.files if not f.urls]
            if missing:
                raise DataError(
                    f"task {task.id}: data set {data_set.name!r} cannot be downloaded "
                    f"({missing[0]} has no URL): run `harness task prepare {task.id} --from PATH`"
                )
            files = {}
            for file in data_set.files:
                files[file.name] = fetch(file, root / "downloads", meter=meter, hint=hint)
            origin = "download"
        else:
            data_set, files = _from_source(task, Path(source), set_name, scratch / "extracted")
            origin = str(Path(source).resolve())
        say(f"verified {len(files)} file(s) of data set {data_set.name!r}")
        return _install(task, data_set, files, origin, scratch, say)


# -- --from PATH -----------------------------------------------------------------------


def _from_source(task, source: Path, set_name: str | None, extracted: Path):
    """The first data set whose files are all in ``source`` with matching sha256s."""
    if not source.exists():
        raise DataError(f"{source}: no such file or directory")
    sets = [task.data.set_named(set_name)] if set_name else list(task.data.sets)
    # Sets whose every file has a checksum first: files matched by name alone must not
    # pass for another set's (a stand-in shares the official file names).
    sets.sort(key=lambda one: any(f.sha256 is None for f in one.files))
    wanted = {f.name for s in sets for f in s.files}
    candidates = _candidates(source, wanted, {f.sha256: f.name for s in sets for f in s.files},
                             extracted)
    hashes: dict[Path, str] = {}

    def digest(path: Path) -> str:
        if path not in hashes:
            hashes[path] = sha256_of(path)
        return hashes[path]

    best: tuple[int, str, list[str]] | None = None
    for data_set in sets:
        found, problems = {}, []
        for file in data_set.files:
            paths_for = candidates.get(file.name, [])
            match = next(
                (
                    p
                    for p in paths_for
                    if (file.size is None or p.stat().st_size == file.size)
                    and (file.sha256 is None or digest(p) == file.sha256)
                ),
                None,
            )
            if match is not None:
                found[file.name] = match
            elif not paths_for:
                problems.append(f"{file.name} not found")
            else:
                got = digest(paths_for[0])
                problems.append(
                    f"{file.name} has sha256 {got[:12]}…, expected {file.sha256[:12]}…"
                )
        if not problems:
            return data_set, found
        if best is None or len(found) > best[0]:
            best = (len(found), data_set.name, problems)
    assert best is not None
    _, name, problems = best
    shown = "; ".join(problems[:2]) + (f"; and {len(problems) - 2} more" if len(problems) > 2 else "")
    raise DataError(
        f"{source}: does not hold the files of task {task.id}'s data set {name!r}: {shown} "
        "(nothing was installed)"
    )


def _candidates(
    source: Path, wanted: set[str], by_sha: dict[str, str], extracted: Path
) -> dict[str, list[Path]]:
    """Paths that may be each wanted file, by file name."""
    out: dict[str, list[Path]] = {}
    if source.is_dir():
        for name in sorted(wanted):
            top = source / name
            found = [top] if top.is_file() else []
            found += [p for p in sorted(source.rglob(name)) if p.is_file() and p != top]
            if found:
                out[name] = found
        return out
    if source.name in wanted:  # one of the files itself
        return {source.name: [source]}
    own = by_sha.get(sha256_of(source))
    if own is not None:  # one of the files, renamed
        return {own: [source]}
    extracted.mkdir(parents=True, exist_ok=True)
    try:
        for name, stream in _archive_members(source, wanted):
            target = extracted / str(len(list(extracted.iterdir()))) / name
            target.parent.mkdir()
            with target.open("wb") as out_file:
                shutil.copyfileobj(stream, out_file, 1 << 20)
            out.setdefault(name, []).append(target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise DataError(f"{source}: cannot read the archive ({err or type(err).__name__})") from None
    return out


def _archive_members(source: Path, wanted: set[str]) -> Iterator[tuple[str, object]]:
    """(file name, readable stream) of an archive's regular files named like a wanted file."""
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                name = PurePosixPath(info.filename).name
                if not info.is_dir() and name in wanted:
                    with archive.open(info) as stream:
                        yield name, stream
        return
    try:
        archive = tarfile.open(source, "r:*")
    except (tarfile.TarError, OSError):
        raise DataError(
            f"{source}: neither one of the data files nor an archive (zip, tar) holding them"
        ) from None
    with archive:
        for member in archive:
            name = PurePosixPath(member.name).name
            if member.isfile() and name in wanted:
                stream = archive.extractfile(member)
                if stream is not None:
                    yield name, stream


# -- running the prepare script and installing -----------------------------------------------


def _install(task, data_set, files: dict[str, Path], origin: str, scratch: Path, say: Say):
    inputs = scratch / "inputs"
    inputs.mkdir()
    for name, path in files.items():
        (inputs / name).symlink_to(path.resolve())
    output = scratch / "prepared"
    output.mkdir()
    started = time.monotonic()
    if task.data.prepare:
        from harness.task.env import TaskEnv

        env = TaskEnv.ensure(task, progress=say)
        say(f"running {task.data.prepare} on data set {data_set.name!r}")
        run = subprocess.run(
            [env.python, str(task.dir / task.data.prepare), str(inputs), str(output)],
            cwd=output,
            env={**os.environ, "HARNESS_DATA_SET": data_set.name},
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            lines = (run.stderr or run.stdout).strip().splitlines() or ["no output"]
            raise DataError(
                f"task {task.id}: {task.data.prepare} failed (exit {run.returncode}): "
                f"{lines[-1][:300]} (nothing was installed)"
            )
    else:
        for name, path in files.items():
            shutil.copyfile(path, output / name)
    absent = [rel for rel in task.data.public if not (output / PurePosixPath(rel)).exists()]
    if absent:
        raise DataError(
            f"task {task.id}: the prepared data lacks {', '.join(absent)} listed in "
            "'data.public' (nothing was installed)"
        )
    # A file without a published checksum is trusted on first use: record and show its sha256.
    recorded = {f.name: f.sha256 or sha256_of(files[f.name]) for f in data_set.files}
    unverified = [f.name for f in data_set.files if f.sha256 is None]
    for name in unverified:
        say(f"{name}: no published sha256 to check against; it has {recorded[name]} "
            "(recorded with the prepared data: compare it with a trusted copy)")
    info = {
        "task": task.id,
        "set": data_set.name,
        "fingerprint": fingerprint(task, data_set),
        "files": recorded,
        "unverified": sorted(unverified),
        "source": origin,
        "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "prepare_s": round(time.monotonic() - started, 2),
    }
    (output / MARKER).write_text(json.dumps(info, indent=2) + "\n")
    final = data_root(task) / "prepared"
    old = scratch / "old"
    if final.exists():
        os.rename(final, old)
    os.rename(output, final)
    say(f"task {task.id}: data set {data_set.name!r} prepared in {final}")
    return Prepared(final, data_set, info, tuple(task.data.public))




@contextmanager
def _scratch(root: Path) -> Iterator[Path]:
    """A temporary directory on the data directory's file system, always removed."""
    path = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def human_size(size: int | None) -> str:
    if size is None:
        return "unknown size"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
