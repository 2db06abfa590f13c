"""``--model`` strings: aliases, the models file, llama discovery, openai:<name>@<url>."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_server import ChatServer  # noqa: E402

from harness.errors import HarnessError, ModelUnavailable  # noqa: E402
from harness.models import resolve_model  # noqa: E402
from harness.models.demo import DemoModel  # noqa: E402
from harness.models.human import HumanModel  # noqa: E402
from harness.models.openai import OpenAIModel  # noqa: E402
from harness.models.registry import load_config, load_entries, parse_openai_spec  # noqa: E402
from harness.models.replay import ReplayModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ACTION = "DISCUSSION\nhi\n\n```\nls\n```\n"


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    """No user models file and no keys or overrides from the machine running the tests."""
    monkeypatch.setenv("HARNESS_CONFIG_DIR", str(tmp_path / "config"))
    for name in (
        "HARNESS_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "HARNESS_LLAMA_URLS",
        "LLAMA_BASE_URL",
        "LLAMA_MODEL",
        "LLAMA_API_KEY",
        "GPT_4O_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


def dead_url() -> str:
    server = ChatServer().start()
    url = server.base_url
    server.stop()
    return url


def write_user_models(tmp_path: Path, text: str) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "models.toml").write_text(text)


def test_openai_spec_parses_name_and_base_url():
    assert parse_openai_spec("openai:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1") == (
        "Qwen/Qwen2.5-7B-Instruct",
        "http://127.0.0.1:8000/v1",
    )
    assert parse_openai_spec("openai:qwen2.5:7b@http://localhost:11434") == (
        "qwen2.5:7b",
        "http://localhost:11434/v1",
    )
    assert parse_openai_spec("openai:gpt-4o") == ("gpt-4o", "https://api.openai.com/v1")
    with pytest.raises(HarnessError, match="names no model"):
        parse_openai_spec("openai:@http://127.0.0.1:8000/v1")


def test_openai_spec_works_without_any_file():
    with ChatServer([ACTION]) as server:
        model = resolve_model(f"openai:test-model@{server.base_url}", seed=3, temperature=0.5)
        assert isinstance(model, OpenAIModel)
        assert model.complete([{"role": "user", "content": "go"}]).text == ACTION
        sent = server.chat_requests[0]["json"]
    assert sent["model"] == "test-model" and sent["seed"] == 3 and sent["temperature"] == 0.5
    assert model.info()["seed"] == 3


def test_llama_finds_the_local_server_and_says_so(monkeypatch):
    said = []
    with ChatServer([ACTION], models=["Qwen/Qwen2.5-7B-Instruct"]) as server:
        monkeypatch.setenv("HARNESS_LLAMA_URLS", f"{dead_url()},{server.base_url}")
        model = resolve_model("llama", echo=said.append)
        assert model.complete([{"role": "user", "content": "go"}]).text == ACTION
    assert model.settings.model == "Qwen/Qwen2.5-7B-Instruct"
    assert model.settings.base_url == server.base_url
    assert said == [f"llama: using Qwen/Qwen2.5-7B-Instruct on the vLLM server at {server.base_url}, "
                    "replies capped at 2048 tokens"]


def test_llama_on_a_server_with_several_models_asks_the_user_to_pick(monkeypatch):
    with ChatServer(models=["model-a", "model-b"]) as server:
        monkeypatch.setenv("HARNESS_LLAMA_URLS", server.base_url)
        with pytest.raises(HarnessError) as err:
            resolve_model("llama", echo=lambda _: None)
    message = str(err.value)
    assert "model-a, model-b" in message and f"--model openai:<name>@{server.base_url}" in message


def test_llama_model_variable_picks_among_several(monkeypatch):
    with ChatServer(models=["model-a", "model-b"]) as server:
        monkeypatch.setenv("HARNESS_LLAMA_URLS", server.base_url)
        monkeypatch.setenv("LLAMA_MODEL", "model-b")
        model = resolve_model("llama", echo=lambda _: None)
    assert model.settings.model == "model-b"


def test_llama_with_no_server_names_urls_tried_and_how_to_start_one(monkeypatch):
    urls = [dead_url(), dead_url()]
    monkeypatch.setenv("HARNESS_LLAMA_URLS", ",".join(urls))
    with pytest.raises(ModelUnavailable) as err:
        resolve_model("llama", echo=lambda _: None)
    message = str(err.value)
    assert all(u in message for u in urls)
    assert "vllm serve <model> --port 8000" in message
    assert "llama-server -m model.gguf --port 8080" in message
    assert "--model demo" in message and "\n" not in message


def test_llama_probes_the_usual_ports_by_default():
    entry = load_entries()["llama"]
    assert entry.discover == [
        "http://127.0.0.1:8000/v1",
        "http://127.0.0.1:8080/v1",
        "http://127.0.0.1:11434/v1",
    ]


def test_user_models_file_configures_llama_without_probing(tmp_path):
    with ChatServer([ACTION], models=["served"]) as server:
        write_user_models(
            tmp_path, f'[models.llama]\nbase_url = "{server.base_url}"\nmodel = "mine"\n'
        )
        model = resolve_model("llama", echo=lambda _: None)
        assert model.settings.model == "mine"
        model.complete([{"role": "user", "content": "go"}])
        # the file's model is sent although the server lists another: only the usual
        # ports are probed to pick one; the server is asked what it is, once
        assert server.chat_requests[0]["json"]["model"] == "mine"
        assert [r["path"] for r in server.requests].count("/v1/models") == 1


def test_user_models_file_adds_priced_aliases(tmp_path, monkeypatch):
    usage = {"prompt_tokens": 2_000_000, "completion_tokens": 1_000_000}
    from chat_server import Reply

    with ChatServer([Reply(ACTION, usage=usage)]) as server:
        write_user_models(
            tmp_path,
            "[defaults]\nmax_attempts = 2\n"
            f'[models.my-hosted]\nmodel = "big"\nbase_url = "{server.base_url}"\n'
            'api_key_env = ["MY_KEY"]\nprice_in = 1.25\nprice_out = 10.0\n',
        )
        monkeypatch.setenv("MY_KEY", "sk-mine")
        model = resolve_model("my-hosted")
        reply = model.complete([{"role": "user", "content": "go"}])
        assert server.chat_requests[0]["headers"]["Authorization"] == "Bearer sk-mine"
    assert reply.cost == pytest.approx(2 * 1.25 + 1 * 10.0)
    assert model.settings.max_attempts == 2


def test_alias_api_key_variable_wins(tmp_path, monkeypatch):
    with ChatServer([ACTION]) as server:
        write_user_models(tmp_path, f'[models.box]\nmodel = "m"\nbase_url = "{server.base_url}"\n')
        monkeypatch.setenv("HARNESS_API_KEY", "generic")
        monkeypatch.setenv("BOX_API_KEY", "specific")
        resolve_model("box").complete([{"role": "user", "content": "go"}])
        assert server.chat_requests[0]["headers"]["Authorization"] == "Bearer specific"


def test_base_url_variable_overrides_the_file(monkeypatch):
    with ChatServer([ACTION]) as server:
        monkeypatch.setenv("VLLM_BASE_URL", server.base_url)
        model = resolve_model("vllm", echo=lambda _: None)  # asks the server its model
    assert model.settings.base_url == server.base_url and model.settings.model == "test-model"


def test_hosted_alias_has_prices_and_needs_a_key(monkeypatch):
    with pytest.raises(HarnessError, match="OPENAI_API_KEY"):
        resolve_model("gpt-4o")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = resolve_model("gpt-4o")
    assert model.settings.price_in > 0 and model.settings.price_out > 0
    assert model.info()["base_url"] == "https://api.openai.com/v1"


def test_openai_spec_takes_prices_of_a_matching_alias(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = resolve_model("openai:gpt-4o@https://api.openai.com/v1")
    assert model.settings.price_in == load_entries()["gpt-4o"].price_in


def test_unknown_alias_names_the_known_ones():
    with pytest.raises(HarnessError) as err:
        resolve_model("gpt-17")
    message = str(err.value)
    assert "gpt-17" in message
    for known in ("demo", "human", "replay:PATH", "openai:<name>@<base_url>", "llama", "gpt-4o"):
        assert known in message


def solve_with_model(name: str):
    """``harness solve`` as a user runs it, stopping at the model (nothing is built)."""
    from click.testing import CliRunner

    from harness.cli import main

    return CliRunner().invoke(
        main, ["solve", str(REPO / "tasks" / "house_price"), "--model", name, "-q"]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[models.x]\nmax_attempts = "3"\n',
            "[models.x] field 'max_attempts' must be a whole number, e.g. max_attempts = 6 (got '3')",
        ),
        (
            '[models.x]\nmodle = "typo"\n',
            "[models.x] has unknown field 'modle': did you mean 'model'?",
        ),
        ("[models.x\n", "not valid TOML: Expected ']' at the end of a table declaration"),
    ],
    ids=["wrong-type", "unknown-key", "malformed"],
)
def test_bad_models_file_is_one_clear_line_from_the_cli(tmp_path, text, expected):
    write_user_models(tmp_path, text)
    result = solve_with_model("x")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {tmp_path / 'config' / 'models.toml'}: ")
    assert expected in lines[0]
    assert "Traceback" not in result.output


def test_models_file_values_keep_their_types(tmp_path):
    """Strict types: TOML has true/false and integers, so a near miss is a mistake, not a value."""
    for text, field in [
        ("[defaults]\ntool_calls = 1\n", "[defaults] field 'tool_calls' must be true or false"),
        ("[models.x]\nseed = 1.5\n", "[models.x] field 'seed' must be a whole number"),
        (
            "[models.x]\nheaders = { A = 1 }\n",
            "[models.x] field 'headers' must be a table of strings",
        ),
        (
            "[models.x]\ndiscover = [8000]\n",
            "[models.x] field 'discover' must be a list of strings",
        ),
        ("[models]\nx = 3\n", "[models.x] must be a table of fields"),
        ("[modles.x]\nmodel = 'm'\n", "unknown table [modles]: use [defaults] and [models.NAME]"),
        ("models = 3\n", "models must be written as [models.NAME] table(s)"),
    ]:
        write_user_models(tmp_path, text)
        with pytest.raises(HarnessError) as err:
            load_entries()
        assert field in str(err.value) and "\n" not in str(err.value)
    write_user_models(tmp_path, '[models.x]\ntemperature = 1\ndiscover = "http://127.0.0.1:9/v1"\n')
    entry = load_entries()["x"]
    assert entry.temperature == 1.0 and entry.discover == ["http://127.0.0.1:9/v1"]


def test_tool_calls_true_in_the_user_file_reaches_the_model(tmp_path):
    with ChatServer([ACTION]) as server:
        write_user_models(
            tmp_path,
            f'[models.box]\nmodel = "m"\nbase_url = "{server.base_url}"\ntool_calls = true\n',
        )
        model = resolve_model("box")
    assert isinstance(model, OpenAIModel)
    assert model.settings.tool_calls is True and model.tool_calls is True


def test_openai_spec_gets_the_same_defaults_as_an_alias(tmp_path):
    """One server behaves the same whether named by an alias or by openai:NAME@URL."""
    with ChatServer(models=["m", "other"]) as server:
        _same_defaults(tmp_path, server.base_url)


def _same_defaults(tmp_path, url: str) -> None:
    spec = resolve_model(f"openai:m@{url}")
    assert spec.settings.temperature == load_config().defaults.temperature == 0.0
    write_user_models(
        tmp_path,
        f'[defaults]\ntool_calls = true\nmax_attempts = 2\n[models.box]\nmodel = "m"\nbase_url = "{url}"\n',
    )
    alias, spec = resolve_model("box"), resolve_model(f"openai:other@{url}")
    for model in (alias, spec):
        assert model.settings.tool_calls is True and model.settings.max_attempts == 2
        assert model.settings.temperature == 0.0


def test_builtin_specs(tmp_path):
    assert isinstance(resolve_model("demo", task=REPO / "tasks" / "house_price"), DemoModel)
    assert isinstance(resolve_model("human"), HumanModel)
    traj = tmp_path / "t.jsonl"
    traj.write_text('{"kind": "step", "thought": "look", "action": "ls"}\n')
    assert isinstance(resolve_model(f"replay:{traj}"), ReplayModel)
    with pytest.raises(HarnessError, match="give the task"):
        resolve_model("demo")


def test_demo_accepts_a_task_object():
    from harness.task.spec import Task

    task = Task.load(REPO / "tasks" / "house_price")
    assert resolve_model("demo", task=task).task_dir == task.dir
