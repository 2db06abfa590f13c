"""Tasks: task.yaml validation, workspace layout, the shipped data, task environments."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from harness.errors import TaskError
from harness.task.env import MARKER, TaskEnv
from harness.task.spec import Task, find_task

REPO = Path(__file__).resolve().parent.parent
HOUSE_PRICE_SOURCE_SHA256 = "1e18addf81e5e4d347cc17ee6075bbe4a42b7fa26b9e5b063e8f692a5f929d41"
TITANIC_SHA256 = {
    "data/train.csv": "4a437fde05fe5264e1701a7387ac6fb75393772ba38bb2c9c566405af5af4bd7",
    "data/test.csv": "5c78320a80dc159b35c408363be46a5d93f078183d539db75ee42a796d6a4e95",
    "scoring/answers.csv": "af6609cdf1dad0b699bd3414c13e999b2c2f651972f0938254a835985d584306",
}


# -- loading -------------------------------------------------------------------------


def test_shipped_tasks_load_with_their_interface(house_price, titanic):
    assert house_price.id == "house_price"
    assert [m.name for m in house_price.metrics] == ["r2", "rmse"]
    assert house_price.primary.name == "r2" and house_price.primary.direction == "maximize"
    assert house_price.baseline == {"r2": 0.8799891, "rmse": 30340.1118}
    assert house_price.submission == ["submission.csv"]
    assert "evaluate.py" in house_price.readonly and "data" in house_price.readonly
    assert house_price.limits.max_steps == 50 and house_price.limits.cost_limit == 4.0
    assert house_price.needs.gpus == 0 and house_price.needs.network is False
    assert "scikit-learn" in house_price.requirements
    assert "xgboost" in house_price.description and "submission.csv" in house_price.description
    assert house_price.dir == REPO / "tasks" / "house_price"
    assert len(house_price.version) == 16
    assert titanic.primary.name == "accuracy"


def test_is_better_follows_the_primary_direction(house_price):
    assert house_price.is_better(0.9, 0.88)
    assert not house_price.is_better(0.8, 0.88)
    assert not house_price.is_better(float("nan"), 0.88)


def test_find_task_accepts_a_name_or_a_path(monkeypatch, tmp_path):
    assert find_task("house_price") == REPO / "tasks" / "house_price"
    assert find_task(REPO / "tasks" / "titanic").resolve() == REPO / "tasks" / "titanic"
    monkeypatch.chdir(tmp_path)  # a bare name also resolves under the installed repo
    assert find_task("titanic") == REPO / "tasks" / "titanic"
    with pytest.raises(TaskError, match="no task 'nope'.*harness tasks"):
        find_task("nope")


def test_version_changes_with_the_content(tmp_path, house_price):
    copy = tmp_path / "house_price"
    shutil.copytree(house_price.dir, copy)
    assert Task.load(copy).version == house_price.version
    (copy / "workspace" / "baseline.py").write_text("print('changed')\n")
    assert Task.load(copy).version != house_price.version


# -- a broken task.yaml gets one clear line --------------------------------------------


@pytest.fixture
def broken(tmp_path):
    """Copy of house_price whose task.yaml the test edits; returns (dir, edit)."""
    copy = tmp_path / "bt"
    shutil.copytree(REPO / "tasks" / "house_price", copy)

    def edit(old: str, new: str) -> str:
        spec = copy / "task.yaml"
        text = spec.read_text()
        assert old in text, old
        spec.write_text(text.replace(old, new, 1))
        with pytest.raises(TaskError) as info:
            Task.load(copy)
        message = str(info.value)
        assert "\n" not in message
        return message

    return copy, edit


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "direction: maximize",
            "direction: max",
            "task.yaml: field 'metrics[0].direction': must be 'maximize' or 'minimize' (got 'max')",
        ),
        (
            "name: House Price Prediction (Ames, Iowa)\n",
            "",
            "task.yaml: field 'name' is missing: add it",
        ),
        ("metrics:", "metrcs:", "task.yaml: unknown field 'metrcs': did you mean 'metrics'?"),
        (
            "  max_steps: 50",
            "  max_step: 50",
            "task.yaml: unknown field 'limits.max_step': did you mean 'max_steps'?",
        ),
        (
            "  max_steps: 50",
            "  max_steps: lots",
            "task.yaml: field 'limits.max_steps': must be a valid integer",
        ),
        (
            "  network: false",
            "  network: maybe",
            "task.yaml: field 'needs.network': must be a valid boolean",
        ),
        (
            "  gpus: 0",
            "  gpus: -1",
            "task.yaml: field 'needs.gpus': must be greater than or equal to 0 (got -1)",
        ),
        (
            "baseline:\n  r2:",
            "baseline:\n  r3:",
            "task.yaml: field 'baseline.r3': unknown metric 'r3' (metrics are: r2, rmse)",
        ),
        (
            "    direction: minimize",
            "    direction: minimize\n    primary: true",
            "task.yaml: field 'metrics': mark exactly one metric 'primary: true' (found 2)",
        ),
        (
            "readonly:\n  - evaluate.py",
            "readonly:\n  - evaluat.py",
            "task.yaml: field 'readonly[0]': 'evaluat.py' is neither in workspace/ nor data/",
        ),
        (
            "  - numpy\n",
            "  - numpy>>=1\n",
            "task.yaml: field 'requirements[0]': 'numpy>>=1' is not a pip requirement",
        ),
        ("id: house_price", "id: [house", "task.yaml: not valid YAML (line 2, column 5)"),
        (
            "submission:\n  - submission.csv",
            "submission:\n  - ../out.csv",
            "task.yaml: field 'submission': '../out.csv' must be a path relative to the workspace",
        ),
    ],
)
def test_broken_task_yaml_gets_one_clear_line(broken, old, new, expected):
    directory, edit = broken
    message = edit(old, new)
    assert message.startswith(str(directory / "task.yaml")) or message.startswith("bt/")
    assert expected in message, message


def test_missing_files_are_named(broken):
    directory, _ = broken
    (directory / "scoring" / "score.py").unlink()
    with pytest.raises(TaskError, match=r"missing scoring/score\.py: every task needs a scorer"):
        Task.load(directory)
    (directory / "task.yaml").unlink()
    with pytest.raises(TaskError, match=r"task\.yaml: missing"):
        Task.load(directory)


# -- workspace -------------------------------------------------------------------------


def test_workspace_has_inputs_but_never_the_answers(tmp_path, house_price):
    house_price.make_workspace(tmp_path / "ws")
    files = sorted(
        str(p.relative_to(tmp_path / "ws")) for p in (tmp_path / "ws").rglob("*") if p.is_file()
    )
    assert files == [
        "baseline.py",
        "data/test.csv",
        "data/train.csv",
        "data/validation.csv",
        "evaluate.py",
    ]
    assert not os.access(tmp_path / "ws" / "evaluate.py", os.W_OK) or os.geteuid() == 0
    assert not (tmp_path / "ws" / "evaluate.py").stat().st_mode & 0o222
    assert not (tmp_path / "ws" / "data" / "train.csv").stat().st_mode & 0o222
    assert (tmp_path / "ws" / "baseline.py").stat().st_mode & 0o200
    assert "SalePrice" not in (tmp_path / "ws" / "data" / "test.csv").read_text().splitlines()[0]


def test_no_scorer_keeps_a_copy_of_a_workspace_file():
    """A scorer shares code with the agent through the task's own workspace/ (read-only at
    ``$HARNESS_TASK_WORKSPACE``), so scoring/ holds no second copy that could drift."""
    copies = []
    for task_dir in sorted((REPO / "tasks").iterdir()):
        shown = {
            hashlib.sha256(p.read_bytes()).hexdigest(): p
            for p in (task_dir / "workspace").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        for path in (task_dir / "scoring").rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                original = shown.get(hashlib.sha256(path.read_bytes()).hexdigest())
                if original is not None:
                    copies.append(f"{path.relative_to(REPO)} = {original.relative_to(REPO)}")
    assert copies == []


# -- the shipped data ------------------------------------------------------------------


def test_house_price_split_is_the_published_one_and_loses_nothing(house_price):
    """train + validation + test with its answers, joined by Id, give the original
    Kaggle train.csv byte for byte; the row counts are the published 1022/146/292."""
    read = lambda rel: (house_price.dir / rel).read_text().splitlines()  # noqa: E731
    train, validation, test, answers = (
        read("data/train.csv"),
        read("data/validation.csv"),
        read("data/test.csv"),
        read("scoring/answers.csv"),
    )
    assert (len(train), len(validation), len(test), len(answers)) == (1023, 147, 293, 293)
    price = dict(line.split(",") for line in answers[1:])
    rows = train[1:] + validation[1:] + [f"{line},{price[line.split(',')[0]]}" for line in test[1:]]
    rows.sort(key=lambda line: int(line.split(",")[0]))
    original = "\n".join([train[0], *rows]) + "\n"
    assert hashlib.sha256(original.encode()).hexdigest() == HOUSE_PRICE_SOURCE_SHA256
    # the published split puts these ids first (scikit-learn train_test_split, seed 42)
    assert [line.split(",")[0] for line in test[1:4]] == ["893", "1106", "414"]


def test_titanic_files_are_the_published_ones(titanic):
    for rel, digest in TITANIC_SHA256.items():
        assert hashlib.sha256((titanic.dir / rel).read_bytes()).hexdigest() == digest, rel


# -- task environments -----------------------------------------------------------------


def test_task_env_is_built_once_and_reuses_the_harness_packages(house_price, monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    messages: list[str] = []
    first = TaskEnv.ensure(house_price, progress=messages.append)
    assert any("building" in m for m in messages)
    assert first.info["installed"] == [] and "numpy" in first.info["reused"]
    stamp = (first.root / MARKER).stat().st_mtime_ns
    messages.clear()
    second = TaskEnv.ensure(house_price, progress=messages.append)
    assert second.root == first.root and messages == []
    assert (second.root / MARKER).stat().st_mtime_ns == stamp
    assert Path(second.python).exists()
    assert second.env()["PATH"] == str(second.root / "bin")
    assert {b.target for b in second.binds()} >= {str(second.root)}
    assert not any(str(REPO / "tasks") in b.target for b in second.binds())
    assert not any(Path(b.source) == REPO for b in second.binds())


def test_failed_task_env_build_names_the_package_and_caches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: pip fails fast and for sure
    copy = tmp_path / "t"
    shutil.copytree(REPO / "tasks" / "titanic", copy)
    spec = copy / "task.yaml"
    spec.write_text(
        spec.read_text().replace(
            "  - lightgbm\n", "  - lightgbm\n  - harness-no-such-package-zz9\n"
        )
    )
    task = Task.load(copy)
    with pytest.raises(
        TaskError, match="could not install 'harness-no-such-package-zz9'.*nothing was cached"
    ):
        TaskEnv.ensure(task)
    envs = tmp_path / "cache" / "envs"
    assert [p.name for p in envs.iterdir() if not p.name.endswith(".lock")] == []


def test_task_format_docs_are_generated_from_the_schema():
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_task_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    text = (REPO / "docs" / "task-format.md").read_text()
    for field in Task.model_fields:
        assert f"| `{field}` |" in text
