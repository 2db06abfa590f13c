"""Task language_modeling on its tiny data set: prepare splits the token shards, the
exported baseline model reproduces its recorded loss, the scorer refuses missing,
broken and non-causal models with one line, and the demo beats the baseline in a
real episode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from prepared_data import tiny_prepared

from harness.cli import main as cli
from harness.scoring.scorer import Scorer, check_task
from harness.task.env import TaskEnv

REPO = Path(__file__).resolve().parents[1]
TASK_DIR = REPO / "tasks" / "language_modeling"


def tokens(path: Path) -> np.ndarray:
    header = np.fromfile(path, dtype="<i4", count=256)
    assert header[0] == 20240520 and header[1] == 1
    assert path.stat().st_size == 1024 + 2 * int(header[2])
    return np.fromfile(path, dtype="<u2", offset=1024)


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    with tiny_prepared(tmp_path_factory, TASK_DIR) as prepared:
        yield prepared


@pytest.fixture(scope="module")
def baseline_run(lm):
    return check_task(lm[0])


def test_prepare_splits_the_shards_and_keeps_the_test_tokens_hidden(lm, tmp_path):
    task, prepared = lm
    source = {p.name: tokens(p) for p in (TASK_DIR / "tiny").glob("*.bin")}
    test, validation = tokens(prepared.path / "test.bin"), tokens(prepared.path / "validation.bin")
    assert np.array_equal(test, source["fineweb_val_000000.bin"])
    last = tokens(prepared.path / "train" / "fineweb_train_000002.bin")
    assert np.array_equal(np.concatenate([last, validation]), source["fineweb_train_000002.bin"])
    task.make_workspace(tmp_path / "ws")
    files = sorted(str(p.relative_to(tmp_path / "ws")) for p in (tmp_path / "ws").rglob("*.bin"))
    assert files == [
        "data/train/fineweb_train_000001.bin",
        "data/train/fineweb_train_000002.bin",
        "data/validation.bin",
    ]


def test_baseline_reproduces_the_recorded_tiny_loss(lm, baseline_run):
    task, prepared = lm
    assert baseline_run.ok, baseline_run.mismatches
    assert baseline_run.score.metrics["val_loss"] == pytest.approx(
        prepared.data_set.baseline["val_loss"], rel=1e-4
    )
    assert task.baseline_source == "published" and task.baseline["val_loss"] == 4.6727309


class _Peeking(torch.nn.Module):
    """Predicts each token from the next one: the cheat the scorer must refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(50257, 8)
        self.head = torch.nn.Linear(8, 50257)

    def forward(self, idx):
        return self.head(self.embed(torch.roll(idx, -1, dims=1)))


class _Short(_Peeking):
    def forward(self, idx):
        return self.head(self.embed(idx))[:, :, :1000]


def _export(model: torch.nn.Module, path: Path) -> None:
    example = torch.zeros(2, 1024, dtype=torch.long)
    torch.export.save(torch.export.export(model.eval(), (example,)), str(path))


def _score(task, workspace: Path):
    return Scorer(task, TaskEnv.ensure(task)).score(workspace)


def test_bad_models_get_one_clear_line(lm, tmp_path):
    task, _ = lm
    (tmp_path / "ws").mkdir()
    workspace = tmp_path / "ws"
    errors = {}
    errors["missing"] = _score(task, workspace).error
    (workspace / "model.pt2").write_bytes(b"not a model")
    errors["garbage"] = _score(task, workspace).error
    _export(_Peeking(), workspace / "model.pt2")
    errors["peeking"] = _score(task, workspace).error
    _export(_Short(), workspace / "model.pt2")
    errors["short"] = _score(task, workspace).error
    assert "model.pt2 not found" in errors["missing"]
    assert "is not a torch.export program" in errors["garbage"]
    assert "not causal" in errors["peeking"]
    assert "returns 1000 logits per token" in errors["short"]
    assert all("\n" not in e for e in errors.values())


@pytest.mark.slow
def test_demo_beats_the_baseline_through_a_real_episode(lm, baseline_run, tmp_path):
    out = tmp_path / "run"
    outcome = CliRunner().invoke(
        cli, ["solve", str(TASK_DIR), "--model", "demo", "--out", str(out), "-q", "--no-memory"]
    )
    assert outcome.exit_code == 0, outcome.output
    results = json.loads((out / "results.json").read_text())
    assert results["exit_status"] == "submitted"
    demo = results["final_metrics"]["val_loss"]
    baseline = baseline_run.score.metrics["val_loss"]
    print(f"language_modeling tiny: demo val_loss {demo:.3f} vs baseline {baseline:.3f}")
    assert demo < baseline - 2.0
    # The episode compares with the prepared stand-in set's baseline, not the published one.
    assert results["data_set"] == "tiny" and results["published_baseline"]["val_loss"] == 4.6727309
    assert results["baseline"]["val_loss"] == lm[0].data.set_named("tiny").baseline["val_loss"]
    assert "(beats the baseline)" in outcome.output
