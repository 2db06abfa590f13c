"""``harness models``: aliases and local servers in one table, no server is not an error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_server import ChatServer, like  # noqa: E402

from harness.cli import main as cli  # noqa: E402


def test_models_lists_aliases_and_the_running_server(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CONFIG_DIR", str(tmp_path))
    with ChatServer(models=["smol"], **like("llama.cpp", 8192, model="smol")) as server:
        (tmp_path / "models.toml").write_text(f'[models.box]\nbase_url = "{server.base_url}"\n')
        table = CliRunner().invoke(cli, ["models"])
        lines = CliRunner().invoke(cli, ["models", "--json"])
    assert table.exit_code == 0, table.output
    rows = {r["name"]: r for r in map(json.loads, lines.output.splitlines())}
    assert rows["box"]["server"].startswith(f"llama.cpp server at {server.base_url}")
    assert (rows["box"]["model"], rows["box"]["context"], rows["box"]["source"]) == ("smol", "8,192", "your file")
    running = rows[f"openai:smol@{server.base_url}"]
    assert (running["server"], running["context"]) == (f"llama.cpp server at {server.base_url}", "8,192")
    assert rows["gpt-4o"]["server"] == "hosted API at https://api.openai.com/v1"
    assert f"openai:smol@{server.base_url}" in table.output


def test_models_without_servers_is_a_table_and_a_line(tmp_path, monkeypatch):
    dead = ChatServer().start()
    url = dead.base_url
    dead.stop()
    monkeypatch.setenv("HARNESS_CONFIG_DIR", str(tmp_path))
    (tmp_path / "models.toml").write_text(f'[models.box]\nbase_url = "{url}"\n')
    outcome = CliRunner().invoke(cli, ["models"])
    assert outcome.exit_code == 0 and "Traceback" not in outcome.output
    box = next(line for line in outcome.output.splitlines() if line.startswith("box "))
    assert "not running (port" in box and "your file" in box
