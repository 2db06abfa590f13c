"""Task mnli on its tiny data set: prepare lays out the GLUE files, the baseline
reproduces its recorded score (its bert_mnli_model/ run by the scorer, as MLGym-Bench
evaluates), a saved model scores exactly its own predictions' accuracy, the scorer
rejects bad submissions with one line, the test labels never reach the agent, and the
demo beats the baseline in a real episode."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from prepared_data import tiny_prepared

from harness.cli import main as cli
from harness.scoring.scorer import Scorer, check_task
from harness.task.env import TaskEnv

REPO = Path(__file__).resolve().parents[1]
TASK_DIR = REPO / "tasks" / "mnli"


@pytest.fixture(scope="module")
def mnli(tmp_path_factory):
    with tiny_prepared(tmp_path_factory, TASK_DIR) as prepared:
        yield prepared


@pytest.fixture(scope="module")
def baseline_run(mnli):
    task, _ = mnli
    return check_task(task)


def test_prepare_turns_glue_tsvs_into_the_task_layout(mnli):
    task, prepared = mnli
    assert prepared.set_name == "tiny"
    with zipfile.ZipFile(TASK_DIR / "tiny" / "MNLI.zip") as archive:
        matched = archive.read("MNLI/dev_matched.tsv").decode().splitlines()
    test = pd.read_csv(prepared.path / "test.csv")
    labels = pd.read_csv(prepared.path / "test_labels.csv")
    assert list(test.columns) == ["id", "genre", "premise", "hypothesis"]
    assert len(test) == len(labels) == len(matched) - 1
    first = dict(zip(matched[0].split("\t"), matched[1].split("\t"), strict=True))
    assert test.loc[0, "premise"] == first["sentence1"]
    assert labels.loc[0, "label"] == ["entailment", "neutral", "contradiction"].index(
        first["gold_label"]
    )
    train = pd.read_csv(prepared.path / "train.csv")
    assert set(train["label"]) == {0, 1, 2}
    assert (prepared.path / "bert-base-uncased" / "model.safetensors").is_file()


def test_workspace_has_the_inputs_but_never_the_test_labels(mnli, tmp_path):
    task, _ = mnli
    task.make_workspace(tmp_path / "ws")
    data = sorted(p.name for p in (tmp_path / "ws" / "data").iterdir())
    assert data == ["bert-base-uncased", "test.csv", "train.csv", "validation.csv"]
    assert not list((tmp_path / "ws").rglob("test_labels.csv"))
    assert "label" not in (tmp_path / "ws" / "data" / "test.csv").read_text().splitlines()[0]


def test_baseline_reproduces_the_recorded_tiny_score(mnli, baseline_run):
    task, prepared = mnli
    assert baseline_run.ok, baseline_run.mismatches
    assert baseline_run.score.metrics["accuracy"] == pytest.approx(
        prepared.data_set.baseline["accuracy"], rel=1e-6
    )
    assert task.baseline_source == "published" and task.baseline["accuracy"] == 52.511462
    assert task.mlgym.our_metric("validation_accuracy", ["accuracy"]) == "accuracy"


def _score(task, tmp_path, text: str | None):
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    if text is not None:
        (workspace / "submission.csv").write_text(text)
    return Scorer(task, TaskEnv.ensure(task)).score(workspace)


def test_perfect_and_shuffled_submissions(mnli, tmp_path):
    task, prepared = mnli
    labels = pd.read_csv(prepared.path / "test_labels.csv").sample(frac=1.0, random_state=1)
    score = _score(task, tmp_path, labels.to_csv(index=False))
    assert score.ok and score.metrics["accuracy"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "bert_mnli_model/ not found (nor submission.csv)"),
        ("id,prediction\n1,0\n", "expected exactly id,label"),
        ("id,label\n1,0\n", "rows; expected 150"),
        (
            "".join(["id,label\n"] + [f"{i},{3 if i == 7 else 0}\n" for i in range(1, 151)]),
            "must be 0 (entailment), 1 (neutral) or 2 (contradiction); got 3 at id 7",
        ),
        (
            "".join(["id,label\n"] + [f"{i},entailment\n" for i in range(1, 151)]),
            "column label must hold numbers",
        ),
    ],
)
def test_malformed_submissions_get_one_clear_line(mnli, tmp_path, text, expected):
    task, _ = mnli
    score = _score(task, tmp_path, text)
    assert not score.ok
    assert expected in score.error and "\n" not in score.error


def test_saved_model_is_run_as_mlgym_evaluates_it(mnli, tmp_path):
    """MLGym's submission, a save_pretrained folder, scores the accuracy of its own
    predictions (128 tokens, here the tiny BERT's 64, padded; argmax), even beside a perfect submission.csv."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    task, prepared = mnli
    torch.manual_seed(3)
    model = AutoModelForSequenceClassification.from_pretrained(
        prepared.path / "bert-base-uncased", num_labels=3
    ).eval()
    with torch.no_grad():  # random weights that tell the tiny set's pairs apart
        for weight in (p for p in model.parameters() if p.dim() > 1):
            weight.normal_(0, 0.5)
    workspace = tmp_path / "ws"
    model.save_pretrained(workspace / "bert_mnli_model")
    test = pd.read_csv(prepared.path / "test.csv")
    labels = pd.read_csv(prepared.path / "test_labels.csv")
    labels.to_csv(workspace / "submission.csv", index=False)
    tokenizer = AutoTokenizer.from_pretrained(prepared.path / "bert-base-uncased")
    inputs = tokenizer(list(test["premise"]), list(test["hypothesis"]), max_length=64,
                       padding="max_length", truncation=True, return_tensors="pt")
    with torch.no_grad():
        # as MLGym's evaluate.py: ids and attention mask, no token type ids
        predicted = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        predicted = predicted.logits.argmax(1).numpy()
    truth = labels.set_index("id").loc[test["id"], "label"].to_numpy()
    expected = 100 * float((predicted == truth).mean())
    assert len(set(predicted)) > 1 and expected < 100
    score = Scorer(task, TaskEnv.ensure(task)).score(workspace)
    assert score.ok, score.error
    assert score.metrics["accuracy"] == pytest.approx(expected, abs=1e-9)
    (workspace / "bert_mnli_model" / "config.json").write_text("{not json")
    error = Scorer(task, TaskEnv.ensure(task)).score(workspace).error
    assert "bert_mnli_model does not load" in error and "\n" not in error


def test_demo_beats_the_baseline_through_a_real_episode(mnli, baseline_run, tmp_path):
    task, _ = mnli
    out = tmp_path / "run"
    outcome = CliRunner().invoke(
        cli, ["solve", str(TASK_DIR), "--model", "demo", "--out", str(out), "-q", "--no-memory"]
    )
    assert outcome.exit_code == 0, outcome.output
    results = json.loads((out / "results.json").read_text())
    assert results["exit_status"] == "submitted"
    demo = results["final_metrics"]["accuracy"]
    baseline = baseline_run.score.metrics["accuracy"]
    print(f"mnli tiny: demo accuracy {demo:.2f} vs baseline {baseline:.2f}")
    assert demo >= baseline + 20
