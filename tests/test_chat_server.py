"""The test chat server itself: what other tests rely on it to report."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_server import ChatServer  # noqa: E402


def _usage(server: ChatServer, messages: list[dict]) -> dict:
    body = {"model": "test-model", "messages": messages}
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=5).json()["usage"]


def test_cached_tokens_are_the_prefix_shared_with_the_previous_request():
    first = [{"role": "system", "content": "a b c"}, {"role": "user", "content": "d e"}]
    longer = [*first, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "f"}]
    changed = [{"role": "system", "content": "a b X"}, {"role": "user", "content": "d e"}]
    other_role = [{"role": "user", "content": "a b X"}]
    with ChatServer(default="ok") as server:
        got = [_usage(server, m) for m in (first, longer, changed, other_role)]
    assert [u["prompt_tokens_details"]["cached_tokens"] for u in got] == [0, 5, 2, 0]
    assert [u["prompt_tokens"] for u in got] == [5, 7, 5, 3]
    assert server.cached == [0, 5, 2, 0]
