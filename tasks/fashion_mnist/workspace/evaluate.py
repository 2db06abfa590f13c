"""Accuracy of predictions for the validation images: ``python evaluate.py [predictions.csv]``.

The file needs one row per image of data/validation.npz: columns id,label (id = the
image's index there), or a single column label in the images' order (MLGym-Bench's
submission form). Default: validation_predictions.csv, which baseline.py writes.
Prints {"accuracy": ...} as JSON. The test images are scored by the harness when you
submit; their labels are not in this workspace.
"""

import json
import sys

import numpy as np
import pandas as pd


def main(path: str) -> None:
    with np.load("data/validation.npz") as arrays:
        truth = arrays["labels"]
    try:
        predictions = pd.read_csv(path)
    except (OSError, ValueError) as err:
        sys.exit(f"{path}: cannot read it as CSV ({err})")
    if list(predictions.columns) == ["label"]:  # MLGym's form: rows in the images' order
        predictions.insert(0, "id", range(len(predictions)))
    if sorted(predictions.columns) != ["id", "label"]:
        sys.exit(f"{path}: columns are {list(predictions.columns)}; expected id,label or label")
    ids = pd.to_numeric(predictions["id"], errors="coerce")
    if len(predictions) != len(truth) or sorted(ids.tolist()) != list(range(len(truth))):
        sys.exit(f"{path}: needs one row for each id 0..{len(truth) - 1} of data/validation.npz")
    labels = pd.to_numeric(predictions["label"], errors="coerce").to_numpy()
    if np.isnan(labels).any():
        sys.exit(f"{path}: every label must be a class number 0..9")
    predicted = np.empty(len(truth))
    predicted[ids.to_numpy(int)] = labels
    print(json.dumps({"accuracy": float((predicted == truth).mean())}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "validation_predictions.csv")
