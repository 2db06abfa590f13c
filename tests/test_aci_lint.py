"""The mlgym profile's edit check: flake8 with MLGym's codes, new errors only, on real files."""

from __future__ import annotations

import pytest

from aci import Action, ToolContext, ToolRegistry, execute
from aci.lint import MLGYM_SELECT, Flake8, introduced
from harness.sandbox import Sandbox


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("lint-ws")) as sandbox:
        yield sandbox


@pytest.fixture
def act(box):
    registry = ToolRegistry.load(entry_points=False)
    ctx = ToolContext(files=box.files, run=box.run, command_timeout=10, window=1000, lint=Flake8(),
                      cwd=lambda: box.cwd)
    return lambda command: execute(registry, Action(command), ctx).observation


def test_the_codes_are_mlgyms():
    assert MLGYM_SELECT.split(",") == ["F821", "F822", "F831", "E111", "E112", "E113", "E999", "E902"]


def test_flake8_reports_syntax_and_indentation_as_mlgym_shows_them():
    lint = Flake8()
    [syntax] = lint("a.py", "def f(:\n    pass\n")
    assert syntax.startswith("a.py:1:") and syntax.endswith(": E999 SyntaxError: invalid syntax")
    assert lint("a.py", "if True:\n   x = 1\n") == ["a.py:2:4: E111 indentation is not a multiple of 4"]
    assert lint("a.py", "import os\nx = 1\n") == []  # unused imports are not MLGym's business


def test_an_edit_adding_bad_indentation_is_refused_and_the_file_kept(box, act):
    (box.workspace / "i.py").write_text("def f():\n    return 1\n")
    act("open i.py")
    out = act("edit 2:2\n   return 2\nend_of_edit")
    assert "ERRORS:\n- E111 indentation is not a multiple of 4\n" in out and "NOT been applied" in out
    assert (box.workspace / "i.py").read_text() == "def f():\n    return 1\n"


def test_an_old_error_below_the_edit_is_forgiven_at_its_shifted_line(box, act):
    (box.workspace / "s.py").write_text("a = 1\nb = 2\nprint(missing)\n")
    act("open s.py")
    out = act("edit 1:1\nimport sys\n\na = len(sys.argv)\nend_of_edit")  # 1 line -> 3: the F821 moves to 5
    assert "File updated" in out
    assert (box.workspace / "s.py").read_text() == "import sys\n\na = len(sys.argv)\nb = 2\nprint(missing)\n"
    out = act("insert 0\nimport os\nend_of_insert")
    assert "File updated" in out


def test_an_old_error_inside_the_replaced_lines_must_be_fixed(box, act):
    (box.workspace / "w.py").write_text("a = 1\nprint(missing)\n")
    act("open w.py")
    out = act("edit 2:2\nprint(missing, a)\nend_of_edit")
    assert "- F821 undefined name 'missing'" in out and "NOT been applied" in out
    assert "File updated" in act("edit 2:2\nprint(a)\nend_of_edit")


def test_introduced_compares_positions_not_just_messages():
    before = ["f.py:3:7: F821 undefined name 'x'"]
    # the same message at a new place is new: a second use of x was added above the old one
    after = ["f.py:2:7: F821 undefined name 'x'", "f.py:4:7: F821 undefined name 'x'"]
    assert introduced(before, after, 2, 1, 1) == ["F821 undefined name 'x'"]
    assert introduced(before, after[1:], 2, 1, 1) == []
