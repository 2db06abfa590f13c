"""The image tasks (fashion_mnist, cifar10) on their tiny stand-in data.

The tiny files have the official names and formats, so `harness task prepare --from`
runs the real loading code; the tests then run the real baseline, scorer and demo
episode on them. The full data sets need a download this machine cannot make.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.models.demo import DemoModel
from harness.run.episode import Episode
from harness.sandbox import Sandbox
from harness.scoring.scorer import Scorer, check_task, expected_baseline
from harness.task.env import TaskEnv
from harness.task.prepare import data_root, find_prepared, prepare
from harness.task.spec import Task

REPO = Path(__file__).resolve().parent.parent
TASKS = ["fashion_mnist", "cifar10"]
SHAPES = {"fashion_mnist": (28, 28), "cifar10": (32, 32, 3)}
SIZES = {"fashion_mnist": (550, 50, 200), "cifar10": (360, 40, 200)}  # train, validation, test


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Both tasks prepared from their tiny stand-ins, in a data directory of their own."""
    data = tmp_path_factory.mktemp("image-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_DATA_DIR", str(data))
        tasks = {}
        for name in TASKS:
            task = Task.load(REPO / "tasks" / name)
            assert prepare(task, task.dir / "tiny").set_name == "tiny"
            tasks[name] = task
        yield tasks


@pytest.mark.parametrize("name", TASKS)
def test_tiny_files_regenerate_byte_for_byte(name, tmp_path):
    task_dir = REPO / "tasks" / name
    subprocess.run(
        [sys.executable, str(task_dir / "tiny" / "make_tiny.py"), str(tmp_path)],
        check=True, capture_output=True,
    )
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in (task_dir / "tiny").iterdir() if p.suffix == ".gz")
    for file in made:
        assert (tmp_path / file).read_bytes() == (task_dir / "tiny" / file).read_bytes()


def test_full_sets_are_the_official_files():
    fashion = Task.load(REPO / "tasks" / "fashion_mnist").data.sets[0]
    cifar = Task.load(REPO / "tasks" / "cifar10").data.sets[0]
    assert {f.name: f.size for f in fashion.files} == {
        "train-images-idx3-ubyte.gz": 26421880,
        "train-labels-idx1-ubyte.gz": 29515,
        "t10k-images-idx3-ubyte.gz": 4422102,
        "t10k-labels-idx1-ubyte.gz": 5148,
    }
    assert all(len(f.urls) == 2 for f in fashion.files)
    (archive,) = cifar.files
    assert archive.name == "cifar-10-python.tar.gz" and archive.size == 170498071
    assert archive.urls == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]


def test_without_data_the_tasks_say_how_to_prepare(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(main, ["task", "check", "fashion_mnist"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: task fashion_mnist: its data is not prepared: run `harness task prepare "
        "fashion_mnist`, downloads 30.9 MB (or `--from PATH` if you already have the files)"
    )
    rows = {
        row["id"]: row
        for row in map(json.loads, runner.invoke(main, ["tasks", "--json"]).output.splitlines())
    }
    assert rows["fashion_mnist"]["status"] == "needs prepare"
    assert rows["cifar10"]["status_notes"] == ["download 170.5 MB", "GPU recommended"]
    assert rows["cifar10"]["baseline"] == 0.4971 and rows["cifar10"]["baseline_source"] == "published"


@pytest.mark.parametrize("name", TASKS)
def test_prepare_splits_the_official_format_without_losing_an_image(name, prepared):
    task = prepared[name]
    where = find_prepared(task).path
    train, validation = (np.load(where / f"{part}.npz") for part in ("train", "validation"))
    test = np.load(where / "test_images.npz")
    labels = np.load(where / "test_labels.npy")
    assert (len(train["labels"]), len(validation["labels"]), len(labels)) == SIZES[name]
    assert train["images"].shape[1:] == SHAPES[name] == test["images"].shape[1:]
    assert list(test.keys()) == ["images"] and len(test["images"]) == len(labels)
    if name == "fashion_mnist":  # every training label of the source file, once
        raw = gzip.decompress((task.dir / "tiny" / "train-labels-idx1-ubyte.gz").read_bytes())
        source = np.frombuffer(raw, np.uint8, offset=8)
        both = np.concatenate([train["labels"], validation["labels"]])
        assert np.array_equal(np.bincount(both), np.bincount(source))


def test_the_agent_never_sees_the_test_labels(prepared, tmp_path):
    task = prepared["cifar10"]
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    assert sorted(p.name for p in (workspace / "data").iterdir()) == [
        "test_images.npz", "train.npz", "validation.npz"
    ]
    assert not list(workspace.rglob("test_labels*"))
    env = TaskEnv.ensure(task)
    hidden = find_prepared(task).path / "test_labels.npy"
    with Sandbox(workspace, binds=env.binds(), env=env.env(), readonly=task.readonly) as box:
        seen = box.run(f"ls {hidden} {data_root(task)} 2>&1; echo $HARNESS_TASK_DATA; ls /", timeout=30)
    assert "No such file" in seen.output and "task_data" not in seen.output


@pytest.mark.parametrize("name", TASKS)
def test_check_reproduces_the_tiny_baseline(name, prepared):
    task = prepared[name]
    recorded, tolerance = expected_baseline(task)
    assert recorded == task.data.set_named("tiny").baseline and tolerance == 0.05
    report = check_task(task)
    assert report.ok, (report.mismatches, report.baseline_output[-500:])
    assert "kept epoch" in report.baseline_output  # MLGym's best-epoch selection ran


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "submission.csv not found"),
        ("id,label\n0,1\n", "has 1 rows; expected 200"),
        ("id,label\n" + "".join(f"{i},{10 if i == 7 else 1}\n" for i in range(200)),
         "must be a class 0..9; got 10 at id 7"),
        ("id,label\n" + "".join(f"{i},cat\n" for i in range(200)), "must hold numbers"),
        ("id,class\n" + "".join(f"{i},1\n" for i in range(200)), "expected exactly id,label"),
    ],
)
def test_scorer_rejects_a_malformed_submission(prepared, tmp_path, content, message):
    task = prepared["fashion_mnist"]
    if content is not None:
        (tmp_path / "submission.csv").write_text(content)
    score = Scorer(task, TaskEnv.ensure(task)).score(tmp_path)
    assert not score.ok and message in score.error


@pytest.mark.parametrize("name", TASKS)
def test_scorer_takes_mlgyms_label_only_submission(name, prepared, tmp_path):
    """MLGym's baseline writes one column `label`, a row per test image in order."""
    task = prepared[name]
    labels = np.load(find_prepared(task).path / "test_labels.npy")
    wrong = (labels[:50] + 1) % 10  # the first 50 rows wrong: accuracy 150/200
    rows = "".join(f"{label}\n" for label in np.concatenate([wrong, labels[50:]]))
    (tmp_path / "submission.csv").write_text("label\n" + rows)
    score = Scorer(task, TaskEnv.ensure(task)).score(tmp_path)
    assert score.metrics == {"accuracy": 0.75}
    (tmp_path / "submission.csv").write_text("label\n" + rows[: rows.rindex("\n", 0, -1) + 1])
    score = Scorer(task, TaskEnv.ensure(task)).score(tmp_path)
    assert not score.ok and "has 199 rows; expected 200" in score.error
    assert task.mlgym.id.startswith("imageClassification") and task.mlgym.same_scale


def test_scorer_reads_the_hidden_labels(prepared, tmp_path):
    task = prepared["fashion_mnist"]
    labels = np.load(find_prepared(task).path / "test_labels.npy")
    rows = "".join(f"{i},{label}\n" for i, label in reversed(list(enumerate(labels))))
    (tmp_path / "submission.csv").write_text("id,label\n" + rows)
    score = Scorer(task, TaskEnv.ensure(task)).score(tmp_path)
    assert score.metrics == {"accuracy": 1.0}


@pytest.mark.parametrize("name", TASKS)
def test_demo_beats_the_baseline_in_a_real_episode(name, prepared, tmp_path):
    task = prepared[name]
    result = Episode(task, DemoModel.for_task(task.dir), tmp_path / "run").run()
    assert result.exit_status == "submitted", result.error
    accuracy = result.final_metrics["accuracy"]
    baseline = task.data.set_named("tiny").baseline["accuracy"]
    print(f"{name}: demo accuracy {accuracy:.3f} vs tiny baseline {baseline:.3f}")
    assert accuracy > baseline + 0.4
