"""Scoring: real data, real scorer, real sandbox.

The agent never sees the answers; the scorer joins on the id column; every invalid
submission gets its own one-line reason; the baselines reproduce their recorded scores.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.sandbox import Sandbox
from harness.scoring.scorer import Score, Scorer, check_task

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def baseline_ws(tmp_path_factory, house_price):
    """A house price workspace where the baseline has run (on the host: fast)."""
    ws = tmp_path_factory.mktemp("hp") / "ws"
    house_price.make_workspace(ws)
    # Same numbers as inside the sandbox; the sandboxed run is test_task_check_*.
    train = pd.read_csv(ws / "data/train.csv")
    test = pd.read_csv(ws / "data/test.csv")
    answers = pd.read_csv(house_price.dir / "scoring/answers.csv")
    assert len(train) == 1022
    rng = random.Random(0)
    guess = answers.SalePrice * [1 + rng.uniform(-0.1, 0.1) for _ in range(len(answers))]
    pd.DataFrame({"Id": answers.Id, "SalePrice": guess}).to_csv(ws / "submission.csv", index=False)
    assert set(test.Id) == set(answers.Id)
    return ws


def write(ws: Path, text: str) -> Path:
    path = ws / "submission.csv"
    path.write_text(text)
    return path


# -- valid submissions -------------------------------------------------------------------


def test_shuffled_rows_score_the_same(tmp_path, baseline_ws, house_price, house_price_env):
    scorer = Scorer(house_price, house_price_env)
    original = scorer.score(baseline_ws)
    assert original.ok and 0.9 < original.metrics["r2"] < 1.0
    frame = pd.read_csv(baseline_ws / "submission.csv")
    frame = frame.sample(frac=1.0, random_state=1)[["SalePrice", "Id"]]  # rows and columns
    shuffled = tmp_path / "shuffled.csv"
    frame.to_csv(shuffled, index=False)
    assert scorer.score_file(shuffled).metrics == original.metrics


def test_perfect_submission_scores_perfectly(tmp_path, house_price, house_price_env):
    shutil.copy(house_price.dir / "scoring/answers.csv", tmp_path / "submission.csv")
    score = Scorer(house_price, house_price_env).score(tmp_path)
    assert score.metrics == {"r2": 1.0, "rmse": 0.0}


# -- invalid submissions: one clear line each ------------------------------------------------

HEADER = "Id,SalePrice\n"


def _rows(house_price) -> list[str]:
    return (house_price.dir / "scoring/answers.csv").read_text().splitlines()[1:]


INVALID = {
    "missing file": (
        None,
        "submission.csv not found: write submission.csv with columns Id,SalePrice",
    ),
    "empty file": (lambda rows: "", "submission.csv is empty"),
    "wrong columns": (
        lambda rows: "Id,Price\n" + "\n".join(rows),
        "submission.csv has columns Id,Price; expected exactly Id,SalePrice (missing SalePrice; unexpected Price)",
    ),
    "extra column": (
        lambda rows: "Id,SalePrice,Note\n" + "\n".join(r + ",x" for r in rows),
        "(unexpected Note)",
    ),
    "wrong row count": (
        lambda rows: HEADER + "\n".join(rows[:-1]),
        "submission.csv has 291 rows; expected 292, one per Id of data/test.csv",
    ),
    "ids that don't match": (
        lambda rows: HEADER + "\n".join(["99999,100000", *rows[1:]]),
        "submission.csv Ids do not match data/test.csv: 1 missing (e.g. 893), 1 not in data/test.csv (e.g. 99999)",
    ),
    "repeated id": (
        lambda rows: HEADER + "\n".join([rows[1], *rows[1:]]),
        "submission.csv repeats Id 1106: give each Id once",
    ),
    "NaN value": (
        lambda rows: HEADER + "\n".join(["893,nan", *rows[1:]]),
        "submission.csv column SalePrice has 1 missing (NaN or empty) values, e.g. at Id 893",
    ),
    "empty value": (
        lambda rows: HEADER + "\n".join(["893,", *rows[1:]]),
        "column SalePrice has 1 missing (NaN or empty) values",
    ),
    "infinite value": (
        lambda rows: HEADER + "\n".join([*rows[:-1], rows[-1].split(",")[0] + ",inf"]),
        "submission.csv column SalePrice has 1 infinite values",
    ),
    "text instead of a number": (
        lambda rows: HEADER + "\n".join(["893,cheap", *rows[1:]]),
        "submission.csv column SalePrice must hold numbers; got 'cheap' at Id 893",
    ),
    "fractional id": (
        lambda rows: HEADER + "\n".join(["893.5,100000", *rows[1:]]),
        "submission.csv column Id must hold whole numbers; got '893.5'",
    ),
    "not a csv": (
        lambda rows: '"unterminated\n' + "\x00garbage" * 10,
        "submission.csv is not a readable CSV file (",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_submission_gets_its_own_clear_message(
    case, tmp_path, house_price, house_price_env
):
    make, expected = INVALID[case]
    if make is not None:
        write(tmp_path, make(_rows(house_price)))
    score = Scorer(house_price, house_price_env).score(tmp_path)
    assert not score.ok and score.metrics is None
    assert "\n" not in score.error and len(score.error) < 300
    assert expected in score.error, score.error


def test_titanic_outcome_must_be_0_or_1(tmp_path, titanic, titanic_env):
    rows = (titanic.dir / "scoring/answers.csv").read_text().splitlines()
    write(tmp_path, "\n".join([rows[0], "892,2", *rows[2:]]))
    score = Scorer(titanic, titanic_env).score(tmp_path)
    assert (
        score.error == "submission.csv column Survived must be 0 or 1; got '2' at PassengerId 892"
    )
    write(tmp_path, "\n".join(rows))
    assert Scorer(titanic, titanic_env).score(tmp_path).metrics == {"accuracy": 1.0}


def test_symlinked_submission_is_refused_not_followed(tmp_path, house_price, house_price_env):
    (tmp_path / "submission.csv").symlink_to(house_price.dir / "scoring" / "answers.csv")
    score = Scorer(house_price, house_price_env).score(tmp_path)
    assert not score.ok and "outside the workspace" in score.error


# -- what the scorer sees ------------------------------------------------------------------

# A scorer that reports, as its error line, what its sandbox shows it.
PROBE = """
import json, os
from harness_scoring import run, task_workspace, SubmissionError

def score(submission_dir):
    path = task_workspace()
    import marker
    seen = {"env": os.environ["HARNESS_TASK_WORKSPACE"], "path": str(path),
            "files": sorted(os.listdir(path)), "marker": marker.VALUE,
            "marker_file": marker.__file__, "submission": sorted(os.listdir(submission_dir))}
    try:
        (path / "written.txt").write_text("x")
        seen["write"] = "written"
    except OSError as err:
        seen["write"] = type(err).__name__
    raise SubmissionError(json.dumps(seen))

run(score)
"""


def test_scorer_sees_the_pristine_task_workspace_read_only(tmp_path, house_price, house_price_env):
    """Scorers share code with the agent through the task's own workspace/, never the
    agent's copy (which it may have edited) and never writable."""
    from harness.task.spec import Task

    copy = tmp_path / "task"
    shutil.copytree(house_price.dir, copy)
    (copy / "workspace" / "marker.py").write_text("VALUE = 7\n")
    (copy / "scoring" / "score.py").write_text(PROBE)
    task = Task.load(copy)
    ws = tmp_path / "ws"
    task.make_workspace(ws)
    (ws / "marker.py").chmod(0o644)
    (ws / "marker.py").write_text("VALUE = 666\n")  # the agent's edit: never used
    (ws / "extra.py").write_text("VALUE = 666\n")
    (ws / "submission.csv").write_text("Id,SalePrice\n")
    score = Scorer(task, house_price_env).score(ws)
    seen = json.loads(score.error)
    assert seen["env"] == seen["path"] == "/task_workspace"
    assert seen["files"] == sorted(p.name for p in (copy / "workspace").iterdir())
    assert seen["marker"] == 7 and seen["marker_file"] == "/task_workspace/marker.py"
    assert seen["submission"] == ["submission.csv"]
    assert seen["write"] == "OSError"  # read-only file system
    assert not (copy / "workspace" / "written.txt").exists()


# -- the agent cannot find the answers -------------------------------------------------------

# Runs inside the agent's sandbox. Needles arrive hex-encoded so the scanner itself
# does not contain them. Content is searched in every readable regular file outside
# /usr (the host's system install: 5 GB the harness never writes to, checked by name).
SCAN = r"""
import json, os, re, sys
needles = [bytes.fromhex(h) for h in sys.argv[1].split(",")]
hits, scanned, names = [], 0, []
suspicious = re.compile(r"answers|ground_truth|gender_submission|score\.py$")
for top in sorted(os.listdir("/")):
    root = "/" + top
    if top in ("proc", "sys", "dev") or os.path.islink(root):
        continue
    for directory, dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            if suspicious.search(name) and "site-packages" not in path and "/lib/python" not in path:
                names.append(path)
            if top == "usr" or os.path.islink(path):
                continue
            try:
                if not os.path.isfile(path) or os.path.getsize(path) > 512 << 20:
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            scanned += 1
            hits += [path for needle in needles if needle in data]
print(json.dumps({"hits": sorted(set(hits)), "names": names, "scanned": scanned}))
"""


def _needles(task) -> list[bytes]:
    answers = (task.dir / "scoring/answers.csv").read_text().splitlines()
    test = (task.dir / "data/test.csv").read_text().splitlines()
    rng = random.Random(4)
    picks = rng.sample(range(1, len(answers)), 12)
    needles = ["\n".join(answers[i : i + 4]) for i in (1, 100, len(answers) - 4)]
    key = {a.split(",")[0]: a.split(",")[1] for a in answers[1:]}
    for i in picks:
        row = test[i]
        ident, rest = row.split(",", 1)
        if task.id == "house_price":  # the original row, with its price
            needles.append(f"{row},{key[ident]}")
        else:  # the train.csv layout: PassengerId,Survived,...
            needles.append(f"{ident},{key[ident]},{rest}")
    return [n.encode() for n in needles]


@pytest.mark.parametrize("which", ["house_price", "titanic"])
def test_agent_sandbox_cannot_find_the_answers(which, request, tmp_path):
    task = request.getfixturevalue(which)
    env = request.getfixturevalue(f"{which}_env")
    ws = tmp_path / "ws"
    task.make_workspace(ws)
    needles = _needles(task)
    # the scanner finds a planted copy: the search works
    (ws / "notes").mkdir()
    (ws / "notes" / "planted.txt").write_bytes(b"..." + needles[-1] + b"...")
    with Sandbox(ws, binds=env.binds(), env=env.env(), readonly=task.readonly) as sb:
        sb.files.write_text("scan.py", SCAN)
        result = sb.run(f"python scan.py {','.join(n.hex() for n in needles)}", timeout=240)
        assert result.exit_code == 0, result.output
        found = json.loads(result.output.strip().splitlines()[-1])
        assert sb.run(f"ls {task.dir}", timeout=10).exit_code != 0  # the task dir is not there
    assert found["hits"] == ["/home/agent/workspace/notes/planted.txt"]
    assert found["names"] == []
    assert found["scanned"] > 1000


# -- baselines reproduce, end to end ----------------------------------------------------------


def test_task_check_reproduces_the_published_house_price_baseline(house_price):
    report = check_task(house_price)
    assert report.ok, report.mismatches
    assert round(report.score.metrics["r2"], 7) == 0.8799891
    assert round(report.score.metrics["rmse"], 4) == 30340.1119  # 30340.11185 published as .1118
    assert abs(report.score.metrics["rmse"] - 30340.1118) < 1e-3


def test_task_check_fails_when_the_recorded_baseline_is_off(tmp_path, house_price):
    copy = tmp_path / "hp"
    shutil.copytree(house_price.dir, copy)
    spec = copy / "task.yaml"
    spec.write_text(spec.read_text().replace("  r2: 0.8799891\n  rmse", "  r2: 0.87\n  rmse", 1))
    from harness.cli import main

    result = CliRunner().invoke(main, ["task", "check", str(copy)])
    assert result.exit_code != 0
    assert "baseline's r2 differ from task.yaml beyond the tolerance" in result.output


def test_titanic_check_and_score_commands(tmp_path, titanic):
    from harness.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["task", "check", "titanic"])
    assert result.exit_code == 0, result.output
    assert "accuracy: 0.937799" in result.output and "titanic: ok" in result.output
    listing = runner.invoke(main, ["tasks"])
    assert "house_price" in listing.output and "r2 (maximize)" in listing.output
    shutil.copy(titanic.dir / "scoring/answers.csv", tmp_path / "mine.csv")
    scored = runner.invoke(main, ["score", "titanic", str(tmp_path / "mine.csv")])
    assert scored.exit_code == 0 and json.loads(scored.output.strip().splitlines()[-1]) == {
        "metrics": {"accuracy": 1.0}
    }
    (tmp_path / "bad.csv").write_text("PassengerId,Survived\n1,0\n")
    scored = runner.invoke(main, ["score", "titanic", str(tmp_path / "bad.csv")])
    assert scored.exit_code == 1 and "has 1 rows; expected 418" in scored.output


def test_score_is_plain_data():
    assert Score({"r2": 0.5}).ok and not Score(None, "bad").ok
    assert Score(None, "bad").to_json() == {"error": "bad"}
    assert os.environ["HARNESS_CACHE_DIR"]
