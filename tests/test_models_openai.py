"""The openai backend against a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_server import (  # noqa: E402
    ChatServer,
    ContextError,
    Delay,
    Drop,
    Gone,
    Malformed,
    NoUsage,
    Raw,
    Reply,
    Status,
)

from harness.errors import ModelError, ModelUnavailable  # noqa: E402
from harness.models import ContextLengthExceeded, Model  # noqa: E402
from harness.models.openai import OpenAIModel, OpenAISettings  # noqa: E402
from harness.tokens import count_message_tokens, count_tokens  # noqa: E402

ACTION = "DISCUSSION\nLet me look around.\n\n```\nls -la\n```\n"
MESSAGES = [
    {"role": "system", "content": "You are an ML researcher."},
    {"role": "user", "content": "Improve the baseline of the house price task."},
]


def make_model(server: ChatServer, **overrides) -> OpenAIModel:
    settings = dict(
        model="test-model",
        base_url=server.base_url,
        timeout_s=5.0,
        connect_timeout_s=1.0,
        max_attempts=3,
        backoff_s=0.01,
        backoff_max_s=0.05,
        retry_after_max_s=5.0,
    )
    settings.update(overrides)
    return OpenAIModel(OpenAISettings(**settings))


def test_reply_carries_text_usage_and_cost():
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    with ChatServer([Reply(ACTION, usage=usage)]) as server:
        model = make_model(server, price_in=2.0, price_out=8.0, temperature=0.0, seed=7)
        reply = model.complete(MESSAGES)
    assert isinstance(model, Model)
    assert reply.text == ACTION
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (1000, 500)
    assert not reply.usage.estimated
    assert reply.cost == pytest.approx(1000 * 2.0 / 1e6 + 500 * 8.0 / 1e6)
    assert reply.elapsed_s > 0 and reply.raw["choices"][0]["message"]["content"] == ACTION
    sent = server.chat_requests[0]["json"]
    assert sent["model"] == "test-model" and sent["messages"] == MESSAGES
    assert sent["temperature"] == 0.0 and sent["seed"] == 7
    assert "top_p" not in sent and "max_tokens" not in sent  # unset settings are left to the server


def test_local_model_costs_nothing_unless_priced():
    with ChatServer([ACTION]) as server:
        reply = make_model(server).complete(MESSAGES)
    assert reply.cost == 0.0


def test_500_then_success_is_retried():
    with ChatServer([Status(500), Status(503), ACTION]) as server:
        reply = make_model(server).complete(MESSAGES)
        assert reply.text == ACTION
        assert len(server.chat_requests) == 3


def test_429_with_retry_after_is_honoured():
    with ChatServer([Status(429, "rate limited", retry_after="1"), ACTION]) as server:
        model = make_model(server)
        waits: list[float] = []
        model._sleep = lambda s: (waits.append(s), time.sleep(s))
        reply = model.complete(MESSAGES)
        assert reply.text == ACTION
        assert len(server.chat_requests) == 2
    assert waits == [1.0]


def test_retry_after_is_capped():
    with ChatServer([Status(429, retry_after="3600"), ACTION]) as server:
        model = make_model(server, retry_after_max_s=0.1)
        waits: list[float] = []
        model._sleep = lambda s: (waits.append(s), time.sleep(s))
        assert model.complete(MESSAGES).text == ACTION
    assert waits == [0.1]


def test_backoff_grows_and_is_capped():
    with ChatServer(default=Status(502)) as server:
        model = make_model(server, max_attempts=5, backoff_s=1.0, backoff_max_s=3.0)
        waits: list[float] = []
        model._sleep = waits.append  # no real waiting: the waits are what we check
        with pytest.raises(ModelError, match="failed after 5 attempts: HTTP 502"):
            model.complete(MESSAGES)
    assert len(waits) == 4
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    assert all(w <= 3.0 for w in waits)


def test_slow_server_is_retried_then_answers():
    with ChatServer([Delay(1.5), ACTION]) as server:
        reply = make_model(server, timeout_s=0.3).complete(MESSAGES)
        assert reply.text == ACTION
        assert len(server.chat_requests) == 2


def test_server_slower_than_timeout_fails_with_model_error():
    with ChatServer(default=Delay(1.0)) as server:
        model = make_model(server, timeout_s=0.2, max_attempts=2)
        with pytest.raises(ModelError, match="timed out after 0.2 s") as err:
            model.complete(MESSAGES)
    assert not isinstance(err.value, ModelUnavailable)
    assert "\n" not in str(err.value)


def test_timeouts_are_retried_a_bounded_number_of_times_and_announced():
    """Six silent 600 s timeouts were an hour of nothing: now each retry is an event,
    and a call that keeps timing out gets ``timeout_attempts`` tries in all."""
    events = []
    with ChatServer(default=Delay(1.0)) as server:
        model = make_model(server, timeout_s=0.2, max_attempts=6, timeout_attempts=3)
        model.on_event = events.append
        with pytest.raises(ModelError, match="after 3 attempts"):
            model.complete(MESSAGES)
        assert len(server.chat_requests) == 3
    assert [(e.kind, e.attempt, e.attempts) for e in events] == [("retry", 2, 3), ("retry", 3, 3)]
    assert events[0].message.startswith("model call timed out after 0.2 s, retry 2 of 3")


def test_server_errors_announce_each_retry():
    events = []
    with ChatServer([Status(503), ACTION]) as server:
        model = make_model(server)
        model.on_event = events.append
        assert model.complete(MESSAGES).text == ACTION
    assert [(e.attempt, e.attempts) for e in events] == [(2, 3)]
    assert "HTTP 503" in events[0].message


def test_malformed_json_is_a_model_error():
    with ChatServer([Malformed()]) as server:
        with pytest.raises(ModelError, match="malformed JSON") as err:
            make_model(server).complete(MESSAGES)
        assert len(server.chat_requests) == 1
    assert server.base_url in str(err.value)


def test_reply_without_choices_is_a_model_error():
    with ChatServer([Raw({"object": "chat.completion", "choices": []})]) as server:
        with pytest.raises(ModelError, match="no choices"):
            make_model(server).complete(MESSAGES)


def test_error_body_with_status_200_is_a_model_error():
    with ChatServer([Raw({"error": {"message": "model crashed"}})]) as server:
        with pytest.raises(ModelError, match="model crashed"):
            make_model(server).complete(MESSAGES)


def test_dropped_connection_is_retried():
    with ChatServer([Drop(), ACTION]) as server:
        assert make_model(server).complete(MESSAGES).text == ACTION
        assert len(server.chat_requests) == 2


def test_no_server_is_model_unavailable_naming_url_and_fix():
    server = ChatServer().start()
    url = server.base_url
    server.stop()
    model = OpenAIModel(OpenAISettings(model="m", base_url=url, max_attempts=2, backoff_s=0.01))
    with pytest.raises(ModelUnavailable) as err:
        model.complete(MESSAGES)
    message = str(err.value)
    assert url in message and "--model demo" in message
    assert "vllm serve" in message and "llama-server" in message
    assert "\n" not in message


def test_server_going_away_mid_episode_is_model_unavailable():
    with ChatServer([ACTION, Gone()]) as server:
        model = make_model(server, max_attempts=4, backoff_s=0.2, backoff_max_s=0.3)
        assert model.complete(MESSAGES).text == ACTION
        with pytest.raises(
            ModelUnavailable, match="cannot reach a model server at http://127.0.0.1"
        ):
            model.complete([*MESSAGES, {"role": "assistant", "content": ACTION}])


def test_missing_usage_is_estimated_with_tiktoken():
    with ChatServer([NoUsage(ACTION)]) as server:
        model = make_model(server, price_in=1.0, price_out=1.0)
        reply = model.complete(MESSAGES)
    assert reply.usage.estimated
    assert reply.usage.prompt_tokens == count_message_tokens(MESSAGES, "test-model") > 0
    assert reply.usage.completion_tokens == count_tokens(ACTION, "test-model") > 0
    assert reply.cost == pytest.approx(reply.usage.total_tokens / 1e6)


def test_context_length_400_raises_context_length_exceeded():
    with ChatServer([ContextError()]) as server:
        with pytest.raises(ContextLengthExceeded, match="maximum context length"):
            make_model(server).complete(MESSAGES)
        assert len(server.chat_requests) == 1


def test_reply_cut_at_the_context_limit_raises_context_length_exceeded():
    usage = {"prompt_tokens": 4000, "completion_tokens": 96}
    with ChatServer([Reply("DISCUSSION\nI will", finish_reason="length", usage=usage)]) as server:
        with pytest.raises(ContextLengthExceeded):
            make_model(server, context_window=4096).complete(MESSAGES)


def test_reply_cut_by_max_tokens_is_returned():
    usage = {"prompt_tokens": 100, "completion_tokens": 16}
    with ChatServer([Reply("DISCUSSION\nI will", finish_reason="length", usage=usage)]) as server:
        reply = make_model(server, max_tokens=16, context_window=4096).complete(MESSAGES)
    assert reply.text == "DISCUSSION\nI will"


def test_rejected_api_key_fails_at_once_saying_which_variable_to_set():
    with ChatServer([Status(401, "invalid api key")]) as server:
        with pytest.raises(ModelError, match="HARNESS_API_KEY") as err:
            make_model(server, alias="gpt-4o", api_key="sk-wrong").complete(MESSAGES)
        assert len(server.chat_requests) == 1
    assert "GPT_4O_API_KEY" in str(err.value) and "sk-wrong" not in str(err.value)


def test_api_key_is_sent_but_never_recorded():
    with ChatServer([ACTION]) as server:
        model = make_model(server, api_key="sk-secret-123", price_in=1.5)
        model.complete(MESSAGES)
        assert server.chat_requests[0]["headers"]["Authorization"] == "Bearer sk-secret-123"
    info = model.info()
    assert "sk-secret" not in json.dumps(info)
    assert info["backend"] == "openai" and info["model"] == "test-model"
    assert info["base_url"] == server.base_url and info["price_in"] == 1.5
    assert model.name == f"test-model@{server.base_url}"


def test_credentials_in_the_url_are_not_shown():
    model = OpenAIModel(OpenAISettings(model="m", base_url="https://user:pw@example.com/v1"))
    assert "pw" not in model.name and "pw" not in json.dumps(model.info())


def test_tools_are_sent_and_tool_calls_returned():
    call = {"id": "c1", "type": "function", "function": {"name": "submit", "arguments": "{}"}}
    answer = {
        "choices": [
            {
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }
    tools = [{"type": "function", "function": {"name": "submit", "parameters": {"type": "object"}}}]
    with ChatServer([Raw(answer)]) as server:
        reply = make_model(server).complete(MESSAGES, tools=tools)
        assert server.chat_requests[0]["json"]["tools"] == tools
    assert reply.text == "" and reply.tool_calls == [call]
