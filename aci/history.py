"""Keeping long episodes inside the context window.

The view of the conversation sent to the model keeps the system prompt, the task
and the last ``keep_last`` observations in full and shortens every older
observation to one line (``Old output omitted (123 lines).``). Token counts are
cached per message, so a step costs a count of the new message only, not a
re-tokenisation of the whole history.

The caller says how to count: ``count`` is any ``str -> int`` (the model server's
tokenizer, an estimate); without one the offline tiktoken counter of
:mod:`aci.tokens` for ``model`` is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aci.protocols import TokenCounter
from aci.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, counter_for

Message = dict[str, Any]


def elided(content: str) -> str:
    lines = content.count("\n") + 1 if content else 0
    return f"Old output omitted ({lines} lines)."


def byte_bound(text: str) -> int:
    """An upper bound on the tokens of ``text`` for byte-level BPE: its UTF-8 size."""
    return len(text) if text.isascii() else 4 * len(text)


class History:
    """A cached, elided view of a growing message list.

    ``messages`` is the episode's full transcript, only ever appended to: index 0
    the system prompt, then the task, then assistant replies and observations
    (role ``user`` or ``tool``). Replacing a message is noticed (its content object
    changes) and recounted.

    With a ``window``, tokenizing is lazy: a byte-level BPE token covers at least one
    byte, so the UTF-8 size of the view bounds its tokens from above for free. Only
    when that bound passes the window are the view's messages tokenized (each once),
    and the count returned is then exact. Far from the limit a step costs no
    tokenizing at all.
    """

    def __init__(self, keep_last: int = 5, *, model: str = "", keep_first: int = 2,
                 count: TokenCounter | None = None, window: int | None = None) -> None:
        self.keep_last = keep_last
        self.keep_first = keep_first
        self.count = count or counter_for(model)
        self.window = window
        # per index: [content object, elided message, full bound, short bound,
        #             full exact, short exact]; the exact counts are filled in lazily
        self._cache: list[list[Any]] = []
        self._messages: list[Message] = []

    def _entry(self, index: int, message: Message) -> list[Any]:
        content = message.get("content")
        if index < len(self._cache):
            cached = self._cache[index]
            if cached[0] is content and self._messages[index] is message:
                return cached
        text = content if isinstance(content, str) else str(content or "")
        extra = str(message["tool_calls"]) if message.get("tool_calls") else ""
        short: Message | None = None
        if index >= self.keep_first and message.get("role") in ("user", "tool"):
            short = {**message, "content": elided(text)}
        if self.window is None:
            full = MESSAGE_OVERHEAD + self.count(text) + (self.count(extra) if extra else 0)
            short_tokens = MESSAGE_OVERHEAD + self.count(short["content"]) if short else full
            entry = [content, short, full, short_tokens, full, short_tokens]
        else:
            full = MESSAGE_OVERHEAD + byte_bound(text) + byte_bound(extra)
            short_tokens = MESSAGE_OVERHEAD + byte_bound(short["content"]) if short else full
            entry = [content, short, full, short_tokens, None, None]
        if index < len(self._cache):
            self._cache[index] = entry
            self._messages[index] = message
        else:
            self._cache.append(entry)
            self._messages.append(message)
        return entry

    def _exact(self, entry: list[Any], message: Message, short: bool) -> int:
        slot = 5 if short else 4
        if entry[slot] is None:
            if short:
                entry[slot] = MESSAGE_OVERHEAD + self.count(entry[1]["content"])
            else:
                content = message.get("content")
                text = content if isinstance(content, str) else str(content or "")
                extra = message.get("tool_calls")
                entry[slot] = MESSAGE_OVERHEAD + self.count(text) + (self.count(str(extra)) if extra else 0)
        return entry[slot]

    def view(self, messages: Sequence[Message]) -> tuple[list[Message], int]:
        """(messages to send, their token count: exact, or a bound well under the window)."""
        if len(messages) < len(self._cache):  # a different (shorter) transcript
            del self._cache[len(messages):]
            del self._messages[len(messages):]
        observations = [i for i in range(self.keep_first, len(messages))
                        if messages[i].get("role") in ("user", "tool")]
        full_from = observations[-self.keep_last] if 0 < self.keep_last <= len(observations) \
            else (0 if self.keep_last > 0 else len(messages))
        out: list[Message] = []
        chosen: list[tuple[list[Any], Message, bool]] = []
        total = REPLY_PRIMING
        for index, message in enumerate(messages):
            entry = self._entry(index, message)
            short = entry[1] is not None and index < full_from
            out.append(entry[1] if short else message)
            chosen.append((entry, message, short))
            total += entry[3] if short else entry[2]
        if self.window is not None and total > self.window:
            total = REPLY_PRIMING + sum(self._exact(e, m, s) for e, m, s in chosen)
        return out, total
