"""Score a Fashion-MNIST submission: accuracy on the test images.

Run by the harness in the scorer's sandbox: ``python score.py SUBMISSION_DIR``. The test
labels come from the prepared data (``harness task prepare``), never from the workspace.

submission.csv is either MLGym-Bench's form, a single column ``label`` with one row per
test image in the order of data/test_images.npz, or ``id,label`` rows in any order.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from harness_scoring import SubmissionError, read_submission, run, task_data

CLASSES = 10


def with_ids(path: Path, scratch: Path) -> Path:
    """MLGym's form (a single ``label`` column, row i = test image i) as id,label;
    any other file is returned unchanged for ``read_submission`` to check."""
    try:
        header = path.read_text(encoding="utf-8-sig").splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError):
        return path
    if header != "label":
        return path
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.insert(0, "id", [str(i) for i in range(len(frame))])
    out = scratch / path.name
    frame.to_csv(out, index=False)
    return out


def score(submission_dir: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        return score_file(with_ids(submission_dir / "submission.csv", Path(scratch)))


def score_file(path: Path) -> dict[str, float]:
    labels = np.load(task_data() / "test_labels.npy")
    ids = np.arange(len(labels))
    submission = read_submission(
        path,
        id_column="id",
        columns={"label": "int"},
        expected_ids=ids,
        against="data/test_images.npz",
    )
    predicted = submission.loc[ids, "label"].to_numpy()
    outside = (predicted < 0) | (predicted >= CLASSES)
    if outside.any():
        at = int(ids[outside][0])
        raise SubmissionError(
            f"submission.csv column label must be a class 0..{CLASSES - 1}; got "
            f"{predicted[outside][0]} at id {at}"
        )
    return {"accuracy": float((predicted == labels).mean())}


if __name__ == "__main__":
    run(score)
