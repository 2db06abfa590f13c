"""Task language_modeling on its tiny data set: prepare splits the token shards, the
baseline (MLGym's model.pt + model_config.pt + baseline.py) reproduces its recorded
loss, the scorer takes MLGym's form as its evaluate.py writes it (a pickled
``__main__.ModelConfig``, ``module._orig_mod.`` keys) and computes the loss exactly,
runs the submitted code where it sees neither the answers nor the scorer, refuses
missing, broken and non-causal models with one line, and the demo beats the baseline
in a real episode."""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
import sys
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
    assert task.mlgym.id == "languageModelingFineWeb" and task.mlgym.same_scale


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
    assert "model.pt not found" in errors["missing"]
    assert "is not a torch.export program" in errors["garbage"]
    assert "not causal" in errors["peeking"]
    assert "returns 1000 logits per token" in errors["short"]
    assert all("\n" not in e for e in errors.values())


def _mlgym_files(workspace: Path, prefix: str = "module._orig_mod.") -> torch.nn.Module:
    """model.pt, model_config.pt and baseline.py as MLGym's training leaves them: keys
    prefixed by DDP and torch.compile, the config pickled from ``python baseline.py``
    (class ``__main__.ModelConfig``). Returns the model."""
    shutil.copy(TASK_DIR / "workspace" / "baseline.py", workspace / "baseline.py")
    spec = importlib.util.spec_from_file_location("baseline", workspace / "baseline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline"] = module
    try:
        spec.loader.exec_module(module)
        torch.manual_seed(1)
        config = module.ModelConfig(n_layer=1, n_head=2, n_embd=32)
        model = module.Model(config).eval()
        torch.nn.init.normal_(model.lm_head.weight, std=0.5)
        blob = pickle.dumps(config)
    finally:
        del sys.modules["baseline"]
    # "baseline" and "__main__" have the same length: the pickle stays well-formed.
    assert b"\x08baseline" in blob
    (workspace / "model_config.pt").write_bytes(blob.replace(b"\x08baseline", b"\x08__main__"))
    torch.save({prefix + k: v for k, v in model.state_dict().items()}, workspace / "model.pt")
    return model


def test_mlgym_submission_scores_its_exact_loss(lm, tmp_path):
    task, prepared = lm
    workspace = tmp_path / "ws"
    workspace.mkdir()
    model = _mlgym_files(workspace)
    score = _score(task, workspace)
    assert score.ok, score.error
    test = torch.from_numpy(tokens(prepared.path / "test.bin").astype(np.int64))
    count = (len(test) - 1) // 1024
    x = torch.stack([test[i * 1024 : i * 1024 + 1024] for i in range(count)])
    y = torch.stack([test[i * 1024 + 1 : i * 1024 + 1025] for i in range(count)])
    with torch.no_grad():
        logits, loss = model(x, y, return_logits=True)
    assert 0 < loss.item() < 20
    assert score.metrics["val_loss"] == pytest.approx(loss.item(), rel=1e-5)


_PROBE = """
import os
seen = {p: sorted(os.listdir(p)) for p in ("/scoring", os.environ["HARNESS_TASK_DATA"])}
raise RuntimeError(f"saw {seen}")
"""

_CHEAT = """
class Model(Model):
    def forward(self, idx, targets=None, return_logits=True):
        import torch
        return super().forward(torch.roll(idx, -1, dims=1), targets, return_logits)
"""


def test_mlgym_submissions_run_sandboxed_and_bad_ones_get_one_line(lm, tmp_path):
    task, _ = lm
    workspace = tmp_path / "ws"
    workspace.mkdir()
    _mlgym_files(workspace)
    errors = {}
    source = (workspace / "baseline.py").read_text()
    (workspace / "baseline.py").write_text(source + _PROBE)
    errors["probe"] = _score(task, workspace).error
    (workspace / "baseline.py").write_text(source + _CHEAT)
    errors["cheat"] = _score(task, workspace).error
    (workspace / "baseline.py").write_text(source)
    (workspace / "model_config.pt").write_bytes(b"garbage")
    errors["config"] = _score(task, workspace).error
    (workspace / "model_config.pt").unlink()
    errors["missing"] = _score(task, workspace).error
    # the submitted code ran, but saw neither the scorer nor the test tokens
    assert "baseline.py fails to import (RuntimeError: saw {'/scoring': [], '/task_data': []})" in (
        errors["probe"]
    )
    assert "not causal" in errors["cheat"]
    assert "model_config.pt is not a pickled config" in errors["config"]
    assert "model_config.pt not found" in errors["missing"]
    assert all("\n" not in e for e in errors.values()), errors


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
