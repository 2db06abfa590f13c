"""Score an MNLI submission: accuracy (percent) on the hidden test pairs.

Run by the harness in the scorer's sandbox: ``python score.py SUBMISSION_DIR``; the
prepared data (with ``test_labels.csv``) is at ``$HARNESS_TASK_DATA``. The submission
is MLGym-Bench's ``bert_mnli_model/`` (a ``save_pretrained`` folder) or, when there is
none, ``submission.csv`` (id,label for every test pair). The model is loaded and run
only in a child sandbox (``harness_submitted``) that sees neither this directory nor
the prepared data: this process tokenizes the test pairs as MLGym's evaluate.py does
(the task's evaluate.py code: 128 tokens, padded, batches of 32) and the child answers
the label of the largest logit of each pair; the labels are compared here.
"""

import re
from pathlib import Path

import pandas as pd
from harness_scoring import SubmissionError, read_submission, run, task_data, task_workspace
from harness_submitted import SubmittedCode

HERE = Path(__file__).resolve().parent
WORKSPACE = task_workspace()  # the task's own evaluate.py, never the agent's copy
import evaluate  # noqa: E402

LOAD_TIMEOUT, MODEL_TIMEOUT, BATCH_TIMEOUT, PER_CALL = 120.0, 300.0, 600.0, 256
_PREFIX = re.compile(r"^evaluate\.py: \w+ raised (SubmissionError: )?")
_SUFFIX = re.compile(r" \(evaluate\.py line \d+\)$")


def model_predictions(folder: Path, test: pd.DataFrame) -> pd.Series:
    """The submitted model's label for every test pair, computed in the child sandbox."""
    from transformers import AutoTokenizer

    pretrained = task_data() / "bert-base-uncased"
    tokenizer, length = AutoTokenizer.from_pretrained(str(pretrained)), evaluate.pair_length(pretrained)
    predicted = []
    with SubmittedCode(WORKSPACE / "evaluate.py", hide=[HERE, task_data()], timeout=LOAD_TIMEOUT) as code:
        try:
            labels = code.call("load_model", str(folder), timeout=MODEL_TIMEOUT)
            if labels != evaluate.LABELS:
                raise SubmissionError(f"bert_mnli_model has {labels} labels; MNLI has 3")
            for start in range(0, len(test), PER_CALL):
                batch = evaluate.encode(tokenizer, test, start, start + PER_CALL, length)
                answer = code.call("predict", batch, timeout=BATCH_TIMEOUT)
                if not isinstance(answer, list) or len(answer) != len(batch["input_ids"]):
                    raise SubmissionError("bert_mnli_model gave no label for every pair")
                predicted += answer
        except SubmissionError as err:
            raise SubmissionError(_SUFFIX.sub("", _PREFIX.sub("", str(err)))) from None
    return pd.Series(predicted, index=test["id"])


def score(submission_dir: Path) -> dict[str, float]:
    answers = pd.read_csv(task_data() / "test_labels.csv").set_index("id")
    folder = submission_dir.resolve() / evaluate.MODEL_FOLDER
    source = "submission.csv"
    if folder.is_dir():
        test = pd.read_csv(task_data() / "test.csv")
        predicted, source = model_predictions(folder, test).loc[answers.index], "bert_mnli_model"
    elif not (submission_dir / "submission.csv").exists():
        raise SubmissionError(
            f"bert_mnli_model/ not found (nor submission.csv): {evaluate.FIX}, or write "
            "submission.csv with columns id,label"
        )
    else:
        submission = read_submission(
            submission_dir / "submission.csv",
            id_column="id",
            columns={"label": "int"},
            expected_ids=answers.index,
            against="data/test.csv",
        )
        predicted = submission.loc[answers.index, "label"]
    bad = ~predicted.isin([0, 1, 2])
    if bad.any():
        raise SubmissionError(
            f"{source}: labels must be 0 (entailment), 1 (neutral) or 2 "
            f"(contradiction); got {predicted[bad].iloc[0]} at id {predicted.index[bad][0]}"
        )
    accuracy = 100.0 * float((predicted.to_numpy() == answers["label"].to_numpy()).mean())
    return {"accuracy": accuracy}


if __name__ == "__main__":
    run(score)
