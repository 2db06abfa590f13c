"""Helpers for task scorers (``tasks/*/scoring/score.py``).

This module runs *inside* the scorer's sandbox with the task environment's Python,
where the harness itself is not importable: it is bound there as
``harness_scoring.py`` and must depend on nothing but the standard library, numpy
and pandas. A scorer looks like::

    from harness_scoring import read_submission, run

    def score(submission_dir):
        answers = pd.read_csv(HERE / "answers.csv")
        sub = read_submission(submission_dir / "submission.csv", id_column="Id",
                              columns={"SalePrice": "float"}, expected_ids=answers["Id"])
        return {"r2": ...}

    if __name__ == "__main__":
        run(score)

``run`` prints exactly one JSON line, ``{"metrics": {...}}`` or ``{"error": "..."}``,
which the harness's Scorer parses. Every check of a submission raises
:class:`SubmissionError` with one line saying what is wrong and how to fix it; the
rows are joined on the id column, so row order never matters.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

_MISSING = {"", "nan", "na", "n/a", "null", "none", "<na>"}


class SubmissionError(Exception):
    """The submission is invalid; the message is the one line shown to the agent."""


def _examples(values: Iterable[object], limit: int = 3) -> str:
    values = list(values)
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def read_submission(
    path: str | Path,
    *,
    id_column: str,
    columns: Mapping[str, str],
    expected_ids: Iterable[int],
    against: str = "the test set",
):
    """Read and validate a CSV submission; return a DataFrame indexed by id, in the
    order of ``expected_ids``.

    ``columns`` maps each value column to its kind: ``"float"`` (any finite number),
    ``"int"`` (a whole number) or ``"binary"`` (0 or 1). Ids must be whole numbers.
    The file must have exactly the id column and these columns, one row per expected
    id, each id once. ``against`` names the file the ids come from, for messages.
    """
    import numpy as np
    import pandas as pd

    path = Path(path)
    name = path.name
    wanted = [id_column, *columns]
    fix = f"write {name} with columns {','.join(wanted)}"
    if not path.exists():
        raise SubmissionError(f"{name} not found: {fix}")
    if not path.is_file():
        raise SubmissionError(f"{name} is not a regular file: {fix}")
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=True
        )
    except pd.errors.EmptyDataError:
        raise SubmissionError(f"{name} is empty: {fix}") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SubmissionError(f"{name} is not a readable CSV file ({first}): {fix}") from None

    got = [str(c) for c in frame.columns]
    if sorted(got) != sorted(wanted) or len(got) != len(set(got)):
        missing = [c for c in wanted if c not in got]
        extra = [c for c in got if c not in wanted]
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(extra)}" if extra else "",
                "a column is repeated" if len(got) != len(set(got)) else "",
            )
            if part
        )
        raise SubmissionError(
            f"{name} has columns {','.join(got)}; expected exactly {','.join(wanted)} ({detail})"
        )

    expected = [int(i) for i in expected_ids]
    if len(frame) != len(expected):
        raise SubmissionError(
            f"{name} has {len(frame)} rows; expected {len(expected)}, one per {id_column} "
            f"of {against}"
        )

    ids = _whole_numbers(frame[id_column], id_column, frame[id_column], name, np, pd)
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        raise SubmissionError(
            f"{name} repeats {id_column} {_examples(duplicated)}: give each {id_column} once"
        )
    expected_set = set(expected)
    got_set = set(ids.tolist())
    if got_set != expected_set:
        absent = sorted(expected_set - got_set)
        unknown = sorted(got_set - expected_set)
        raise SubmissionError(
            f"{name} {id_column}s do not match {against}: {len(absent)} missing "
            f"(e.g. {_examples(absent)}), {len(unknown)} not in {against} (e.g. {_examples(unknown)})"
        )

    out = pd.DataFrame(index=pd.Index(ids.to_numpy(), name=id_column))
    for column, kind in columns.items():
        raw = frame[column]
        if kind == "float":
            values = _numbers(raw, column, ids, name, np, pd)
        elif kind == "int":
            values = _whole_numbers(raw, column, ids, name, np, pd)
        elif kind == "binary":
            values = _whole_numbers(raw, column, ids, name, np, pd)
            bad = ~values.isin([0, 1])
            if bad.any():
                at = ids[bad.to_numpy()].iloc[0]
                raise SubmissionError(
                    f"{name} column {column} must be 0 or 1; got {raw[bad].iloc[0]!r} "
                    f"at {id_column} {at}"
                )
        else:  # pragma: no cover - a scorer bug
            raise ValueError(f"unknown column kind {kind!r}")
        out[column] = values.to_numpy()
    return out.loc[expected]


def _numbers(raw, column, ids, name, np, pd):
    text = raw.str.strip()
    blank = text.str.lower().isin(_MISSING)
    id_name = getattr(ids, "name", None) or "row"
    if blank.any():
        at = (
            ids[blank.to_numpy()].iloc[0]
            if id_name != column
            else int(blank.to_numpy().argmax()) + 1
        )
        raise SubmissionError(
            f"{name} column {column} has {int(blank.sum())} missing (NaN or empty) values, "
            f"e.g. at {id_name} {at}: give a number for every row"
        )
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna()
    if bad.any():
        at = ids[bad.to_numpy()].iloc[0] if id_name != column else int(bad.to_numpy().argmax()) + 1
        raise SubmissionError(
            f"{name} column {column} must hold numbers; got {raw[bad].iloc[0]!r} at {id_name} {at}"
        )
    infinite = ~np.isfinite(values.to_numpy(dtype=float))
    if infinite.any():
        at = ids[infinite].iloc[0] if id_name != column else int(infinite.argmax()) + 1
        raise SubmissionError(
            f"{name} column {column} has {int(infinite.sum())} infinite values, e.g. at "
            f"{id_name} {at}: give finite numbers"
        )
    return values.astype(float)


def _whole_numbers(raw, column, ids, name, np, pd):
    values = _numbers(raw, column, ids, name, np, pd)
    fractional = values.to_numpy() != np.round(values.to_numpy())
    if fractional.any():
        id_name = getattr(ids, "name", None) or "row"
        at = ids[fractional].iloc[0] if id_name != column else int(fractional.argmax()) + 1
        raise SubmissionError(
            f"{name} column {column} must hold whole numbers; got {raw[fractional].iloc[0]!r} "
            f"at {id_name} {at}"
        )
    return values.astype("int64")


def task_data() -> Path:
    """The task's prepared data (``harness task prepare``), answers included: mounted
    read-only in the scorer's sandbox at ``$HARNESS_TASK_DATA``."""
    import os

    return Path(os.environ["HARNESS_TASK_DATA"])


def task_workspace() -> Path:
    """The task's own ``workspace/`` files, as shipped, and importable from now on.

    A scorer that must run the same code as the agent's ``evaluate.py`` (the
    opponent of a game, a policy's architecture, the solver a heuristic plugs into)
    uses these rather than a copy of its own in ``scoring/``: one file, so the
    validation score and the test score cannot drift apart. They come from the task
    directory, never from the agent's workspace, whose copies the agent may have
    edited; the harness mounts them read-only at ``$HARNESS_TASK_WORKSPACE``.

    The directory goes on ``sys.path`` right after the scorer's own (``scoring/``
    still wins a name clash), so ``import policy`` resolves the task's ``policy.py``
    and its own imports (``evaluate.py`` importing ``policy``) as they do when the
    agent runs ``python evaluate.py`` in its workspace. Opt-in, not on
    ``PYTHONPATH`` for every scorer: a workspace ``evaluate.py`` must not shadow a
    library of that name in scorers that never asked for the workspace.
    """
    import os

    path = Path(os.environ["HARNESS_TASK_WORKSPACE"])
    if str(path) not in sys.path:
        sys.path.insert(1, str(path))
    return path


def run(score: Callable[[Path], Mapping[str, float]]) -> None:
    """Call ``score(submission_dir)`` (the directory from argv[1]) and print one JSON
    line: ``{"metrics": {...}}``, or ``{"error": "..."}`` for an invalid submission."""
    submission_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    try:
        metrics = {k: float(v) for k, v in score(submission_dir).items()}
    except SubmissionError as err:
        print(json.dumps({"error": str(err)}), flush=True)
        return
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if bad:
        print(json.dumps({"error": f"the submission scores a non-finite {', '.join(bad)}"}))
        return
    print(json.dumps({"metrics": metrics}), flush=True)
