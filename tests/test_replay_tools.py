"""`harness replay` of our own runs: the recorded interface settings and custom tools."""

from __future__ import annotations

from chat_server import ChatServer
from click.testing import CliRunner

from harness.cli import main
from harness.run.episode import Episode
from harness.run.options import EpisodeOptions
from harness.run.trajectory import read_records

TOOL = '''
from aci import tool


@tool
def shout(ctx, text: str) -> str:
    """Say TEXT in capitals (a custom tool of this test)."""
    return text.upper()
'''


def say(command: str) -> str:
    return f"DISCUSSION\nNext.\n\n```\n{command}\n```\n"


def test_a_run_with_custom_tools_replays_only_with_them_and_under_its_profile(titanic, tmp_path):
    from harness.models.openai import OpenAIModel, OpenAISettings

    tools = tmp_path / "my_tools.py"
    tools.write_text(TOOL)
    script = [say("shout hello"), say("python baseline.py"), say("validate"), say("submit")]
    with ChatServer(script) as server:
        model = OpenAIModel(OpenAISettings(model="m", base_url=server.base_url, max_attempts=1))
        options = EpisodeOptions(tool_files=(tools,), aci_profile="harness", window=40)
        recorded = Episode(titanic, model, tmp_path / "run", options).run()
    assert recorded.exit_status == "submitted"
    trajectory = tmp_path / "run" / "trajectory.jsonl"

    refused = CliRunner().invoke(main, ["replay", str(trajectory), "--out", str(tmp_path / "r1")])
    assert refused.exit_code != 0
    assert "not built in (shout): pass the files that define them with --tools FILE" in refused.output

    replayed = CliRunner().invoke(main, ["replay", str(trajectory), "--tools", str(tools),
                                         "--out", str(tmp_path / "r2")])
    assert replayed.exit_code == 0, replayed.output
    assert "scores reproduced" in replayed.output
    start = next(r for r in read_records(tmp_path / "r2") if r["kind"] == "start")
    assert start["config"]["aci_profile"] == "harness" and start["config"]["window"] == 40
    steps = [r for r in read_records(tmp_path / "r2") if r["kind"] == "step"]
    assert steps[0]["observation"].startswith("HELLO")
