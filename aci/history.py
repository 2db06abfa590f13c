"""Keeping long episodes inside the context window, and the server's prefix cache warm.

The view of the conversation sent to the model keeps the system prompt and the task
in full and shortens older steps. Two schemes:

* **last N** (``block=0``): the last ``keep_last`` observations in full, every older
  one shortened to one line (``Old output omitted (123 lines).``), replies whole.
  This is MLGym's ``Last5Observations`` history processor; the ``mlgym`` ACI profile
  uses it with MLGym's own note (:func:`mlgym_elided`). Its drawback: the elision
  point moves every step, so the prompt differs from the previous one at the sixth
  observation from the end, and a server's prefix (KV) cache reuses only what
  precedes it: on a CPU llama.cpp server that is a full re-read of most of the prompt
  every step.
* **blocks** (``block=K``): observations are elided K at a time, once at least
  ``keep_last`` newer ones stay in full, so between two block boundaries the prompt
  only grows at its end and the server reuses the whole previous prompt; it changes
  inside only every K steps. With ``shorten_replies`` the model's own replies of the
  elided steps are shortened too (:func:`shortened_reply`): a reply kept whole forever
  costs its full length on every later step.

With a ``window`` (the tokens the view may take: the model's context minus its reply
cap) the block scheme elides further whole blocks, oldest first, until the view fits;
the smallest view it will send elides every observation but the latest. What still
does not fit is reported by the size returned (the caller ends the episode with
``exit_context``). The elision point only moves forward, so a view shrunk to fit
keeps its prefix on later steps too.

Token counts are cached per message, so a step costs a count of the new messages
only. With a ``window``, counting is lazy: a byte-level BPE token covers at least one
byte, so the UTF-8 size of the view bounds its tokens from above for free; only when
that bound passes the window are messages tokenized (each once), and the count is
then exact for the counter used.

The caller says how to count: ``count`` is any ``str -> int`` (the model server's
tokenizer, an estimate); without one the offline tiktoken counter of
:mod:`aci.tokens` for ``model`` is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aci.protocols import TokenCounter
from aci.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, counter_for

Message = dict[str, Any]

REPLY_KEEP_CHARS = 400
"""A reply up to this size is kept whole even when its step is elided."""
HEAD_CHARS = 160
"""What a shortened reply keeps of its discussion and of a long command's first line."""


def elided(content: str) -> str:
    """The harness's one-line stand-in for an old observation."""
    lines = content.count("\n") + 1 if content else 0
    return f"Old output omitted ({lines} lines)."


def mlgym_elided(content: str) -> str:
    """MLGym's stand-in (``last_n_history``): its wording, no full stop, and the line
    count of ``str.splitlines``."""
    return f"Old output omitted ({len(content.splitlines())} lines)"


def byte_bound(text: str) -> int:
    """An upper bound on the tokens of ``text`` for byte-level BPE: its UTF-8 size."""
    return len(text) if text.isascii() else 4 * len(text)


def _head(text: str, limit: int = HEAD_CHARS) -> str:
    first = text.strip().split("\n", 1)[0] if text.strip() else ""
    return first if len(first) <= limit else first[:limit].rstrip() + " ..."


def _short_command(command: str) -> str:
    lines = command.strip("\n").split("\n")
    if len(lines) <= 3 and len(command) <= REPLY_KEEP_CHARS // 2:
        return command.strip("\n")
    first, rest = lines[0], len(lines) - 1
    first = first if len(first) <= HEAD_CHARS else first[:HEAD_CHARS].rstrip() + " ..."
    return first + (f"\n[{rest} more lines omitted]" if rest else "")


def shortened_reply(message: Message) -> Message | None:
    """The short form of an old assistant reply, or None when it is short already.

    A text reply keeps the first line of its discussion and its command (a long
    command: its first line and how many lines followed), still in the reply format,
    so a model that reads it sees what it did without re-reading it whole. A tool-call
    reply keeps its calls, with long string arguments cut the same way (the arguments
    stay valid JSON).
    """
    text = message.get("content")
    text = text if isinstance(text, str) else str(text or "")
    calls = message.get("tool_calls") or []
    long_calls = any(len(str(_arguments(call))) > REPLY_KEEP_CHARS // 2 for call in calls)
    if len(text) <= REPLY_KEEP_CHARS and not long_calls:
        return None
    short: Message = dict(message)
    if len(text) > REPLY_KEEP_CHARS:
        short["content"] = _short_text(text, bool(calls))
    if long_calls:
        short["tool_calls"] = [_short_call(call) for call in calls]
    return short


def _short_text(text: str, has_calls: bool) -> str:
    from aci.parsing import FormatError, parse_reply

    lines = text.count("\n") + 1
    note = f"(Old reply shortened from {lines} lines.)"
    if has_calls:
        return f"{note}\n{_head(text)}"
    try:
        action = parse_reply(text)
    except FormatError:
        return f"{note}\n{_head(text)}"
    thought = action.thought.strip()
    heading = ""
    if thought.startswith("DISCUSSION"):  # MLGym's heading stays, with the discussion's first line
        heading, thought = "DISCUSSION", thought.removeprefix("DISCUSSION").strip()
    parts = [note, heading, _head(thought), f"```\n{_short_command(action.command)}\n```"]
    return "\n".join(part for part in parts if part)


def _arguments(call: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    return function.get("arguments") if isinstance(function, dict) else None


def _short_call(call: Any) -> Any:
    raw = _arguments(call)
    if not isinstance(raw, str) or len(raw) <= REPLY_KEEP_CHARS // 2:
        return call
    try:
        arguments = json.loads(raw)
    except json.JSONDecodeError:
        return call  # its answer says what was wrong with it: keep it as sent
    if not isinstance(arguments, dict):
        return call
    cut = {key: _short_command(value) if isinstance(value, str) else value for key, value in arguments.items()}
    return {**call, "function": {**call["function"], "arguments": json.dumps(cut)}}


@dataclass
class _Entry:
    """One message of the transcript, its short form and its sizes."""

    content: Any
    """The content object the entry was made for (a replaced message is noticed)."""
    message: Message
    short: Message | None
    full_bound: int
    short_bound: int
    full_exact: int | None = None
    short_exact: int | None = None


class History:
    """A cached, elided view of a growing message list (see the module docstring).

    ``messages`` is the episode's full transcript, only ever appended to: index 0
    the system prompt, then the task, then assistant replies and observations
    (role ``user`` or ``tool``). Replacing a message is noticed (its content object
    changes) and recounted; a shorter transcript starts the view afresh.

    ``block``: 0 for the last-N scheme, K > 0 to elide observations K at a time.
    ``shorten_replies``: also shorten the assistant replies of elided steps.
    ``note``: the stand-in for an elided observation (:func:`elided`, :func:`mlgym_elided`).
    """

    def __init__(self, keep_last: int = 5, *, model: str = "", keep_first: int = 2,
                 count: TokenCounter | None = None, window: int | None = None, block: int = 0,
                 shorten_replies: bool = False, note: Callable[[str], str] = elided) -> None:
        self.keep_last = keep_last
        self.keep_first = keep_first
        self.count = count or counter_for(model)
        self.window = window
        self.block = block
        self.shorten_replies = shorten_replies
        self.note = note
        self.elided_steps = 0
        """Observations the last view elided (the block scheme never elides fewer later)."""
        self._entries: list[_Entry] = []

    # -- sizes ----------------------------------------------------------------------------

    def _size(self, message: Message, exact: bool) -> int:
        content = message.get("content")
        text = content if isinstance(content, str) else str(content or "")
        calls = str(message["tool_calls"]) if message.get("tool_calls") else ""
        if exact:
            return MESSAGE_OVERHEAD + self.count(text) + (self.count(calls) if calls else 0)
        return MESSAGE_OVERHEAD + byte_bound(text) + byte_bound(calls)

    def _entry(self, index: int, message: Message) -> _Entry:
        content = message.get("content")
        if index < len(self._entries):
            cached = self._entries[index]
            if cached.content is content and cached.message is message:
                return cached
        short: Message | None = None
        if index >= self.keep_first:
            role = message.get("role")
            if role in ("user", "tool"):
                text = content if isinstance(content, str) else str(content or "")
                short = {**message, "content": self.note(text)}
            elif role == "assistant" and self.shorten_replies:
                short = shortened_reply(message)
        exact = self.window is None  # without a window every count is exact, and eager
        full = self._size(message, exact)
        short_size = self._size(short, exact) if short is not None else full
        entry = _Entry(content, message, short, full, short_size,
                       full if exact else None, short_size if exact else None)
        if index < len(self._entries):
            self._entries[index] = entry
        else:
            self._entries.append(entry)
        return entry

    def _exact(self, entry: _Entry, short: bool) -> int:
        if short:
            if entry.short_exact is None:
                entry.short_exact = self._size(entry.short or entry.message, True)
            return entry.short_exact
        if entry.full_exact is None:
            entry.full_exact = self._size(entry.message, True)
        return entry.full_exact

    # -- the view -------------------------------------------------------------------------

    def planned_cut(self, observations: int) -> int:
        """How many of ``observations`` the scheme elides before fitting the window."""
        if self.keep_last <= 0:
            return observations
        over = observations - self.keep_last
        if over <= 0:
            return 0
        if self.block <= 0:
            return over
        return max(self.elided_steps, over // self.block * self.block)

    def view(self, messages: Sequence[Message]) -> tuple[list[Message], int]:
        """(messages to send, their token count: exact, or a bound well under the window)."""
        if len(messages) < len(self._entries):  # a different (shorter) transcript
            del self._entries[len(messages):]
            self.elided_steps = 0
        entries = [self._entry(index, message) for index, message in enumerate(messages)]
        observations = [i for i in range(self.keep_first, len(messages))
                        if messages[i].get("role") in ("user", "tool")]
        cut = min(self.planned_cut(len(observations)), len(observations))
        out, total = self._assemble(entries, observations, cut, exact=False)
        if self.window is not None and total > self.window:
            out, total = self._assemble(entries, observations, cut, exact=True)
            # fit: elide whole blocks more, down to the latest observation alone
            while self.block > 0 and total > self.window and cut < len(observations) - 1:
                cut = min(len(observations) - 1, cut + self.block)
                out, total = self._assemble(entries, observations, cut, exact=True)
        self.elided_steps = cut
        return out, total

    def _assemble(self, entries: list[_Entry], observations: list[int], cut: int,
                  exact: bool) -> tuple[list[Message], int]:
        """The view with the first ``cut`` observations (and, with ``shorten_replies``,
        the replies before them) in short form."""
        until = observations[cut - 1] + 1 if cut > 0 else 0
        out: list[Message] = []
        total = REPLY_PRIMING
        for index, entry in enumerate(entries):
            short = entry.short is not None and index < until
            out.append(entry.short if short and entry.short is not None else entry.message)
            if exact:
                total += self._exact(entry, short)
            else:
                total += entry.short_bound if short else entry.full_bound
        return out, total


__all__ = ["History", "byte_bound", "elided", "mlgym_elided", "shortened_reply"]
