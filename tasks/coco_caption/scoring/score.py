"""Score a captioning submission: MLGym-Bench's BLEU against the hidden references.

Run by the harness in the scorer's sandbox: ``python score.py SUBMISSION_DIR``; the
prepared data (``test_references.csv``, about five references per image, processed as
MLGym's baseline processes them) is at ``$HARNESS_TASK_DATA``. The score is computed by
the task's own ``workspace/bleu.py`` (as shipped, never the agent's copy), the code the
agent's evaluate.py uses: per image, character-level BLEU-4 of the caption against each
reference, averaged; then the mean over the test images. MLGym's agents report that
number themselves (a ``bleu_score`` column); here the scorer computes it from captions.
"""

from pathlib import Path

import pandas as pd
from harness_scoring import SubmissionError, run, task_data, task_workspace

task_workspace()  # makes the task's own bleu.py importable
from bleu import mean_score  # noqa: E402

FIX = "write submission.csv with columns image_id,caption: one caption per image of data/test_images.csv"


def read(path: Path, expected: set[int]) -> pd.Series:
    if not path.is_file():
        raise SubmissionError(f"submission.csv not found: {FIX}")
    try:
        frame = pd.read_csv(path, dtype={"caption": str}, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SubmissionError(
            f"submission.csv is not a readable CSV file ({first}): {FIX}"
        ) from None
    if sorted(frame.columns) != ["caption", "image_id"]:
        raise SubmissionError(
            f"submission.csv has columns {','.join(map(str, frame.columns))}; {FIX}"
        )
    ids = pd.to_numeric(frame["image_id"], errors="coerce")
    if ids.isna().any() or (ids != ids.round()).any():
        raise SubmissionError("submission.csv column image_id must hold whole numbers")
    ids = ids.astype("int64")
    if ids.duplicated().any():
        raise SubmissionError(
            f"submission.csv repeats image_id {ids[ids.duplicated()].iloc[0]}: give one caption per image"
        )
    missing, unknown = expected - set(ids), set(ids) - expected
    if missing or unknown:
        raise SubmissionError(
            f"submission.csv image_ids do not match data/test_images.csv: {len(missing)} missing, "
            f"{len(unknown)} unknown (it needs exactly the {len(expected)} test images)"
        )
    return pd.Series(frame["caption"].to_numpy(), index=ids.to_numpy())


def score(submission_dir: Path) -> dict[str, float]:
    references = pd.read_csv(task_data() / "test_references.csv", keep_default_na=False)
    by_image = references.groupby("image_id")["reference"].apply(list)
    captions = read(submission_dir / "submission.csv", set(by_image.index))
    order = list(by_image.index)
    return {"bleu": mean_score([captions[i] for i in order], [by_image[i] for i in order])}


if __name__ == "__main__":
    run(score)
