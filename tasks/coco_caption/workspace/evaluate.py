"""BLEU of captions for the validation images: ``python evaluate.py [predictions.csv]``.

The file needs columns image_id,caption with one caption per image of
data/validation_captions.csv (default: validation_predictions.csv, which baseline.py
writes). Prints {"bleu": ...} as JSON: MLGym-Bench's captioning BLEU against
data/validation_references.csv, computed by bleu.py exactly as the scorer computes it
on the test images.
"""

import json
import sys

import pandas as pd
from bleu import mean_score


def main(path: str) -> None:
    references = pd.read_csv("data/validation_references.csv", keep_default_na=False)
    by_image = references.groupby("image_id")["reference"].apply(list)
    try:
        predictions = pd.read_csv(path, dtype={"caption": str}, keep_default_na=False)
    except (OSError, ValueError) as err:
        sys.exit(f"{path}: cannot read it as CSV ({err})")
    if sorted(predictions.columns) != ["caption", "image_id"]:
        sys.exit(f"{path}: columns are {list(predictions.columns)}; expected image_id,caption")
    captions = dict(zip(predictions["image_id"], predictions["caption"], strict=True))
    if len(captions) != len(predictions) or set(captions) != set(by_image.index):
        sys.exit(f"{path}: needs one caption for each of the {len(by_image)} validation images")
    order = list(by_image.index)
    bleu = mean_score([captions[i] for i in order], [by_image[i] for i in order])
    print(json.dumps({"bleu": round(bleu, 6)}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "validation_predictions.csv")
