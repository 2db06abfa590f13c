"""Lay out the captioning task's data from the COCO 2014 downloads.

Run by ``harness task prepare coco_caption`` as ``python prepare.py SOURCE_DIR OUTPUT_DIR``
with the task environment's Python (it needs nltk). SOURCE_DIR holds ``train2014.zip``,
``val2014.zip``, ``annotations_trainval2014.zip`` as cocodataset.org publishes them and
``resnet50-0676ba61.pth`` (torchvision's ImageNet ResNet-50). OUTPUT_DIR receives

- ``images/train/``, ``images/validation/``, ``images/test/``: the JPEGs, by file name
- ``train_captions.csv``, ``validation_captions.csv``: image_id,file_name,caption
- ``test_images.csv``: image_id,file_name of the test images (no captions)
- ``validation_references.csv``: image_id,reference, the validation captions as
  MLGym-Bench's scoring sees them (see below); public, for evaluate.py
- ``test_references.csv``: the same for the test images: only the scorer reads it
- ``resnet50-0676ba61.pth``: the pre-trained encoder weights, unchanged

Split, with MLGym-Bench's sizes: 37,609 training images drawn from train2014 and two
disjoint sets of 9,435 images drawn from val2014 for validation and test (fixed numpy
``RandomState`` draws; a small source keeps all training images and halves val2014).

A reference is what MLGym's baseline scores against: the caption lower-cased, split by
nltk's ``word_tokenize``, stripped of every word seen fewer than 5 times in the
training captions, joined with single spaces.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
from nltk.tokenize import word_tokenize

TRAIN_IMAGES = 37609
HELD_IMAGES = 9435  # each of validation and test
MIN_COUNT = 5
WEIGHTS = "resnet50-0676ba61.pth"


def words(caption: str) -> list[str]:
    """MLGym's tokenisation (without nltk's sentence splitter, whose data is not installed)."""
    return word_tokenize(caption.lower(), preserve_line=True)


def captions(archive: zipfile.ZipFile, split: str) -> tuple[list[dict], dict[int, list[str]]]:
    data = json.loads(archive.read(f"annotations/captions_{split}.json"))
    by_image: dict[int, list[str]] = {}
    for note in sorted(data["annotations"], key=lambda a: a["id"]):
        by_image.setdefault(note["image_id"], []).append(" ".join(note["caption"].split()))
    images = sorted(data["images"], key=lambda i: i["id"])
    return [i for i in images if i["id"] in by_image], by_image


def draw(images: list[dict], count: int, seed: int) -> list[dict]:
    order = np.random.RandomState(seed).permutation(len(images))[:count]
    return [images[i] for i in sorted(order)]


def extract(archive: Path, folder: str, images: list[dict], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as source:
        for image in images:
            (target / image["file_name"]).write_bytes(source.read(f"{folder}/{image['file_name']}"))


def write_csv(path: Path, header: list[str], rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(source: Path, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source / "annotations_trainval2014.zip") as archive:
        train_all, train_captions = captions(archive, "train2014")
        val_all, val_captions = captions(archive, "val2014")
    train = draw(train_all, min(TRAIN_IMAGES, len(train_all)), 0)
    held = min(HELD_IMAGES, len(val_all) // 2)
    order = np.random.RandomState(1).permutation(len(val_all))
    validation = [val_all[i] for i in sorted(order[:held])]
    test = [val_all[i] for i in sorted(order[held : 2 * held])]

    counts = Counter(w for i in train for c in train_captions[i["id"]] for w in words(c))
    vocabulary = {w for w, n in counts.items() if n >= MIN_COUNT}

    def references(images: list[dict]) -> list[tuple[int, str]]:
        return [
            (i["id"], " ".join(w for w in words(c) if w in vocabulary))
            for i in images
            for c in val_captions[i["id"]]
        ]

    extract(source / "train2014.zip", "train2014", train, output / "images" / "train")
    write_csv(output / "train_captions.csv", ["image_id", "file_name", "caption"],
              [(i["id"], i["file_name"], c) for i in train for c in train_captions[i["id"]]])
    extract(source / "val2014.zip", "val2014", validation, output / "images" / "validation")
    write_csv(output / "validation_captions.csv", ["image_id", "file_name", "caption"],
              [(i["id"], i["file_name"], c) for i in validation for c in val_captions[i["id"]]])
    write_csv(output / "validation_references.csv", ["image_id", "reference"],
              references(validation))
    extract(source / "val2014.zip", "val2014", test, output / "images" / "test")
    write_csv(output / "test_images.csv", ["image_id", "file_name"],
              [(i["id"], i["file_name"]) for i in test])
    write_csv(output / "test_references.csv", ["image_id", "reference"], references(test))
    shutil.copyfile(source / WEIGHTS, output / WEIGHTS)
    print(f"images: train {len(train)}, validation {len(validation)}, test {len(test)}; "
          f"vocabulary {len(vocabulary)} words")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python prepare.py SOURCE_DIR OUTPUT_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
