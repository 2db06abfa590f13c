"""The episode's record: an append-only JSONL trajectory and ``results.json``.

One JSON object per line, each written with a single ``write()``, so a ``kill -9``
loses at most the line in flight; readers skip a torn last line. Each line is then
fsync'd on a background thread while the model thinks about the next step, and the
next write waits for that fsync: a power cut loses at most the newest line, and the
episode loop does not pay the ~0.4 ms of an fsync per step. Kinds:
``start`` (task, model, options, versions, sandbox), ``step``, ``retry`` (the mlgym
profile's malformed reply asked again), ``score``, ``end``.

Every ``step`` and ``retry`` records what the model sent and why it stopped:
``reply``, ``tool_calls`` (as sent back to the model, each with its id; ``[]`` for a
text reply), ``finish_reason`` (``stop``, ``length``, ``tool_calls``; None when the
model does not say), ``tokens_in``/``tokens_out``, ``tokens_cached`` (prompt tokens
the server reused from its prefix cache, when it says) and ``request_tokens`` (the
harness's count of the history it sent).
"""

from __future__ import annotations

import errno
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

TRAJECTORY = "trajectory.jsonl"
RESULTS = "results.json"


class RecordError(HarnessError):
    """The run directory could not be written (disk full, permissions)."""


class Recorder:
    """Appends records to a JSONL trajectory file, durably."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._syncing: threading.Thread | None = None
        self._sync_error: OSError | None = None

    def write(self, kind: str, **fields: Any) -> None:
        record = {"kind": kind, **fields}
        try:
            data = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (undecodable file bytes): escape them
            data = (json.dumps(record, default=str) + "\n").encode("ascii")
        try:
            self._wait_for_sync()
            # One write() of the whole line: a torn line is only ever the last one.
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, "short write")
        except OSError as err:
            self._truncate_partial(len(data))
            raise self._error(err) from None
        self._syncing = threading.Thread(target=self._sync, name="trajectory-fsync", daemon=True)
        self._syncing.start()

    def _sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as err:
            self._sync_error = err

    def _wait_for_sync(self) -> None:
        """Block until the previous line is on disk; raise what its fsync met."""
        if self._syncing is not None:
            self._syncing.join()
            self._syncing = None
        if self._sync_error is not None:
            err, self._sync_error = self._sync_error, None
            raise err

    def _error(self, err: OSError) -> RecordError:
        return RecordError(
            f"cannot write {self.path}: {err.strerror or err}; free some space or pass "
            "--out to another disk (the lines written so far are intact)"
        )

    def _truncate_partial(self, size: int) -> None:
        """Drop a half-written line so the file stays readable."""
        try:
            text = self.path.read_bytes()
            end = text.rfind(b"\n") + 1
            if end < len(text):
                os.truncate(self.path, end)
        except OSError:
            pass

    def flush(self) -> None:
        """Wait until every line written so far is on disk."""
        try:
            self._wait_for_sync()
        except OSError as err:
            raise self._error(err) from None

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a trajectory file, skipping a torn (half-written) last line."""
    path = Path(path)
    if path.is_dir():
        path = path / TRAJECTORY
    if not path.is_file():
        raise HarnessError(f"{path}: no trajectory here (expected a run directory or {TRAJECTORY})")
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if not line.endswith("\n"):
                    return  # torn last line from a crash: everything before it stands
                raise HarnessError(f"{path}:{number}: not a JSON line; the file is corrupted") from None
            if isinstance(record, dict):
                yield record


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so readers see the old file or the new one, never half of one."""
    tmp = Path(path).with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def import_mlgym(traj_path: Path, out_path: Path, task: Any = None) -> int:
    """Convert an MLGym ``.traj`` (and the ``results.json`` beside it) to our JSONL;
    returns the step count.

    Keeps the task (ours, linked by its ``mlgym:`` block, and MLGym's id), the model,
    every scored attempt with the step that asked for it (metric names mapped to the
    task's, MLGym's kept as ``mlgym_metrics``), cost, tokens, API calls, the
    submission and the exit status.
    """
    from harness.run.mlgym_traj import read_mlgym

    run = read_mlgym(traj_path, task)
    out_path = Path(out_path)
    if out_path.exists():
        out_path.unlink()
    by_step = {score.step: score for score in run.scores}
    final = run.scores[-1] if run.scores and run.scores[-1].source == "submit" else None
    with Recorder(out_path) as recorder:
        recorder.write("start", task=run.task.id if run.task is not None else run.mlgym_task,
                       mlgym_task=run.mlgym_task, model={"backend": "mlgym", "model": run.model},
                       source=str(traj_path), imported_from="mlgym", baseline=run.baseline)
        for number, step in enumerate(run.steps, 1):
            recorder.write("step", n=number, thought=_text(step.get("thought")),
                           action=_text(step.get("action")), observation=_text(step.get("observation")),
                           elapsed_s=step.get("execution_time"))
            if number in by_step:
                _write_score(recorder, by_step[number])
        if None in by_step:
            _write_score(recorder, by_step[None])
        recorder.write("end", exit_status=run.exit_status, final_metrics=final.metrics if final else None,
                       mlgym_final_metrics=final.raw if final else None, cost=run.cost,
                       tokens_in=run.tokens_in, tokens_out=run.tokens_out, api_calls=run.api_calls,
                       submission=run.submission)
    return len(run.steps)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _write_score(recorder: Recorder, score: Any) -> None:
    recorder.write("score", split="test", step=score.step, source=score.source, metrics=score.metrics,
                   mlgym_metrics=score.raw, error=None)
