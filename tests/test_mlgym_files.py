"""Rebuilding the workspace files an MLGym run saw from its trajectory's observations
(harness.run.mlgym_files), on trajectories written here in MLGym's shape."""

from __future__ import annotations

from harness.run.mlgym_files import rebuild, whole_file

W = "/home/agent/workspace"


def _view(path: str, lines: list[str], first: int = 1, total: int | None = None) -> str:
    """The viewer's output as MLGym records it."""
    total = len(lines) if total is None else total
    out = [f"[File: {W}/{path} ({total} lines total)]"]
    if first > 1:
        out.append(f"({first - 1} more lines above)")
    out += [f"{n}:{text}" for n, text in enumerate(lines, first)]
    if first - 1 + len(lines) < total:
        out.append(f"({total - first + 1 - len(lines)} more lines below)")
    return "\n".join(out)


def _step(action: str, observation: str = "") -> dict:
    return {"action": action + "\n", "observation": observation, "thought": ""}


def test_a_whole_file_is_read_back_with_its_trailing_spaces_and_blank_lines():
    shown = _view("strategy.py", ["import random", "", "def f():  ", "    return 0"])
    assert whole_file(shown) == (f"{W}/strategy.py", "import random\n\ndef f():  \n    return 0\n")
    assert whole_file(_view("big.py", ["a", "b"], total=5)) is None  # (3 more lines below)
    assert whole_file(_view("big.py", ["c", "d"], first=3, total=4)) is None  # (2 more lines above)
    assert whole_file("File strategy.py not found") is None


def test_files_shown_whole_before_any_change_are_rebuilt_and_the_rest_named():
    steps = [
        _step("ls", "evaluate.py*\nstrategy.py\ntarget.py"),
        _step('open "strategy.py"', _view("strategy.py", ["def f():", "    return 0"])),
        _step("open evaluate.py", _view("evaluate.py", ["x = 1"] * 3, total=1200)),  # in part
        _step("edit 1:1\nbroken(\nend_of_edit",
              "Your proposed edit has introduced new syntax error(s). ..."),  # not applied
        _step("open data/train.csv", _view("data/train.csv", ["a,b", "1,2"])),
        _step("python train.py", "done"),  # may write anything
        _step("open target.py", _view("target.py", ["def g():", "    return 1"])),
    ]
    rebuilt = rebuild(steps)
    assert rebuilt.files == {"strategy.py": "def f():\n    return 0\n"}
    assert rebuilt.steps == {"strategy.py": 2} and rebuilt.stopped_at == 6
    assert rebuilt.not_rebuilt["evaluate.py"].startswith("shown only in part at step 3")
    assert rebuilt.not_rebuilt["data/train.csv"] == "data are the task's"
    assert "first shown whole at step 7, after step 6 (python)" in rebuilt.not_rebuilt["target.py"]
    summary = rebuilt.summary()
    assert summary.startswith("rebuilt from the recording: strategy.py (step 2, 2 lines); not rebuilt: ")


def test_a_file_shown_only_after_its_own_edit_or_creation_is_not_rebuilt():
    steps = [
        _step("open a.py", _view("a.py", ["x = 1"])),
        _step("edit 1:1\nx = 2\nend_of_edit", _view("a.py", ["x = 2"]) + "\nFile updated."),
        _step("open a.py", _view("a.py", ["x = 2"])),  # the edit's result, not the starter
        _step("create b.py", _view("b.py", [""])),
        _step("open b.py", _view("b.py", [""])),
        _step("open c.py", _view("c.py", ["y = 3"])),
        _step("cat c.py > d.py", ""),  # a redirection may write files
    ]
    rebuilt = rebuild(steps)
    assert rebuilt.files == {"a.py": "x = 1\n", "c.py": "y = 3\n"}
    assert rebuilt.stopped_at == 7
