"""Task coco_caption on its tiny data set: corpus BLEU-4 on hand-computed cases,
prepare lays out the COCO archives, the baseline reproduces its recorded score, the
scorer rejects bad submissions with one line, the references never reach the agent,
and the demo beats the baseline in a real episode."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from prepared_data import tiny_prepared

from harness.cli import main as cli
from harness.scoring.scorer import Scorer, check_task
from harness.task.env import TaskEnv

REPO = Path(__file__).resolve().parents[1]
TASK_DIR = REPO / "tasks" / "coco_caption"


def _bleu():
    spec = importlib.util.spec_from_file_location("coco_bleu", TASK_DIR / "workspace" / "bleu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("candidates", "references", "expected"),
    [
        (["the cat sat on the mat"], [["the cat sat on the mat"]], 1.0),
        # no 4-gram in common: 0 without smoothing
        (["the cat sat on the mat"], [["the cat is on the mat"]], 0.0),
        # case is ignored and punctuation is a word of its own
        (["THE cat sat on the mat today ."], [["The cat sat on the mat today."]], 1.0),
        # p = 6/7, 5/6, 4/5, 3/4 and no brevity penalty: (3/7) ** (1/4)
        (["the cat sat on the mat today"], [["the cat sat on the mat"]], (3 / 7) ** 0.25),
        # all precisions 1, 4 words against 6: exp(1 - 6/4)
        (["the cat sat on"], [["the cat sat on the mat"]], math.exp(-0.5)),
        # clipping and corpus sums: p = 5/11, 3/9, 2/7, 1/5; r = 2 + 4 < c = 11
        (
            ["the the the the the the the", "a b c d"],
            [["the cat"], ["a b c d"]],
            (5 / 11 * 3 / 9 * 2 / 7 * 1 / 5) ** 0.25,
        ),
        # closest reference length 6 (not 8) to 5 words: penalty exp(1 - 6/5)
        (["a b c d e"], [["a b c d e f", "a b c d e f g h"]], math.exp(1 - 6 / 5)),
        # a tie between 4 and 6 words takes the shorter: no penalty for 5 words
        (["a b c d e"], [["a b c d", "a b c d e x"]], 1.0),
    ],
)
def test_corpus_bleu_on_hand_computed_cases(candidates, references, expected):
    assert _bleu().corpus_bleu(candidates, references) == pytest.approx(expected, rel=1e-12)


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    with tiny_prepared(tmp_path_factory, TASK_DIR) as prepared:
        yield prepared


@pytest.fixture(scope="module")
def baseline_run(coco):
    return check_task(coco[0])


def test_prepare_lays_out_images_and_captions(coco, tmp_path):
    task, prepared = coco
    train = pd.read_csv(prepared.path / "train_captions.csv")
    test = pd.read_csv(prepared.path / "test_images.csv")
    references = pd.read_csv(prepared.path / "test_captions.csv")
    assert (train["image_id"].nunique(), len(test)) == (160, 40)
    assert references.groupby("image_id").size().eq(5).all()
    assert all((prepared.path / "images" / "test" / name).is_file() for name in test["file_name"])
    task.make_workspace(tmp_path / "ws")
    assert not list((tmp_path / "ws").rglob("test_captions.csv"))
    assert sorted(p.name for p in (tmp_path / "ws" / "data" / "images").iterdir()) == [
        "test",
        "train",
        "validation",
    ]


def test_baseline_reproduces_the_recorded_tiny_score(coco, baseline_run):
    task, prepared = coco
    assert baseline_run.ok, baseline_run.mismatches
    assert baseline_run.score.metrics["bleu"] == pytest.approx(
        prepared.data_set.baseline["bleu"], rel=1e-6
    )
    assert task.baseline_source == "published" and task.baseline["bleu"] == 0.279


def _score(task, tmp_path, text):
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    if text is not None:
        (workspace / "submission.csv").write_text(text)
    return Scorer(task, TaskEnv.ensure(task)).score(workspace)


def test_reference_captions_score_high_and_order_does_not_matter(coco, tmp_path):
    task, prepared = coco
    first = pd.read_csv(prepared.path / "test_captions.csv").drop_duplicates("image_id")
    score = _score(task, tmp_path, first.sample(frac=1.0, random_state=3).to_csv(index=False))
    assert score.ok and score.metrics["bleu"] > 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "submission.csv not found"),
        ("image_id,text\n5,a cat\n", "has columns image_id,text"),
        ("image_id,caption\n5,a cat\n5,a dog\n", "repeats image_id 5"),
        ("image_id,caption\n5,a cat\n", "39 missing"),
        ("image_id,caption\nfive,a cat\n", "image_id must hold whole numbers"),
    ],
)
def test_malformed_submissions_get_one_clear_line(coco, tmp_path, text, expected):
    score = _score(coco[0], tmp_path, text)
    assert not score.ok
    assert expected in score.error and "\n" not in score.error


def test_demo_beats_the_baseline_through_a_real_episode(coco, baseline_run, tmp_path):
    out = tmp_path / "run"
    outcome = CliRunner().invoke(
        cli, ["solve", str(TASK_DIR), "--model", "demo", "--out", str(out), "-q", "--no-memory"]
    )
    assert outcome.exit_code == 0, outcome.output
    results = json.loads((out / "results.json").read_text())
    assert results["exit_status"] == "submitted"
    demo = results["final_metrics"]["bleu"]
    baseline = baseline_run.score.metrics["bleu"]
    print(f"coco_caption tiny: demo BLEU {demo:.3f} vs baseline {baseline:.3f}")
    assert demo > baseline + 0.2
