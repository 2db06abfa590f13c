"""Knowing the server: kind, context window, tokenizer, reply cap, tool_choice, failing fast.

Every server here is the project's real chat server on 127.0.0.1, answering what
llama.cpp, vLLM, Ollama and llama-cpp-python answer (``chat_server.like``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_server import ChatServer, ContextError, ToolCall, like  # noqa: E402

from harness.cli import main as cli  # noqa: E402
from harness.errors import ModelUnavailable  # noqa: E402
from harness.models import resolve_model  # noqa: E402
from harness.models.discovery import server_facts  # noqa: E402
from harness.tokens import count_tokens  # noqa: E402

ACTION = "DISCUSSION\nhi\n\n```\nls\n```\n"
GO = [{"role": "user", "content": "go"}]
TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("HARNESS_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "HARNESS_LLAMA_URLS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("kind", "source", "tokenizer"), [
    ("llama.cpp", "/props n_ctx", "/tokenize"),
    ("vLLM", "/v1/models max_model_len", "/tokenize"),
    ("Ollama", "/api/show model_info llama.context_length", ""),
])
def test_each_kind_tells_its_window_and_tokenizer(kind, source, tokenizer):
    with ChatServer(**like(kind, 8192)) as server:
        facts = server_facts(server.base_url, "test-model")
    assert (facts.kind, facts.context_window, facts.context_source) == (kind, 8192, source)
    assert facts.tokenizer == tokenizer and facts.reachable


def test_ollama_num_ctx_parameter_beats_the_trained_length():
    kwargs = like("Ollama", 32768)
    kwargs["show"]["parameters"] = "num_ctx 4096\nstop \"<|im_end|>\""
    with ChatServer(**kwargs) as server:
        assert server_facts(server.base_url, "test-model").context_window == 4096


def test_llama_cpp_python_states_its_window_when_it_refuses_an_over_long_prompt():
    with ChatServer([ACTION], **like("llama-cpp-python", context=8192)) as server:
        model = resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None)
        assert (model.kind, model.context_window, model.reply_cap) == ("llama-cpp-python", 8192, 2048)
        assert model.info()["server"]["context_source"] == "its refusal of an over-long prompt"
        probe = [r for r in server.requests if r["path"].endswith("/v1/completions")]
        assert len(probe) == 1 and probe[0]["json"]["max_tokens"] == 1


def test_llama_cpp_python_is_recognised_and_learns_its_window_from_the_overflow_error():
    """Without the refusal (an older server), its chat 400 says "exceed context window of N"."""
    overflow = ContextError("Requested tokens (9000) exceed context window of 8192")
    with ChatServer([overflow, ACTION], **like("llama-cpp-python", context=None)) as server:
        model = resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None)
        assert (model.kind, model.context_window, model.reply_cap) == ("llama-cpp-python", None, 2048)
        assert model.token_counter()("one two three four") == 4  # /extras/tokenize/count
        with pytest.raises(Exception, match="context window"):
            model.complete(GO)
        assert model.context_window == 8192 and model.reply_cap == 2048
        assert model.info()["server"]["context_source"] == "the server's context-overflow error"


def test_reply_cap_is_a_quarter_of_the_window_at_most_4096_and_the_setting_wins(tmp_path):
    for window, cap in ((8192, 2048), (131072, 4096)):
        with ChatServer([ACTION], **like("llama.cpp", window)) as server:
            model = resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None)
            model.complete(GO)
            assert server.chat_requests[0]["json"]["max_tokens"] == cap
            assert model.history_window == window - cap
            assert model.info()["max_tokens"] == cap and model.info()["context_window"] == window
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "models.toml").write_text("[defaults]\nmax_tokens = 300\n")
    with ChatServer([ACTION], **like("llama.cpp", 8192)) as server:
        resolve_model(f"openai:test-model@{server.base_url}", max_tokens=None).complete(GO)
        assert server.chat_requests[0]["json"]["max_tokens"] == 300


def test_an_unknown_server_gets_no_cap_and_no_tokenizer():
    with ChatServer([ACTION], owned_by="system") as server:
        model = resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None)
        model.complete(GO)
        assert "max_tokens" not in server.chat_requests[0]["json"]
    assert model.kind == "OpenAI-compatible server" and model.context_window is None
    assert model.token_counter()("one two three") == count_tokens("one two three", "test-model")


def test_counts_come_from_the_server_tokenizer_and_fall_back_offline():
    text = "def f(x):\n    return x**2  # squared, with punctuation!"
    with ChatServer(**like("llama.cpp", 8192)) as server:
        model = resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None)
        count = model.token_counter()
        assert count(text) == len(text.split()) != count_tokens(text, "test-model")
        asked = len(server.requests)
        assert count(text) == len(text.split()) and len(server.requests) == asked  # cached
    assert count("a b c d e f g") == count_tokens("a b c d e f g", "test-model")  # server gone
    assert not count.active


@pytest.mark.parametrize("kind", ["llama.cpp", "vLLM", "Ollama"])
def test_openai_spec_is_labelled_by_the_discovered_kind(kind):
    said = []
    with ChatServer(**like(kind, 8192)) as server:
        resolve_model(f"openai:test-model@{server.base_url}", echo=said.append)
    assert said[0].startswith(f"openai: using test-model on the {kind} server at {server.base_url}, "
                              "context 8192 tokens, replies capped at 2048 tokens")
    assert ("its tokenizer counts" in said[0]) == (kind != "Ollama")


def test_tools_go_with_tool_choice_and_a_reply_without_a_call_warns_once():
    said = []
    with ChatServer([ACTION, "still text", ToolCall("bash", {"command": "ls"})],
                    **like("llama-cpp-python")) as server:
        model = resolve_model(f"openai:test-model@{server.base_url}", echo=said.append)
        said.clear()
        for _ in range(3):
            model.complete(GO, tools=TOOLS)
        sent = [r["json"] for r in server.chat_requests]
    assert [b["tool_choice"] for b in sent] == ["auto"] * 3 and all(b["tools"] for b in sent)
    assert len(said) == 1 and "\n" not in said[0]
    assert said[0].startswith("warning: the llama-cpp-python at") and "text action" in said[0]
    assert "chatml-function-calling" in said[0]


def test_no_tools_no_tool_choice():
    with ChatServer([ACTION]) as server:
        resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None).complete(GO)
        assert "tool_choice" not in server.chat_requests[0]["json"]


def _dead_url() -> str:
    server = ChatServer().start()
    url = server.base_url
    server.stop()
    return url


def test_no_server_fails_fast_in_one_line():
    url = _dead_url()
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as err:
        resolve_model(f"openai:m@{url}", echo=lambda _: None)
    assert time.monotonic() - started < 2.0
    assert str(err.value).startswith(f"cannot reach a model server at {url} (connection refused)")


def test_solve_without_a_server_fails_fast_and_leaves_no_run_directory(tmp_path):
    url, out = _dead_url(), tmp_path / "run"
    started = time.monotonic()
    outcome = CliRunner().invoke(cli, ["solve", "house_price", "--model", f"openai:m@{url}",
                                       "--out", str(out)])
    elapsed = time.monotonic() - started
    assert outcome.exit_code != 0 and "Traceback" not in outcome.output
    assert "cannot reach a model server" in outcome.output
    assert not out.exists() and elapsed < 10  # task loading included; the model part < 2 s


def test_the_engine_reads_window_cap_and_tokenizer_off_the_model():
    """What ``harness.run.engine`` looks up (context_window, max_tokens, count_tokens)."""
    from harness.run.engine import model_limit

    with ChatServer(**like("vLLM", 8192)) as server:
        model = resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None)
        assert (model_limit(model, "context_window"), model_limit(model, "max_tokens")) == (8192, 2048)
        assert model.count_tokens("a b c") == 3
    with ChatServer(**like("Ollama", 8192)) as server:
        assert resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None).count_tokens is None
