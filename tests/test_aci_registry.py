"""Custom tools: the @tool decorator, the registry and its three sources."""

from __future__ import annotations

import enum
import json
import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Literal

import pytest

from aci import (
    Action,
    ToolClashError,
    ToolContext,
    ToolDefinitionError,
    ToolError,
    ToolRegistry,
    execute,
    tool,
)
from harness.sandbox.files import WorkspaceFiles

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures_tools"
REPO = HERE.parent
READMES = [REPO / "aci" / "README_TOOLS.md", REPO / "README.md"]

BUILTINS = ["open", "goto", "scroll_up", "scroll_down", "create", "edit", "insert",
            "search_dir", "search_file", "find_file", "validate", "submit",
            "memory_write", "memory_read"]


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(files=WorkspaceFiles(tmp_path))


def test_builtins_have_mlgym_command_syntax():
    registry = ToolRegistry.load(entry_points=False)
    assert registry.names() == BUILTINS
    usages = {t.name: t.usage() for t in registry}
    assert usages["open"] == 'open "<path>" [<line_number>]'
    assert usages["edit"] == "edit <start_line>:<end_line>\n<replacement_text>\nend_of_edit"
    assert usages["insert"] == "insert <line_number>\n<text_to_add>\nend_of_insert"
    assert usages["search_dir"] == "search_dir <search_term> [<dir>]"
    assert usages["search_file"] == "search_file <search_term> [<file>]"
    assert usages["find_file"] == "find_file <file_name> [<dir>]"
    assert usages["memory_write"] == "memory_write <content_str>"
    assert usages["submit"] == "submit"


def test_signature_is_the_parser_and_docstring_the_documentation(ctx):
    @tool
    def repeat(ctx, word: str, times: int = 2, shout: bool = False) -> str:
        """Repeat a word.

        Args:
            word: the word to repeat
            times: how often
        """
        text = " ".join([word] * times)
        return text.upper() if shout else text

    registry = ToolRegistry([repeat])
    run = lambda command: execute(registry, Action(command), ctx).observation  # noqa: E731
    assert run('repeat "hello world" 3') == "hello world hello world hello world"
    assert run("repeat hi") == "hi hi"
    assert run("repeat hi 1 yes") == "HI"
    assert "<times> must be an integer, got 'x'" in run("repeat hi x")
    assert "Usage: repeat <word> [<times>] [<shout>]" in run("repeat hi x")
    assert "missing argument <word>" in run("repeat")
    assert "takes at most 3" in run("repeat a 1 no extra")
    doc = registry.docs()
    assert "docstring: Repeat a word." in doc
    assert "- word (string) [required]: the word to repeat" in doc
    assert "- times (integer) [optional]: how often" in doc


def test_tool_schemas_for_function_calling():
    registry = ToolRegistry.load(entry_points=False)
    schemas = {s["function"]["name"]: s["function"] for s in registry.tool_schemas()}
    assert set(schemas) == set(BUILTINS) | {"bash"}
    edit = schemas["edit"]["parameters"]
    assert edit["required"] == ["start_line", "end_line", "replacement_text"]
    assert edit["properties"]["start_line"]["type"] == "integer"
    assert schemas["open"]["parameters"]["required"] == ["path"]
    assert schemas["bash"]["parameters"]["required"] == ["command"]


def test_tool_definition_mistakes_are_explained():
    with pytest.raises(ToolDefinitionError, match="no docstring"):
        @tool
        def undocumented(ctx) -> str:
            return "x"
    with pytest.raises(ToolDefinitionError, match="first parameter"):
        @tool
        def no_ctx() -> str:
            """Nothing."""


def test_custom_tool_from_an_entry_point(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(FIXTURES))
    registry = ToolRegistry.load()
    assert "word_count" in registry
    assert "harness-demo-tools" in registry["word_count"].source
    (tmp_path / "t.txt").write_text("one two three\n")
    ctx = ToolContext(files=WorkspaceFiles(tmp_path))
    assert execute(registry, Action("word_count t.txt"), ctx).observation == "3 words"
    assert registry.names()[: len(BUILTINS)] == BUILTINS


def test_entry_points_can_be_turned_off(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))
    assert "word_count" not in ToolRegistry.load(entry_points=False)


def test_custom_tool_from_a_file(tmp_path):
    source = tmp_path / "extra tools.py"
    source.write_text(
        "from aci import tool\n\n"
        "@tool\n"
        "def shout(ctx, text: str) -> str:\n"
        '    """Upper-case the text."""\n'
        "    return text.upper()\n")
    registry = ToolRegistry.load([source], entry_points=False)
    assert registry["shout"].source == f"file {source}"
    ctx = ToolContext(files=WorkspaceFiles(tmp_path))
    assert execute(registry, Action('shout "hi there"'), ctx).observation == "HI THERE"


def test_name_clash_is_an_error_naming_both_sources(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(FIXTURES))
    clash = tmp_path / "clash.py"
    clash.write_text(
        "from aci import tool\n\n"
        "@tool\n"
        "def word_count(ctx, path: str) -> str:\n"
        '    """Count differently."""\n'
        "    return '0'\n")
    with pytest.raises(ToolClashError) as err:
        ToolRegistry.load([clash])
    message = str(err.value)
    assert "'word_count'" in message
    assert "entry point demo = harness_demo_tools of package harness-demo-tools" in message
    assert f"file {clash}" in message

    builtin_clash = tmp_path / "open_clash.py"
    builtin_clash.write_text(
        "from aci import tool\n\n"
        "@tool(name='open')\n"
        "def my_open(ctx, path: str) -> str:\n"
        '    """Open differently."""\n'
        "    return ''\n")
    with pytest.raises(ToolClashError, match=r"built-in \(aci.tools\).*open_clash.py"):
        ToolRegistry.load([builtin_clash], entry_points=False)


def test_bad_tool_files_are_explained(tmp_path):
    with pytest.raises(ToolDefinitionError, match="no such file"):
        ToolRegistry.load([tmp_path / "missing.py"], entry_points=False)
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ToolDefinitionError, match="defines no @tool functions"):
        ToolRegistry.load([empty], entry_points=False)
    broken = tmp_path / "broken.py"
    broken.write_text("import does_not_exist_anywhere\n")
    with pytest.raises(ToolDefinitionError, match="importing it failed: ModuleNotFoundError"):
        ToolRegistry.load([broken], entry_points=False)


def test_builtins_can_be_left_out():
    registry = ToolRegistry.load(entry_points=False, exclude=["memory_write", "memory_read"])
    assert "memory_write" not in registry and "open" in registry


def test_a_crashing_tool_becomes_an_observation(ctx):
    @tool
    def crash(ctx) -> str:
        """Always fails."""
        raise KeyError("boom")

    outcome = execute(ToolRegistry([crash]), Action("crash"), ctx)
    assert outcome.observation == "Error: the tool crash failed: KeyError: 'boom'"
    assert outcome.exit_code is None


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_readme_example_works_as_a_tools_file(tmp_path, readme):
    code = re.search(r"```python\n(# my_tools.py\n.*?)```", readme.read_text(), re.DOTALL).group(1)
    module = tmp_path / "my_tools.py"
    module.write_text(code)
    registry = ToolRegistry.load([module], entry_points=False)
    workspace = tmp_path / "ws"
    (workspace / "data").mkdir(parents=True)
    (workspace / "data" / "train set.csv").write_text("city,price\nParis,3\nRome,2\nParis,5\n")
    ctx = ToolContext(files=WorkspaceFiles(workspace))
    run = lambda command: execute(registry, Action(command), ctx).observation  # noqa: E731
    assert run('count_rows "data/train set.csv"') == "data/train set.csv: 3 rows"
    assert run('count_rows "data/train set.csv" city') == (
        "data/train set.csv: 3 rows, 2 distinct values of city")
    assert run('count_rows "data/train set.csv" town') == (
        "data/train set.csv has no column 'town'; its columns: city, price")
    assert "count_rows:" in registry.docs() and "the CSV file" in registry.docs()
    assert "outside the workspace" in run("count_rows ../../etc/passwd")


# -- aci stands on its own ------------------------------------------------------------


def test_no_module_of_aci_imports_harness():
    """Every module of aci, imported in a fresh interpreter, loads no harness module."""
    script = textwrap.dedent("""
        import importlib, pkgutil, sys
        import aci
        names = [m.name for m in pkgutil.walk_packages(aci.__path__, "aci.")]
        for name in names:
            importlib.import_module(name)
        leaked = sorted(m for m in sys.modules if m == "harness" or m.startswith("harness."))
        print(len(names), leaked)
    """)
    count, leaked = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                   text=True, check=True).stdout.split(maxsplit=1)
    assert int(count) >= 15 and leaked.strip() == "[]"


def test_a_custom_tool_needs_nothing_but_aci():
    """A tool module that imports only aci runs with the built-ins on fakes of the
    protocols (no WorkspaceFiles), and no harness module is loaded."""
    out = subprocess.run([sys.executable, str(FIXTURES / "standalone_tool.py")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["ONE | TWO", "lines must be at least 1",
                   'Found 1 matches for "Two" in /home/agent/workspace/a.txt:', "[]"]


# -- a tool that fails ------------------------------------------------------------------


def test_tool_error_is_the_observation_word_for_word(ctx, caplog):
    @tool
    def pick(ctx, column: str) -> str:
        """Pick a column."""
        raise ToolError(f"no column {column!r}; the columns are a, b")

    with caplog.at_level(logging.DEBUG):
        outcome = execute(ToolRegistry([pick]), Action("pick z"), ctx)
    assert outcome.observation == "no column 'z'; the columns are a, b"
    assert outcome.error_detail is None and outcome.exit_code is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_crashing_tool_shows_one_line_without_host_paths(ctx, capfd, caplog):
    """Before: a traceback on the console and host paths in the observation."""
    here = Path(__file__).resolve()

    @tool
    def load(ctx, name: str) -> str:
        """Load a thing."""
        raise RuntimeError(f"cannot parse {here}\nnor /etc/harness/{name}.toml, "
                           f"nor {ctx.files.root}/{name}, only /home/agent/workspace/{name}")

    @tool
    def read_host(ctx) -> str:
        """Read a host file, wrongly."""
        with open("/nonexistent-dir/config.yaml") as handle:
            return handle.read()

    registry = ToolRegistry([load, read_host])
    with caplog.at_level(logging.DEBUG):
        outcome = execute(registry, Action("load cfg"), ctx)
        missing = execute(registry, Action("read_host"), ctx)
    assert outcome.observation == (
        "Error: the tool load failed: RuntimeError: cannot parse <harness>/tests/"
        "test_aci_registry.py nor <host path>, nor /home/agent/workspace/cfg, "
        "only /home/agent/workspace/cfg")
    assert missing.observation == "Error: [Errno 2] No such file or directory: '<host path>'"
    # the operator's console: one line, no traceback
    assert "Traceback" not in capfd.readouterr().err
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "\n" not in warnings[0].getMessage() and "tool load failed" in warnings[0].getMessage()
    # the trajectory: the whole traceback
    assert outcome.error_detail.startswith("Traceback (most recent call last):")
    assert "RuntimeError: cannot parse" in outcome.error_detail


def test_a_crashing_tool_prints_one_line_on_an_unconfigured_console(tmp_path):
    """A plain script with no logging set up: one line on stderr, not a traceback."""
    script = textwrap.dedent(f"""
        from aci import Action, ToolContext, ToolRegistry, execute, tool
        from harness.sandbox.files import WorkspaceFiles

        @tool
        def boom(ctx) -> str:
            'Fail.'
            return {{}}["missing"]

        ctx = ToolContext(files=WorkspaceFiles({str(tmp_path)!r}))
        print(execute(ToolRegistry([boom]), Action("boom"), ctx).observation)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert proc.stdout == "Error: the tool boom failed: KeyError: 'missing'\n"
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


# -- argument types ---------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@tool
def paint(ctx, columns: list[str], colour: Colour, mode: Literal["fill", "line"] = "fill",
          sizes: list[int] | None = None, level: Level = Level.LOW, ratio: float = 1.0) -> str:
    """Paint columns.

    Args:
        columns: the columns to paint
        colour: the colour
        mode: how to paint
    """
    return json.dumps([columns, colour.name, mode, sizes, level.name, ratio])


def test_list_literal_and_enum_arguments_parse_from_a_command_line(ctx):
    registry = ToolRegistry([paint])
    run = lambda command: execute(registry, Action(command), ctx).observation  # noqa: E731
    assert json.loads(run("paint a,b red")) == [["a", "b"], "RED", "fill", None, "LOW", 1.0]
    assert json.loads(run("paint x GREEN line 3,4 2 0.5")) == [
        ["x"], "GREEN", "line", [3, 4], "HIGH", 0.5]
    assert json.loads(run("""paint '["a b", "c,d"]' red line '[1]'""")) == [
        ["a b", "c,d"], "RED", "line", [1], "LOW", 1.0]
    assert run("paint a blue").startswith(
        "paint: <colour> must be one of 'red', 'green', got 'blue'.\nUsage: paint <columns>")
    assert "<mode> must be one of 'fill', 'line', got 'dots'" in run("paint a red dots")
    assert ("<sizes> must be a list of integers (comma-separated, or a JSON array), "
            "got '1,x'") in run("paint a red fill 1,x")
    assert "<level> must be one of 1, 2, got '3'" in run("paint a red fill 1 3")


def test_list_literal_and_enum_arguments_from_a_tool_call(ctx):
    registry = ToolRegistry([paint])

    def call(**arguments):
        return execute(registry, Action("", tool_name="paint", arguments=arguments),
                       ctx).observation

    assert json.loads(call(columns=["a"], colour="green", sizes=[1, "2"], level=2)) == [
        ["a"], "GREEN", "fill", [1, 2], "HIGH", 1.0]
    assert "<columns> must be a list of strings" in call(columns=[["nested"]], colour="red")


def test_list_literal_and_enum_arguments_appear_in_the_schema_and_docs():
    schema = ToolRegistry([paint]).tool_schemas(shell=False)[0]["function"]["parameters"]
    props = schema["properties"]
    assert schema["required"] == ["columns", "colour"]
    assert props["columns"] == {"type": "array", "items": {"type": "string"},
                                "description": "the columns to paint"}
    assert props["colour"] == {"type": "string", "enum": ["red", "green"],
                               "description": "the colour"}
    assert props["mode"] == {"type": "string", "enum": ["fill", "line"], "default": "fill",
                             "description": "how to paint"}
    assert props["sizes"] == {"type": "array", "items": {"type": "integer"}}
    assert props["level"] == {"type": "integer", "enum": [1, 2], "default": 1}
    assert props["ratio"] == {"type": "number", "default": 1.0}
    assert "$ref" not in json.dumps(schema)
    doc = paint.doc()
    assert "- columns (list of strings) [required]: the columns to paint" in doc
    assert "- colour (one of: red, green) [required]: the colour" in doc
    assert "- sizes (list of integers) [optional]" in doc


def test_rendered_tool_calls_parse_back_to_the_same_arguments():
    arguments = {"columns": ["a b", "c,d"], "colour": Colour.GREEN, "mode": "line",
                 "sizes": [1, 2], "level": Level.HIGH, "ratio": 0.5}
    command = paint.render(arguments)
    assert command == 'paint "[\\"a b\\", \\"c,d\\"]" green line 1,2 2 0.5'
    _item, argline, body = ToolRegistry([paint]).split_command(command)
    assert paint.parse_command(argline, body) == arguments


@pytest.mark.parametrize("annotation, named", [
    ("dict[str, int]", "dict[str, int]"),
    ("int | str", "a union of several types"),
    ("tuple[int, int]", "tuple[int, int]"),
    ("list", "list without an item type"),
    ("list[list[int]]", "list[list[int]]"),
    ("Literal[1.5, 2.5]", "its values must be all str or all int"),
    ("object", "object"),
    ("NoSuchName", "NoSuchName"),
])
def test_an_unsupported_annotation_is_refused_at_decoration(tmp_path, annotation, named):
    """Before: any annotation was taken as a string and the tool failed when called."""
    source = tmp_path / "bad_tool.py"
    source.write_text(
        "from __future__ import annotations\n"
        "from typing import Literal\n"
        "from aci import tool\n\n"
        "@tool\n"
        f"def bad(ctx, fine: int, options: {annotation}) -> str:\n"
        '    """Never runs."""\n'
        "    return ''\n")
    with pytest.raises(ToolDefinitionError) as err:
        ToolRegistry.load([source], entry_points=False)
    message = str(err.value)
    assert "\n" not in message and named in message and "importing it failed" not in message
    assert "tool 'bad'" in message and "parameter 'options'" in message
    assert "use str, int, float, bool" in message


def test_a_context_annotation_that_does_not_resolve_is_ignored(tmp_path):
    source = tmp_path / "typed_tool.py"
    source.write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from aci import tool\n"
        "if TYPE_CHECKING:\n"
        "    from aci import ToolContext\n\n"
        "@tool\n"
        "def double(ctx: ToolContext, n: int) -> str:\n"
        '    """Double a number."""\n'
        "    return str(2 * n)\n")
    registry = ToolRegistry.load([source], entry_points=False)
    assert registry["double"].params[0].kind.type_name() == "integer"
