"""Honest comparisons with the published MLGym-Bench models: tasks not on the
benchmark's scale are marked and left out of AUP unless asked.

Real metrics code and the shipped published tables; the tasks are small ones
written here (so the test does not depend on the built-in tasks' state), named as
three of the published tasks: house_price on the benchmark's scale, coco_caption
with ``same_scale: false``, sat_3 without an ``mlgym:`` block. The model compared
is "our baseline": MLGym's baseline number where the scale is the same, and
numbers of another scale where it is not (our 3-SAT instances solve in 1.8 s where
the paper's baseline took 16.2 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.report.scores import UNLIKE_MARK, Scores, add_profiles, with_published
from harness.study import metrics

TASKS = {
    "house_price": ("r2", "maximize", 0.88, {"id": "regressionKaggleHousePrice", "metrics": {}}),
    "coco_caption": ("bleu", "maximize", 0.61, {"id": "imageCaptioningCOCO", "same_scale": False,
                                                "differs": "another draw of the images"}),
    "sat_3": ("time", "minimize", 1.8, None),
}


def _task(root: Path, task_id: str, metric: str, direction: str, mlgym: dict | None) -> None:
    directory = root / "tasks" / task_id
    (directory / "workspace").mkdir(parents=True)
    (directory / "scoring").mkdir()
    (directory / "scoring" / "score.py").write_text("")
    spec = {"id": task_id, "name": task_id, "description": "d", "baseline_command": "true",
            "metrics": [{"name": metric, "direction": direction}]}
    if mlgym is not None:
        spec["mlgym"] = mlgym
    (directory / "task.yaml").write_text(yaml.safe_dump(spec))


@pytest.fixture()
def ours(tmp_path, monkeypatch) -> Scores:
    for task_id, (metric, direction, _, mlgym) in TASKS.items():
        _task(tmp_path, task_id, metric, direction, mlgym)
    monkeypatch.chdir(tmp_path)  # ./tasks is searched first
    ids = list(TASKS)
    table = metrics.ScoreTable(tasks=ids, models=["our-baseline"],
                               scores={t: {"our-baseline": TASKS[t][2]} for t in ids},
                               baseline={t: None for t in ids}, minimize={"sat_3"})
    return Scores(table, table, ["our-baseline"])


def _ranked(scores: Scores) -> tuple[list[str], dict[str, float]]:
    add_profiles(scores, scores.profile_tasks)
    aup = scores.profiles.aup_best
    return sorted(aup, key=lambda m: -aup[m]), aup


def test_unlike_tasks_are_named_with_the_reason(ours):
    found = metrics.unlike_published(["house_price", "coco_caption", "sat_3", "nosuch"])
    assert set(found) == {"coco_caption", "sat_3", "nosuch"}
    assert found["coco_caption"] == "another draw of the images"
    assert "no 'mlgym:' block" in found["sat_3"]


def test_unlike_tasks_are_marked_and_left_out_of_aup(ours):
    merged = with_published(ours)
    assert merged.best.tasks == ["House Price", "MS-COCO" + UNLIKE_MARK, "3-SAT" + UNLIKE_MARK]
    assert merged.profile_tasks == ["House Price"]
    assert any("MS-COCO *: not on the benchmark's scale (another draw of the images); left out" in n
               for n in merged.notes)
    # the published numbers are still beside ours on the marked rows
    assert merged.best.baseline["3-SAT *"] == pytest.approx(16.158)
    ranked, aup = _ranked(merged)
    # our baseline, at the paper's baseline number on the one comparable task, sits with it
    assert aup["our-baseline"] == pytest.approx(aup["baseline"], abs=1e-9)


def test_include_unlike_profiles_them_and_shows_the_mismatch(ours):
    merged = with_published(ours, include_unlike=True)
    assert len(merged.profile_tasks) == 3
    assert any("kept in the profiles as asked" in n for n in merged.notes)
    ranked, aup = _ranked(merged)
    # the scale mismatch alone lifts a baseline above every published model
    assert ranked[0] == "our-baseline" and aup["our-baseline"] > aup["baseline"] + 0.3
