"""Task coco_caption on its tiny data set: MLGym's BLEU on hand-computed cases and
against nltk, prepare lays out the COCO 2014 archives, the baseline reproduces its
recorded score, the scorer rejects bad submissions with one line, the references never
reach the agent, and the demo beats the baseline in a real episode."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
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
    ("reference", "caption", "expected"),
    [
        ("a cat on a mat", "a cat on a mat", 1.0),
        ("abc", "xyz", 0.0),  # no character in common
        # characters, not words: p = 4/5, 3/4, 2/3, 1/2, no brevity penalty
        ("abcd", "abcde", (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25),
        # every precision 1, 4 characters against 6: exp(1 - 6/4)
        ("abcdef", "abcd", math.exp(1 - 6 / 4)),
        # clipping: 'a' counts once of four; no 2-gram matches: 1/4 and three tiny precisions
        ("ab", "aaaa", math.exp((math.log(1 / 4) + 3 * math.log(sys.float_info.min)) / 4)),
        # no 3- or 4-gram at all: NLTK's tiny stand-in, not 0
        ("ab", "ab", math.exp(2 * math.log(sys.float_info.min) / 4)),
        ("", "", 0.0),
    ],
)
def test_sentence_bleu_on_hand_computed_cases(reference, caption, expected):
    assert _bleu().sentence_bleu([reference], caption) == pytest.approx(expected, rel=1e-12)


def test_image_score_averages_over_the_references():
    bleu = _bleu()
    other = bleu.sentence_bleu(["a dog ."], "a cat .")
    assert 0 < other < 1
    assert bleu.image_score(["a cat .", "a dog ."], "a cat .") == pytest.approx((1 + other) / 2)
    assert bleu.mean_score(["a cat .", "xyz"], [["a cat ."], ["a cat ."]]) == pytest.approx(0.5)


def test_sentence_bleu_is_nltks_on_strings():
    """MLGym's baseline calls nltk's sentence_bleu([reference], caption) with strings."""
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    import random
    import warnings

    rng = random.Random(0)
    vocab = "a the man dog on of with sitting red . , is plate".split()
    bleu = _bleu()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns on zero n-gram counts
        for _ in range(500):
            ref = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12)))
            hyp = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12)))
            assert bleu.sentence_bleu([ref], hyp) == nltk_bleu.sentence_bleu([ref], hyp)


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
    validation = pd.read_csv(prepared.path / "validation_captions.csv", keep_default_na=False)
    test = pd.read_csv(prepared.path / "test_images.csv")
    references = pd.read_csv(prepared.path / "test_references.csv")
    sizes = (train["image_id"].nunique(), validation["image_id"].nunique(), len(test))
    assert sizes == (100, 20, 20)
    assert not set(validation["image_id"]) & set(test["image_id"])
    assert test["file_name"].str.startswith("COCO_val2014_").all()
    assert references.groupby("image_id").size().eq(5).all()
    assert all((prepared.path / "images" / "test" / name).is_file() for name in test["file_name"])
    # MLGym's references: lower case, word_tokenize's words, punctuation a word of its own
    first = pd.read_csv(prepared.path / "validation_references.csv").iloc[0]
    caption = validation[validation["image_id"] == first["image_id"]].iloc[0]["caption"]
    assert first["reference"] == caption.lower().replace(".", " .")
    task.make_workspace(tmp_path / "ws")
    assert not list((tmp_path / "ws").rglob("test_references.csv"))
    assert (tmp_path / "ws" / "data" / "resnet50-0676ba61.pth").is_file()
    assert task.mlgym.metrics == {"BLEU Score": "bleu"} and not task.mlgym.same_scale
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
    assert task.baseline_source == "published" and task.baseline["bleu"] == 0.2793602


def _score(task, tmp_path, text):
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    if text is not None:
        (workspace / "submission.csv").write_text(text)
    return Scorer(task, TaskEnv.ensure(task)).score(workspace)


def test_reference_captions_score_high_and_order_does_not_matter(coco, tmp_path):
    task, prepared = coco
    refs = pd.read_csv(prepared.path / "test_references.csv", keep_default_na=False)
    first = refs.drop_duplicates("image_id").rename(columns={"reference": "caption"})
    score = _score(task, tmp_path, first.sample(frac=1.0, random_state=3).to_csv(index=False))
    bleu = _bleu()
    by_image = refs.groupby("image_id")["reference"].apply(list)
    expected = bleu.mean_score(list(first["caption"]), [by_image[i] for i in first["image_id"]])
    assert score.ok and score.metrics["bleu"] == pytest.approx(expected, rel=1e-12)
    assert 0.5 < expected < 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "submission.csv not found"),
        ("image_id,text\n5,a cat\n", "has columns image_id,text"),
        ("image_id,caption\n5,a cat\n5,a dog\n", "repeats image_id 5"),
        ("image_id,caption\n5,a cat\n", "19 missing"),
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
