"""`harness task import-mlgym` on a small MLGym-shaped checkout written here.

Two tasks: a code-submission game (evaluate.py imports strategy.py and plays it
against target.py) and a CSV task whose dataset holds an answer file and whose
evaluate.py reads it from MLGym's absolute workspace path. Everything is stdlib
Python, so the task environments build offline; scoring goes through the real
scorer sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.errors import TaskError
from harness.scoring.scorer import Scorer, check_task
from harness.task.env import TaskEnv
from harness.task.mlgym_import import import_mlgym
from harness.task.spec import Task

GAME_EVALUATE = """\
import json
from strategy import row_strategy
from target import column_strategy

history, total = [], 0
for _ in range(20):
    mine, theirs = row_strategy(history), column_strategy(history)
    total += {(0, 0): 3, (1, 1): 1}.get((mine, theirs), 0)
    history.append((mine, theirs))
print("playing 20 rounds")
print(json.dumps({"Score": total / 20}))
"""

GAME_STRATEGY = "def row_strategy(history):\n    return 0 if len(history) % 4 else 1\n"
GAME_TARGET = "def column_strategy(history):\n    return 0 if len(history) % 2 else 1\n"
# rounds 0..19: row plays 1 when n % 4 == 0 else 0; column 1 when n even else 0.
# (1,1) at n = 0,4,8,12,16 -> 5 x 1; (0,0) at odd n -> 10 x 3; total 35 over 20 rounds.
GAME_SCORE = 35 / 20

CSV_EVALUATE = """\
import argparse, csv, json, math
parser = argparse.ArgumentParser()
parser.add_argument("--submission_file")
args = parser.parse_args()
truth = {r["Id"]: float(r["y"]) for r in csv.DictReader(open("/home/agent/workspace/data/answer.csv"))}
pred = {r["Id"]: float(r["y"]) for r in csv.DictReader(open(args.submission_file))}
errors = [(pred[k] - v) ** 2 for k, v in truth.items()]
print(json.dumps({"rmse": math.sqrt(sum(errors) / len(errors)), "Hit Rate": sum(e < 1 for e in errors) / len(errors)}))
"""

CSV_BASELINE = """\
import csv
rows = list(csv.DictReader(open("data/train.csv")))
mean = sum(float(r["y"]) for r in rows) / len(rows)
test = list(csv.DictReader(open("data/test.csv")))
with open("submission.csv", "w") as f:
    f.write("Id,y\\n")
    for r in test:
        f.write(f"{r['Id']},{mean}\\n")
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)  # metric order matters: the first is primary


def _checkout(root: Path) -> Path:
    """An MLGym-shaped checkout: configs/tasks, configs/datasets and data/."""
    _write(root / "data/coinGame/evaluate.py", GAME_EVALUATE)
    _write(root / "data/coinGame/strategy.py", GAME_STRATEGY)
    _write(root / "data/coinGame/target.py", GAME_TARGET)
    _write(root / "configs/tasks/coinGame.yaml", _yaml({
        "id": "coinGame", "name": "Coin game",
        "description": "Edit `strategy.py` to play the coin game.",
        "task_entrypoint": "PythonSubmissionTasks", "training_timeout": 60,
        "starter_code": ["data/coinGame/target.py", "data/coinGame/evaluate.py", "data/coinGame/strategy.py"],
        "baseline_paths": ["evaluate.py"], "baseline_scores": [{"Score": 1.75}],
        "evaluation_paths": ["evaluate.py"], "evaluation_read_only": True,
    }))
    _write(root / "data/tinyRegression/evaluate.py", CSV_EVALUATE)
    _write(root / "data/tinyRegression/baseline.py", CSV_BASELINE)
    _write(root / "data/tinyRegression/data/train.csv", "Id,y\n1,1.0\n2,3.0\n")
    _write(root / "data/tinyRegression/data/test.csv", "Id\n3\n4\n")
    _write(root / "data/tinyRegression/data/answer.csv", "Id,y\n3,2.0\n4,4.0\n")
    _write(root / "configs/datasets/tiny.yaml", _yaml({
        "name": "Tiny", "description": "Two rows to learn from.",
        "data_path": "data/tinyRegression/data", "is_local": True,
    }))
    _write(root / "configs/tasks/tinyRegression.yaml", _yaml({
        "id": "tinyRegression", "name": "Tiny regression",
        "description": "Predict y. Data:\n{dataset_docs}", "dataset_configs": ["datasets/tiny.yaml"],
        "task_entrypoint": "CSVSubmissionTasks", "training_timeout": 60,
        "starter_code": ["data/tinyRegression/baseline.py", "data/tinyRegression/evaluate.py"],
        "baseline_paths": ["baseline.py"], "baseline_scores": [{"rmse": 1.4142135623730951, "Hit Rate": 0.0}],
        "evaluation_paths": ["evaluate.py"],
    }))
    _write(root / "configs/datasets/hub.yaml", _yaml({
        "name": "Hub", "description": "on the Hub", "data_path": "someone/images", "is_local": False,
    }))
    _write(root / "configs/tasks/hubTask.yaml", _yaml({
        "id": "hubTask", "name": "Hub", "description": "d", "dataset_configs": ["datasets/hub.yaml"],
        "starter_code": ["data/coinGame/evaluate.py"], "baseline_scores": [{"accuracy": 0.5}],
        "evaluation_paths": ["evaluate.py"],
    }))
    return root


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict:
    root = _checkout(tmp_path_factory.mktemp("mlgym"))
    out = tmp_path_factory.mktemp("tasks")
    results = {r.mlgym_id: r for r in import_mlgym(root, out)}
    return {"root": root, "out": out, "results": results}


def test_imported_tasks_load_with_metrics_directions_and_link(imported):
    results = imported["results"]
    assert results["coinGame"].error is None and results["tinyRegression"].error is None
    game = Task.load(results["coinGame"].task_dir)
    assert game.id == "coin_game" and game.submission == ["strategy.py"]
    assert game.mlgym.id == "coinGame" and game.mlgym.same_scale
    assert [(m.name, m.direction) for m in game.metrics] == [("score", "maximize")]
    regression = Task.load(results["tinyRegression"].task_dir)
    assert {m.name: m.direction for m in regression.metrics} == {"rmse": "minimize", "hit_rate": "maximize"}
    assert regression.primary.name == "rmse"  # not a bench task: the first metric
    assert regression.mlgym.metrics == {"Hit Rate": "hit_rate"}
    assert regression.mlgym.our_metric("RMSE", [m.name for m in regression.metrics]) == "rmse"
    assert "Two rows to learn from." in regression.description  # {dataset_docs} filled in
    assert regression.published_baseline == {"rmse": 1.4142135623730951, "hit_rate": 0.0}


def test_agent_workspace_has_no_evaluator_and_no_answers(imported, tmp_path):
    for mlgym_id in ("coinGame", "tinyRegression"):
        task = Task.load(imported["results"][mlgym_id].task_dir)
        task.make_workspace(tmp_path / mlgym_id)
        names = {p.name for p in (tmp_path / mlgym_id).rglob("*")}
        assert "evaluate.py" not in names and "answer.csv" not in names, names
    assert (tmp_path / "tinyRegression/data/test.csv").is_file()
    assert (tmp_path / "coinGame/target.py").is_file()  # MLGym shows the opponent; so do we
    hidden = imported["results"]["tinyRegression"].task_dir / "scoring/hidden"
    assert (hidden / "evaluate.py").is_file() and (hidden / "data/answer.csv").is_file()


def test_starter_strategy_scores_the_evaluate_number_through_the_scorer(imported):
    task = Task.load(imported["results"]["coinGame"].task_dir)
    scorer = Scorer(task, TaskEnv.ensure(task))
    score = scorer.score_file(task.dir / "workspace" / "strategy.py")
    assert score.ok, score.error
    assert score.metrics == {"score": GAME_SCORE}


def test_csv_baseline_runs_and_scores_against_the_hidden_answers(imported, tmp_path):
    task = Task.load(imported["results"]["tinyRegression"].task_dir)
    report = check_task(task)
    assert report.ok
    # the baseline predicts the train mean 2.0 for answers 2.0 and 4.0
    assert report.score.metrics == pytest.approx({"rmse": 2 ** 0.5, "hit_rate": 0.5})
    bad = tmp_path / "submission.csv"
    bad.write_text("Id,y\n3,2.0\n")
    score = Scorer(task, TaskEnv.ensure(task)).score_file(bad)
    assert not score.ok and "evaluation failed (exit 1)" in score.error and "KeyError" in score.error


def test_unsupported_dataset_is_a_note_not_a_crash(imported):
    hub = imported["results"]["hubTask"]
    assert hub.task_dir is None and hub.error is None
    assert len(hub.notes) == 1 and "Hugging Face Hub" in hub.notes[0]


@pytest.mark.parametrize("text, expected", [
    ("id: [unclosed\n", "not valid YAML (line"),
    ("name: no id\ndescription: d\nevaluation_paths: [evaluate.py]\n", "field 'id' is missing"),
    ("id: x\nname: x\ndescription: d\ntask_entrypoint: Nope\nevaluation_paths: [e.py]\n",
     "field 'task_entrypoint': 'Nope' is not one of"),
    ("id: x\nname: x\ndescription: d\nevaluation_paths: [../e.py]\n", "must be a relative path"),
    ("id: x\nname: x\ndescription: d\nevaluation_paths: [evaluate.py]\nstarter_code: [data/coinGame/evaluate.py]\n"
     "baseline_scores: [{Score: fast}]\n", "'baseline_scores[0].Score' must be a number"),
])
def test_malformed_configs_give_one_line_errors(tmp_path, text, expected):
    root = _checkout(tmp_path / "mlgym")
    _write(root / "configs/tasks/broken.yaml", text)
    result = CliRunner().invoke(main, ["task", "import-mlgym", str(root), "--out", str(tmp_path / "out"),
                                       "--task", "broken"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "error" in line]
    assert len(lines) == 1 and expected in lines[0], result.output
    assert "Traceback" not in result.output


def test_cli_direction_override_and_unknown_task(tmp_path):
    root = _checkout(tmp_path / "mlgym")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["task", "import-mlgym", str(root), "--out", str(out),
                                       "--task", "tinyRegression", "--direction", "Hit Rate=minimize"])
    assert result.exit_code == 0, result.output
    task = Task.load(out / "tiny_regression")
    assert task.metric("hit_rate").direction == "minimize"
    again = CliRunner().invoke(main, ["task", "import-mlgym", str(root), "--out", str(out), "--task", "tinyRegression"])
    assert again.exit_code == 1 and "exists already: pass --force" in again.output
    with pytest.raises(TaskError, match="no task config with id or name nosuch"):
        import_mlgym(root, out, only=["nosuch"])
    assert json.loads((out / "tiny_regression/scoring/mlgym.json").read_text())["submission"] == ["submission.csv"]
