"""Token counts by the server's own tokenizer, with the offline count as a fallback.

Offline tiktoken counts were 11% low for SmolLM2 on llama.cpp, enough for an
episode that trusts them to overflow the server's window. vLLM and llama.cpp's
server tokenize on request (``POST /tokenize``), llama-cpp-python's server too
(``POST /extras/tokenize/count``); a round trip on loopback costs about a
millisecond, and texts are cached, so the history can count every message exactly.
Any failure (old server, timeout) switches to the offline counter for good: a
count is never worth a crash.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import httpx

from aci.tokens import counter_for
from harness.models.discovery import ServerFacts, count_reply, root_url, tokenize_body

_CACHE_SIZE = 4096


class ServerCounter:
    """A ``str -> int`` token counter asking the server (see the module's docstring)."""

    def __init__(self, facts: ServerFacts, base_url: str, model: str, *,
                 headers: dict[str, str] | None = None, timeout: float = 5.0):
        self.facts = facts
        self.model = model
        self.fallback: Callable[[str], int] = counter_for(model)
        self.url = root_url(base_url) + (facts.tokenizer or "/tokenize")
        self.active = bool(facts.tokenizer)
        """False once the server failed to count (or never could): offline counts from then on."""
        self.problem = ""
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=1.0), headers=headers or {})
        self._cache: OrderedDict[str, int] = OrderedDict()

    def _ask(self, text: str) -> int | None:
        try:
            response = self._client.post(self.url, json=tokenize_body(self.facts.kind, self.model, text))
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as err:
            self.problem = " ".join(str(err).split())[:160] or type(err).__name__
            return None
        count = count_reply(data)
        if count is not None:
            return count
        self.problem = f"{self.url} answered HTTP {response.status_code} without a count"
        return None

    def __call__(self, text: str) -> int:
        if not self.active or not text:
            return self.fallback(text)
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        count = self._ask(text)
        if count is None:
            self.active = False
            return self.fallback(text)
        self._cache[text] = count
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return count

    def close(self) -> None:
        self._client.close()
