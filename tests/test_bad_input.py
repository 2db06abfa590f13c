"""Property-based: every bad input gets a result or one clear error, never a traceback or a hang.

Inputs: task.yaml files, model replies, ACI commands (on real files in a real sandbox),
score tables for `harness profile`, and trajectories for `replay` and `import`.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aci import Action, FormatError, ToolContext, ToolRegistry, execute, parse_reply
from harness.cli import main as cli
from harness.errors import HarnessError
from harness.models.replay import load_actions
from harness.run.trajectory import import_mlgym, read_records
from harness.sandbox import Sandbox
from harness.task.spec import Task

REPO = Path(__file__).resolve().parent.parent
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)


def one_clear_line(text: str) -> bool:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return len(lines) == 1 and "Traceback" not in text


# -- task.yaml ---------------------------------------------------------------------------

VALID = yaml.safe_load((REPO / "tasks" / "house_price" / "task.yaml").read_text())


@FAST
@given(key=st.sampled_from(sorted(VALID)), value=values, drop=st.booleans())
def test_a_mutated_task_yaml_loads_or_says_what_is_wrong(tmp_path_factory, key, value, drop):
    task_dir = tmp_path_factory.mktemp("task")
    data = dict(VALID)
    if drop:
        data.pop(key)
    else:
        data[key] = value
    (task_dir / "task.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        Task.load(task_dir)
    except HarnessError as err:
        assert one_clear_line(str(err)) and str(task_dir.name) in str(err)


@FAST
@given(text=st.text(max_size=300))
def test_any_task_yaml_text_loads_or_says_what_is_wrong(tmp_path_factory, text):
    task_dir = tmp_path_factory.mktemp("task")
    (task_dir / "task.yaml").write_text(text)
    with pytest.raises(HarnessError) as err:
        Task.load(task_dir)
    assert one_clear_line(str(err.value))


# -- model replies ------------------------------------------------------------------------

reply_parts = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(
    ["```", "```bash", "```\n", "DISCUSSION", "edit 1:2", "end_of_edit", "submit", "\n", "ls -la", "~~~"])),
    max_size=12)


@settings(max_examples=300, deadline=None)
@given(parts=reply_parts)
def test_any_reply_parses_to_one_action_or_a_format_error(parts):
    registry = ToolRegistry.load(entry_points=False)
    try:
        action = parse_reply("".join(parts), None, registry)
    except FormatError as err:
        assert str(err).strip()
    else:
        assert isinstance(action, Action) and action.command.strip()


@FAST
@given(calls=st.lists(values, max_size=3))
def test_any_native_tool_calls_parse_or_fail_clearly(calls):
    registry = ToolRegistry.load(entry_points=False)
    try:
        parse_reply("", calls, registry)
    except FormatError as err:
        assert str(err).strip()


# -- ACI commands --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aci_ctx(tmp_path_factory):
    workspace = tmp_path_factory.mktemp("fuzz-ws")
    (workspace / "notes.txt").write_text("".join(f"line {i}\n" for i in range(40)))
    (workspace / "evaluate.py").write_text("print('x')\n")
    with Sandbox(workspace, readonly=["evaluate.py"]) as box:
        ctx = ToolContext(files=box.files, run=box.run, command_timeout=5, window=10, cwd=lambda: box.cwd)
        yield ToolRegistry.load(entry_points=False, exclude=["memory_write", "memory_read", "validate", "submit"]), ctx


tool_names = ["open", "goto", "scroll_down", "scroll_up", "create", "edit", "insert", "search_file",
              "search_dir", "find_file"]
arguments = st.lists(st.one_of(st.text(alphabet=string.printable, max_size=20),
                               st.sampled_from(["notes.txt", "evaluate.py", "../..", "/etc/passwd", "1:3", "-5",
                                                "99999999999999999999", '"', "'", "\\", "*", "~"])), max_size=3)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(tool_names), args=arguments, body=st.one_of(st.none(), st.text(max_size=60)))
def test_any_tool_command_gets_an_observation_not_a_crash(aci_ctx, name, args, body):
    registry, ctx = aci_ctx
    command = " ".join([name, *args])
    if body is not None and name in ("edit", "insert"):
        command += "\n" + body + f"\nend_of_{name}"
    outcome = execute(registry, Action(command), ctx)
    assert isinstance(outcome.observation, str)
    assert "failed: " not in outcome.observation, outcome.observation  # the catch-all for tool bugs
    assert "Traceback" not in outcome.observation


# -- score tables for `harness profile` ----------------------------------------------------

cells = st.one_of(st.just(""), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.integers(-100, 100).map(str), st.text(alphabet="abc-.,\"", max_size=5))


@FAST
@given(header=st.lists(st.sampled_from(["Task", "baseline", "m1", "m2", "m1", "", "x,y"]), max_size=5),
       rows=st.lists(st.lists(cells, max_size=5), max_size=4))
def test_any_score_table_gives_aups_or_one_error_line(tmp_path_factory, header, rows):
    path = tmp_path_factory.mktemp("tables") / "best.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    outcome = CliRunner().invoke(cli, ["profile", str(path)])
    if outcome.exit_code == 0:
        assert outcome.output.startswith("Model,Best AUP,Last AUP")
    else:
        assert outcome.exit_code == 2 and one_clear_line(outcome.output), outcome.output
        assert outcome.output.startswith("error: ")


# -- trajectories for replay and import ----------------------------------------------------


@FAST
@given(data=values)
def test_any_json_as_an_mlgym_traj_imports_or_fails_clearly(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("traj")
    path = folder / "run.traj"
    path.write_text(json.dumps(data))
    try:
        steps = import_mlgym(path, folder / "out.jsonl")
    except HarnessError as err:
        assert one_clear_line(str(err))
    else:
        assert len(list(read_records(folder / "out.jsonl"))) >= 2 and steps >= 0
    try:
        load_actions(path)
    except HarnessError as err:
        assert one_clear_line(str(err))


@FAST
@given(lines=st.lists(st.one_of(values.map(json.dumps), st.text(max_size=40)), max_size=6))
def test_any_jsonl_as_our_trajectory_replays_or_fails_clearly(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("jsonl") / "trajectory.jsonl"
    path.write_text("\n".join(lines))
    for read in (lambda: list(read_records(path)), lambda: load_actions(path)):
        try:
            read()
        except HarnessError as err:
            assert one_clear_line(str(err))
