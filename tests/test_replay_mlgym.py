"""`harness import` and `harness replay` of MLGym trajectories, on a task imported from
a small MLGym-shaped checkout (tests/test_mlgym_import.py builds it).

The .traj files are our own, in the published runs' shape: a validate whose
observation quotes ``Evaluation Score``, a submit, ``info.score`` and a
``results.json`` beside the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_mlgym_import import GAME_SCORE, _checkout

from harness.cli import main
from harness.run.trajectory import read_records
from harness.task.mlgym_import import import_mlgym


def _traj(directory: Path, validated: float, submitted: float) -> Path:
    """A run directory as MLGym writes one: <model>__<task>__.../<task>.traj + results.json."""
    run = directory / "metagen-tiny-model__coinGame__default__t-0.00__run_0"
    run.mkdir(parents=True)
    scores = [{"Score": validated}, {"Score": submitted}]
    steps = [
        {"thought": "look", "action": "ls\n", "observation": "strategy.py  target.py", "execution_time": 0.1},
        {"thought": "score it", "action": "validate\n", "execution_time": 1.0,
         "observation": "Your code produced a valid submission artefact at /home/agent/workspace/target.py.\n"
                        f"Baseline Score: {{'Score': 1.75}}\nEvaluation Score: {{'Score': {validated}}}"},
        {"thought": "done", "action": "submit\n", "observation": "", "execution_time": 1.0},
    ]
    info = {"model_stats": {"total_cost": 0.25, "tokens_sent": 1200, "tokens_received": 80, "api_calls": 3},
            "exit_status": "submitted", "submission": "/home/agent/workspace/target.py", "score": scores}
    path = run / "coinGame.traj"
    path.write_text(json.dumps({"environment": "mlgym_main", "trajectory": steps, "history": [], "info": info}))
    (run / "results.json").write_text(json.dumps({"agent": scores, "baseline": {"Score": 1.75}}))
    return path


@pytest.fixture(scope="module")
def where(tmp_path_factory) -> Path:
    """A directory with tasks/coin_game (linked to MLGym's coinGame) to run from."""
    root = tmp_path_factory.mktemp("here")
    import_mlgym(_checkout(root / "mlgym"), root / "tasks", only=["coinGame"])
    return root


def test_import_keeps_task_model_scores_cost_tokens_and_submission(where, tmp_path, monkeypatch):
    monkeypatch.chdir(where)
    traj = _traj(tmp_path, 1.5, 1.75)
    out = tmp_path / "run.jsonl"
    result = CliRunner().invoke(main, ["import", str(traj), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = list(read_records(out))
    start, end = records[0], records[-1]
    assert start["task"] == "coin_game" and start["mlgym_task"] == "coinGame"
    assert start["model"]["model"] == "tiny-model" and start["baseline"] == {"Score": 1.75}
    scores = [(r["step"], r["source"], r["metrics"], r["mlgym_metrics"]) for r in records if r["kind"] == "score"]
    assert scores == [(2, "validate", {"score": 1.5}, {"Score": 1.5}), (3, "submit", {"score": 1.75}, {"Score": 1.75})]
    assert end["final_metrics"] == {"score": 1.75} and end["exit_status"] == "submitted"
    assert (end["cost"], end["tokens_in"], end["tokens_out"], end["api_calls"]) == (0.25, 1200, 80, 3)
    assert end["submission"] == "/home/agent/workspace/target.py"


def test_replay_of_a_traj_that_reproduces_exits_0(where, tmp_path, monkeypatch):
    monkeypatch.chdir(where)
    traj = _traj(tmp_path, GAME_SCORE, GAME_SCORE)
    result = CliRunner().invoke(main, ["replay", str(traj), "--out", str(tmp_path / "replayed")])
    assert result.exit_code == 0, result.output
    assert f"step 2 validate: recorded score={GAME_SCORE:.6g} · replayed score={GAME_SCORE:.6g} · same" in result.output
    assert "step 3/3: submit" in result.output  # a status line per step
    assert "scores reproduced (2 compared" in result.output


def test_replay_of_an_altered_score_exits_1_naming_it(where, tmp_path, monkeypatch):
    monkeypatch.chdir(where)
    traj = _traj(tmp_path, 1.5, GAME_SCORE)
    result = CliRunner().invoke(main, ["replay", str(traj), "--out", str(tmp_path / "replayed")])
    assert result.exit_code == 1, result.output
    verdict = [line for line in result.output.splitlines() if "did NOT reproduce" in line]
    assert len(verdict) == 1
    assert "step 2 validate score recorded score=1.5, replayed score=1.75" in verdict[0]
    assert "step 3" not in verdict[0]  # the submission reproduced


def test_replay_of_our_jsonl_compares_the_same_way(where, tmp_path, monkeypatch):
    monkeypatch.chdir(where)
    out = tmp_path / "run.jsonl"
    CliRunner().invoke(main, ["import", str(_traj(tmp_path, GAME_SCORE, GAME_SCORE)), "--out", str(out)])
    good = CliRunner().invoke(main, ["replay", str(out), "--out", str(tmp_path / "a")])
    assert good.exit_code == 0, good.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    for record in lines:
        if record["kind"] == "score" and record["source"] == "submit":
            record["metrics"]["score"] = GAME_SCORE * 1.001  # beyond the default 1e-6
    out.write_text("".join(json.dumps(record) + "\n" for record in lines))
    bad = CliRunner().invoke(main, ["replay", str(out), "--out", str(tmp_path / "b")])
    assert bad.exit_code == 1, bad.output
    assert "step 3 submit score recorded" in bad.output


def test_replay_of_an_unlinked_traj_says_to_pass_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    traj = _traj(tmp_path / "runs", 1.0, 1.0)
    result = CliRunner().invoke(main, ["replay", str(traj)])
    assert result.exit_code != 0
    assert "no task here links MLGym task 'coinGame'" in result.output and "--task" in result.output


# -- a run that saw other starter files than ours ------------------------------------

SEEN = ["# The starter strategy as the run saw it: two lines more than ours.", "",
        "def row_strategy(history):", "    return 0 if len(history) % 4 else 1"]
"""strategy.py as the recorded run's `open` showed it; the task's own is its last two lines."""
ALWAYS_1 = 10 / 20  # row always 1: (1, 1) on the column's 10 even rounds


def _run(directory: Path, steps: list[dict], scores: list[dict], exit_status: str = "submitted") -> Path:
    run = directory / "metagen-tiny-model__coinGame__default__t-0.00__run_1"
    run.mkdir(parents=True)
    path = run / "coinGame.traj"
    path.write_text(json.dumps({"trajectory": steps, "history": [],
                                "info": {"exit_status": exit_status, "score": scores}}))
    return path


def _open_seen() -> dict:
    shown = "\n".join(f"{n}:{text}" for n, text in enumerate(SEEN, 1))
    return {"action": 'open "strategy.py"\n', "thought": "",
            "observation": f"[File: /home/agent/workspace/strategy.py (4 lines total)]\n{shown}"}


def _edit_body() -> dict:
    """Replace the body (line 4 of the file the run saw) with `return 1`. The file name
    after the range is ignored, as MLGym's edit reads only its first argument."""
    shown = "\n".join(f"{n}:{text}" for n, text in enumerate([*SEEN[:3], "    return 1"], 1))
    return {"action": "edit 4:4 strategy.py\n    return 1\nend_of_edit\n", "thought": "",
            "observation": f"[File: /home/agent/workspace/strategy.py (4 lines total)]\n{shown}\n"
                           "File updated. Please review the changes and make sure they are correct "
                           "(correct indentation, no duplicate lines, etc). Edit the file again if necessary."}


def _validate(score: float) -> dict:
    return {"action": "validate\n", "thought": "",
            "observation": f"Baseline Score: {{'Score': 1.75}}\nEvaluation Score: {{'Score': {score}}}"}


def test_replay_lays_the_files_the_run_saw_so_its_edits_land_on_the_same_lines(where, tmp_path, monkeypatch):
    # On the task's own 2-line strategy.py, `edit 4:4` would add an unreachable line
    # and the score would stay 1.75; on the file the run saw it replaces the body.
    monkeypatch.chdir(where)
    steps = [_open_seen(), _edit_body(), _validate(ALWAYS_1), {"action": "submit\n", "observation": ""}]
    traj = _run(tmp_path, steps, [{"Score": ALWAYS_1}, {"Score": ALWAYS_1}])
    out = tmp_path / "replayed"
    result = CliRunner().invoke(main, ["replay", str(traj), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "rebuilt from the recording: strategy.py (step 1, 4 lines)" in result.output
    assert "viewer/editor observations: 2 of 2 identical to the recording" in result.output
    assert f"step 3 validate: recorded score={ALWAYS_1:.6g} · replayed score={ALWAYS_1:.6g} · same" in result.output
    assert (out / "workspace/strategy.py").read_text() == "\n".join([*SEEN[:3], "    return 1"]) + "\n"


def test_a_max_steps_run_is_autosubmitted_at_the_same_step(where, tmp_path, monkeypatch):
    # MLGym asked for a 4th reply, then submitted without running it: the replay must
    # not run it either (a 4th `validate` would be one score too many).
    monkeypatch.chdir(where)
    steps = [_open_seen(), _edit_body(), _validate(ALWAYS_1), {"action": "validate\n", "observation": ""}]
    traj = _run(tmp_path, steps, [{"Score": ALWAYS_1}, {"Score": ALWAYS_1}], "autosubmission (max_steps)")
    result = CliRunner().invoke(main, ["replay", str(traj), "--out", str(tmp_path / "replayed")])
    assert result.exit_code == 0, result.output
    assert "final submit: recorded score=0.5 · replayed score=0.5 · same" in result.output
    assert "replayed 3 steps" in result.output and "exit autosubmission (max_steps)" in result.output


@pytest.fixture()
def noisy(where, tmp_path) -> Path:
    """``where`` with coin_game declaring MLGym's evaluation noise (sd 0.1)."""
    import shutil

    root = tmp_path / "noisy"
    shutil.copytree(where / "tasks", root / "tasks")
    spec = root / "tasks/coin_game/task.yaml"
    spec.write_text(spec.read_text().replace("  id: coinGame\n", "  id: coinGame\n  noise:\n    score: 0.1\n"))
    return root


@pytest.mark.parametrize(("recorded", "code", "verdict"), [
    (GAME_SCORE - 0.25, 0, "within noise (3 sd = score 0.3)"), (GAME_SCORE - 0.35, 1, "DIFFERENT")])
def test_a_score_within_the_declared_noise_reproduces(noisy, tmp_path, monkeypatch, recorded, code, verdict):
    monkeypatch.chdir(noisy)
    traj = _traj(tmp_path, recorded, GAME_SCORE)
    result = CliRunner().invoke(main, ["replay", str(traj), "--out", str(tmp_path / "replayed")])
    assert result.exit_code == code, result.output
    assert f"step 2 validate: recorded score={recorded:.6g} · replayed score=1.75 · {verdict}" in result.output


def test_noise_for_an_unknown_metric_is_one_line(noisy, monkeypatch):
    from harness.errors import TaskError
    from harness.task.spec import Task

    spec = noisy / "tasks/coin_game/task.yaml"
    spec.write_text(spec.read_text().replace("    score: 0.1\n", "    Score: 0.1\n"))
    with pytest.raises(TaskError, match=r"field 'mlgym.noise.Score': a metric of this task \(score\)"):
        Task.load(spec.parent)


def test_scores_pair_by_step_so_a_validate_scored_only_in_the_replay_is_named():
    from harness.run.mlgym_traj import RecordedScore
    from harness.run.replay import pair_scores

    old = [RecordedScore(5, "validate", {"score": 1.0}), RecordedScore(51, "submit", {"score": 3.0})]
    new = [RecordedScore(5, "validate", {"score": 1.0}), RecordedScore(10, "validate", {"score": 2.0}),
           RecordedScore(50, "autosubmit", {"score": 3.0})]
    assert [(a and a.step, b and b.step) for a, b in pair_scores(old, new)] == [(5, 5), (None, 10), (51, 50)]
