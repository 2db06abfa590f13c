"""Agent text made safe to show: control and bidi characters escaped, visible, never raw.

Everything the agent produces (its replies, its commands, their output, the files
and memory it writes) is hostile input to whoever reads it later. Printed raw on
the operator's terminal, an ``ESC ] 52`` sequence writes the clipboard, ``ESC ] 0``
retitles the window, CSI sequences move the cursor or clear the screen so a
transcript can hide or fake lines, a lone ``\\r`` or backspaces overwrite what was
printed, BEL rings, and C1 controls (U+009B is a one-character CSI on some
terminals) do the same without an ESC. Bidi overrides and isolates (U+202A-U+202E,
U+2066-U+2069) and zero-width marks make text read differently from what it is, in
a terminal and in a browser alike ("Trojan Source").

:func:`visible` replaces each such character by its Python escape (``\\x1b``,
``\\x07``, ``\\r``, ``\\u202e``), so the reader sees that it was there and nothing acts on
it; :func:`one_line` also folds the text onto one line for a live status line.
Newline and tab are kept: they are the text's layout and harmless. ``\\r\\n`` is a
Windows line end and is shown as a newline; a ``\\r`` alone is escaped. Lone
surrogates (undecodable bytes kept by ``surrogateescape`` or a JSON ``\\udcff``) are
escaped too, as they cannot be encoded for printing or for a UTF-8 page.

Backslashes are left alone, so a literal ``\\x1b`` typed by the agent looks the
same as an escaped ESC: the point is that nothing reaches the terminal raw, not a
reversible encoding. One compiled pattern does the work; text without anything to
escape costs one scan.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "\r\n"  # a Windows line end: shown as a newline
    "|[\x00-\x08\x0b-\x1f\x7f"  # C0 controls but tab and newline (ESC, BEL, BS, CR, ...), DEL
    "\x80-\x9f"  # C1 controls (U+009B is CSI, U+009D OSC)
    "\u061c\u200b-\u200f"  # Arabic letter mark, zero-width space/joiners, LRM, RLM
    "\u2028-\u202e"  # line and paragraph separators, bidi embeddings and overrides
    "\u2060-\u2069"  # word joiner, invisible operators, bidi isolates
    "\ufeff\ufff9-\ufffb"  # zero-width no-break space (BOM), interlinear annotation
    "\ud800-\udfff]"  # lone surrogates
)
_SPACES = re.compile(r"\s+")
_NAMED = {"\r\n": "\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every terminal control, bidi and invisible format character escaped.

    What to call on agent-derived text before it reaches a terminal or a page:
    newlines and tabs stay, everything that could act on the terminal or disguise
    the text becomes its visible escape (``\\x1b``, ``\\x9b``, ``\\u202e``).
    """
    return _UNSAFE.sub(_escape, text)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` made :func:`visible` and folded onto one line, cut to ``limit`` characters.

    For a live status line, which a newline would break (the rest scrolls away or
    pushes the display around): runs of whitespace, newlines included, become one
    space. The cut, if any, ends in ``...``.
    """
    line = _SPACES.sub(" ", visible(text)).strip()
    if limit is not None and len(line) > limit:
        line = line[: max(limit - 3, 0)] + "..."
    return line
