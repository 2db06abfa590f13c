"""Collecting a command's output up to a cap, and finding the end-of-command marker.

Memory stays bounded however much a command prints: once the output passes the
cap, its first half is frozen as the head and only a rolling tail is kept. The
marker that ends a command is searched in the newest bytes only, so a long output
costs O(chunk) per read.
"""

from __future__ import annotations


class OutputCollector:
    def __init__(self, sentinel: bytes, cap: int) -> None:
        self._marker = b"\n" + sentinel + b" "
        self._half = max(cap // 2, 1)
        self._margin = len(sentinel) + 32
        self._cap = cap
        self.head = bytearray()
        self.buffer = bytearray()
        self.dropped = 0
        self.exit_code: int | None = None
        self.cwd: str | None = None
        self.done = False
        self._found = -1  # where the marker starts, once seen (its tail may come later)
        self.garbled = False
        """The end marker arrived with something other than an exit code after it."""

    def feed(self, chunk: bytes) -> bool:
        """Add bytes read from the shell; True once the end marker has arrived."""
        if self.done:
            return True
        start = max(0, len(self.buffer) - self._margin)
        self.buffer += chunk
        found = self._found if self._found >= 0 else self.buffer.find(self._marker, start)
        if found >= 0:
            self._found = found
            # The marker is followed by "<exit code> <cwd>\0": a directory name may hold
            # any byte but NUL.
            end = self.buffer.find(b"\0", found + len(self._marker))
            if end < 0:
                return False  # the exit code is still on its way
            # Anything after the marker is a background job's late output: dropped.
            code, _, cwd = bytes(self.buffer[found + len(self._marker) : end]).partition(b" ")
            self.exit_code = _exit_code(code)
            if self.exit_code is None:
                self.garbled = True  # not what our printf writes: trust nothing of it
            else:
                self.cwd = cwd.decode("utf-8", errors="surrogateescape") or None
            del self.buffer[found:]
            self.done = True
            return True
        if not self.head and not self.dropped and len(self.buffer) > self._cap + self._margin:
            self.head = self.buffer[: self._half]
            del self.buffer[: self._half]
        if self.head and len(self.buffer) > self._half + self._margin:
            excess = len(self.buffer) - (self._half + self._margin)
            del self.buffer[:excess]
            self.dropped += excess
        return False

    def text(self) -> tuple[str, bool]:
        """The kept output as text, and whether its middle was cut."""
        if self.dropped:
            note = f"\n[... {self.dropped} bytes of output cut ...]\n".encode()
            data = bytes(self.head) + note + bytes(self.buffer)
        else:
            data = bytes(self.head) + bytes(self.buffer)
        return data.decode("utf-8", errors="replace"), bool(self.dropped)


def _exit_code(text: bytes) -> int | None:
    """The exit code our printf wrote, or None for anything else (a forged or
    damaged marker must never raise)."""
    if not text.isdigit() or len(text) > 3:
        return None
    code = int(text)
    return code if code <= 255 else None
