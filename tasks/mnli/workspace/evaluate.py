"""Validation accuracy: ``python evaluate.py [bert_mnli_model | predictions.csv]``.

Given a folder (default: bert_mnli_model/ when it exists, which baseline.py saves with
``save_pretrained``), runs that model on the pairs of data/validation.csv as
MLGym-Bench's evaluate.py runs its model on the test pairs: the bert-base-uncased
tokenizer of data/bert-base-uncased, each premise and hypothesis as one pair padded or
cut to 128 tokens, batches of 32, the label of the largest logit. Given a CSV file
(default otherwise: validation_predictions.csv) with columns id,label, one row per
pair of data/validation.csv and labels 0 (entailment), 1 (neutral) or 2
(contradiction), scores those labels. Prints {"accuracy": ...} in percent, as JSON.

The harness scores the test pairs the same way when you submit (their labels are not
in this workspace), running the model in a sandbox of its own.
"""

import json
import os
import sys
from pathlib import Path

import pandas as pd

MODEL_FOLDER = "bert_mnli_model"
TOKENIZER = "data/bert-base-uncased"
MAX_LENGTH, BATCH_SIZE, LABELS = 128, 32, 3
FIX = "save the model with model.save_pretrained('bert_mnli_model'), as baseline.py does"


class SubmissionError(Exception):
    """The model cannot be run; the message says why."""


def pair_length(pretrained: Path) -> int:
    """Tokens per pair: 128, or fewer for a pre-trained model with fewer positions
    (the tiny stand-in BERT of the harness's tests has 64)."""
    config = json.loads((Path(pretrained) / "config.json").read_text())
    return min(MAX_LENGTH, int(config.get("max_position_embeddings", MAX_LENGTH)))


def encode(tokenizer, frame, start: int, stop: int, length: int = MAX_LENGTH) -> dict:
    """Token ids and attention masks of pairs start..stop, as plain lists."""
    rows = frame.iloc[start:stop]
    inputs = tokenizer(
        list(rows["premise"].astype(str)),
        list(rows["hypothesis"].astype(str)),
        max_length=length,
        padding="max_length",
        truncation=True,
    )
    return {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}


_MODEL = []


def load_model(folder: str) -> int:
    """Load the saved classifier (in the scorer, inside its sandbox); its label count."""
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if not (Path(folder) / "config.json").is_file():
        raise SubmissionError(f"{MODEL_FOLDER}/config.json not found: {FIX}")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(folder)
    except Exception as err:  # noqa: BLE001 - any failure is the submission's
        text = " ".join(str(err).split())[:200]
        raise SubmissionError(f"{MODEL_FOLDER} does not load ({type(err).__name__}: {text}): {FIX}") from None
    _MODEL[:] = [model.eval()]
    return int(model.config.num_labels)


def predict(batch: dict) -> list:
    """The label of the largest logit of each pair, in batches of 32."""
    import torch

    model, out = _MODEL[0], []
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        for start in range(0, len(ids), BATCH_SIZE):
            logits = model(
                input_ids=torch.tensor(ids[start : start + BATCH_SIZE]),
                attention_mask=torch.tensor(mask[start : start + BATCH_SIZE]),
            ).logits
            out += logits.argmax(dim=1).tolist()
    return out


def model_accuracy(folder: str) -> float:
    from transformers import AutoTokenizer

    validation = pd.read_csv("data/validation.csv")
    if load_model(folder) != LABELS:
        raise SubmissionError(f"{MODEL_FOLDER} has {_MODEL[0].config.num_labels} labels; MNLI has 3")
    tokenizer, length = AutoTokenizer.from_pretrained(TOKENIZER), pair_length(Path(TOKENIZER))
    predicted = []
    for start in range(0, len(validation), 256):
        predicted += predict(encode(tokenizer, validation, start, start + 256, length))
    return 100 * float((pd.Series(predicted) == validation["label"].to_numpy()).mean())


def csv_accuracy(path: str) -> float:
    truth = pd.read_csv("data/validation.csv", usecols=["id", "label"])
    try:
        predictions = pd.read_csv(path)
    except (OSError, ValueError) as err:
        sys.exit(f"{path}: cannot read it as CSV ({err})")
    if sorted(predictions.columns) != ["id", "label"]:
        sys.exit(f"{path}: columns are {list(predictions.columns)}; expected id,label")
    if predictions["id"].duplicated().any():
        sys.exit(f"{path}: some ids appear more than once")
    merged = truth.merge(predictions, on="id", how="left", suffixes=("", "_predicted"))
    missing = int(merged["label_predicted"].isna().sum())
    if missing or len(predictions) != len(truth):
        sys.exit(
            f"{path}: needs one label for each of the {len(truth)} ids in "
            f"data/validation.csv ({missing} missing, {len(predictions)} rows given)"
        )
    if not merged["label_predicted"].isin([0, 1, 2]).all():
        sys.exit(f"{path}: labels must be 0, 1 or 2")
    return 100 * float((merged["label"] == merged["label_predicted"]).mean())


def main(path: str) -> None:
    try:
        accuracy = model_accuracy(path) if Path(path).is_dir() else csv_accuracy(path)
    except SubmissionError as err:
        sys.exit(str(err))
    print(json.dumps({"accuracy": round(accuracy, 4)}))


if __name__ == "__main__":
    default = MODEL_FOLDER if Path(MODEL_FOLDER).is_dir() else "validation_predictions.csv"
    main(sys.argv[1] if len(sys.argv) > 1 else default)
