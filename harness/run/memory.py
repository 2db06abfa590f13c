"""The agent's notebook across episodes of one task (MLGym's memory module).

One SQLite database per task, ``harness.paths.data_dir()/memory/<task_id>.sqlite``
(or any path given with ``--memory``). Each entry keeps its text, the episode and
step that wrote it, the time, and the best score the episode had at that moment.
``memory_read`` ranks entries by BM25 (SQLite's FTS5) with ties broken by recency
and returns as many as fit in a token budget.

    memory = Memory.for_task("house_price")
    episode_memory = memory.for_episode("run-17", best_score=lambda: 0.91, metric="r2")
    episode_memory.write("log-transforming SalePrice helps", step=4)   # the agent's tool
    print(episode_memory.read("log target"))

Concurrency and crashes: the database runs in WAL mode with a busy timeout, so
parallel episodes of the same task (threads or processes) read and write it at
once; every write is one transaction (the entry and its index row together), so a
``kill -9`` mid-write leaves either the whole entry or nothing. Entries longer than
``max_chars`` are refused: the agent gets a one-line explanation as its observation
(:meth:`Memory.write`), a program gets :class:`MemoryEntryTooLarge` (:meth:`Memory.add`).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness import paths
from harness.errors import HarnessError
from harness.tokens import count_tokens

MAX_CHARS = 4000
"""Longest entry accepted, in characters (about 1000 tokens)."""
READ_TOKENS = 1500
"""Tokens ``memory_read`` returns at most."""
READ_LIMIT = 5
"""Entries ``memory_read`` returns at most."""
BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another writer's transaction before giving up."""

_WORD = re.compile(r"\w+", re.UNICODE)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    episode TEXT,
    step INTEGER,
    created REAL NOT NULL,
    best_score REAL,
    metric TEXT
);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    text, content='entries', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts(entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class MemoryError_(HarnessError):  # noqa: N801 - MemoryError is a builtin
    """The memory database cannot be opened or written."""


class MemoryEntryTooLarge(MemoryError_):
    """An entry over the size limit; the message says the limit and what to do."""


@dataclass(frozen=True)
class Entry:
    """One stored note."""

    id: int
    text: str
    episode: str | None
    step: int | None
    created: float
    """Unix time of the write."""
    best_score: float | None
    """The episode's best score (primary metric) when the note was written."""
    metric: str | None
    """The name of that metric."""

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.created, UTC).strftime("%Y-%m-%d %H:%M UTC")

    def header(self) -> str:
        """``#12 · episode run-3, step 7 · 2025-01-01 12:00 UTC · best r2 0.91``."""
        parts = [f"#{self.id}"]
        where = []
        if self.episode:
            where.append(f"episode {self.episode}")
        if self.step is not None:
            where.append(f"step {self.step}")
        if where:
            parts.append(", ".join(where))
        parts.append(self.when)
        if self.best_score is not None:
            parts.append(f"best {self.metric or 'score'} {self.best_score:.6g}")
        return " · ".join(parts)


def default_path(task_id: str) -> Path:
    """Where the memory of ``task_id`` lives unless ``--memory`` says otherwise."""
    return paths.data_dir() / "memory" / f"{task_id}.sqlite"


class Memory:
    """The memory store of one task; satisfies ``aci.protocols.Memory``.

    ``episode``, ``best_score`` and ``metric`` are stamped on every entry written
    through :meth:`write`; set them on the object, or get a per-episode copy with
    :meth:`for_episode` (the safe way when episodes run in parallel threads).
    ``best_score`` may be a number or a function returning one (or None).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        task_id: str | None = None,
        episode: str | None = None,
        best_score: float | Callable[[], float | None] | None = None,
        metric: str | None = None,
        max_chars: int = MAX_CHARS,
        read_tokens: int = READ_TOKENS,
        read_limit: int = READ_LIMIT,
        model: str = "",
    ) -> None:
        self.path = Path(path)
        self.task_id = task_id
        self.episode = episode
        self.best_score = best_score
        self.metric = metric
        self.max_chars = max_chars
        self.read_tokens = read_tokens
        self.read_limit = read_limit
        self.model = model
        """Model name for token counting (the tokenizer); '' counts with cl100k."""
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @classmethod
    def for_task(cls, task_id: str, path: str | os.PathLike[str] | None = None, **options) -> Memory:
        """The memory of ``task_id``: at ``path`` if given, else under the data directory.

        Nothing is created until the first write.
        """
        return cls(Path(path) if path is not None else default_path(task_id), task_id=task_id, **options)

    def for_episode(
        self,
        episode: str,
        *,
        best_score: float | Callable[[], float | None] | None = None,
        metric: str | None = None,
    ) -> Memory:
        """A copy for one episode (its own connection) stamping entries with ``episode``."""
        return Memory(
            self.path, task_id=self.task_id, episode=episode,
            best_score=best_score if best_score is not None else self.best_score,
            metric=metric if metric is not None else self.metric, max_chars=self.max_chars,
            read_tokens=self.read_tokens, read_limit=self.read_limit, model=self.model,
        )

    # -- the agent's tools (aci.tools.memory) ---------------------------------------

    def write(self, text: str, *, step: int | None = None) -> str:
        """Store a note for the agent; returns the observation (an error line if refused)."""
        text = (text or "").strip()
        if not text:
            return "Nothing saved: memory_write needs the text to remember after the command name."
        try:
            entry = self.add(text, step=step)
        except MemoryEntryTooLarge as err:
            return f"Error: {err}"
        except MemoryError_ as err:
            return f"Error: the memory could not be written: {self._for_agent(err)}"
        return f"Saved to memory as entry #{entry.id} ({self.count()} entries for this task)."

    def _for_agent(self, err: Exception) -> str:
        """The error without the database's host path, which the agent has no use for."""
        return str(err).replace(str(self.path), "the memory database")

    def read(self, query: str) -> str:
        """The most relevant notes for ``query``, as the agent's observation."""
        query = (query or "").strip()
        try:
            entries = self.search(query, limit=self.read_limit) if query else self.recent(self.read_limit)
        except MemoryError_ as err:
            return f"Error: the memory could not be read: {self._for_agent(err)}"
        if not entries:
            if not query:
                return "The memory is empty: save notes with memory_write."
            return f"No memory entries match {query!r}. memory_read with other words, or memory_write to add one."
        return self.render(entries, query)

    def render(self, entries: list[Entry], query: str = "") -> str:
        """Entries as text, most relevant first, cut to ``read_tokens`` tokens."""
        head = (f"Memory entries matching {query!r}, most relevant first:" if query
                else "The most recent memory entries:")
        budget = self.read_tokens - count_tokens(head, self.model)
        blocks: list[str] = []
        for entry in entries:
            block = f"[{entry.header()}]\n{entry.text}"
            cost = count_tokens(block, self.model) + 1
            if cost > budget:
                if not blocks:  # always show something: the best entry, shortened
                    blocks.append(_cut_to_tokens(block, max(budget, 20), self.model))
                left = len(entries) - len(blocks)
                if left:
                    blocks.append(f"({left} more entries left out to stay within "
                                  f"{self.read_tokens} tokens; use a narrower query)")
                break
            blocks.append(block)
            budget -= cost
        return "\n\n".join([head, *blocks])

    # -- the store ----------------------------------------------------------------------

    def add(self, text: str, *, step: int | None = None, episode: str | None = None,
            best_score: float | None = None) -> Entry:
        """Store ``text``; raises MemoryEntryTooLarge over ``max_chars``."""
        if len(text) > self.max_chars:
            raise MemoryEntryTooLarge(
                f"the note is {len(text)} characters; memory entries are limited to "
                f"{self.max_chars}. Save a shorter summary (the key finding and its numbers), "
                "or split it into several notes."
            )
        score = best_score if best_score is not None else self._best_score()
        episode = episode if episode is not None else self.episode
        created = time.time()
        with self._transaction(write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO entries (text, episode, step, created, best_score, metric) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (text, episode, step, created, score, self.metric if score is not None else None),
            )
            entry_id = cursor.lastrowid
        return Entry(entry_id, text, episode, step, created, score,
                     self.metric if score is not None else None)

    def search(self, query: str, limit: int = READ_LIMIT) -> list[Entry]:
        """Entries matching any word of ``query``, by BM25 then most recent first."""
        words = _WORD.findall(query)
        if not words:
            return self.recent(limit)
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = self._query(
            "SELECT e.id, e.text, e.episode, e.step, e.created, e.best_score, e.metric "
            "FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid "
            "WHERE entries_fts MATCH ? ORDER BY bm25(entries_fts), e.created DESC, e.id DESC LIMIT ?",
            (match, limit),
        )
        return [Entry(*row) for row in rows]

    def recent(self, limit: int | None = None) -> list[Entry]:
        """The newest entries first."""
        rows = self._query(
            "SELECT id, text, episode, step, created, best_score, metric FROM entries "
            "ORDER BY created DESC, id DESC LIMIT ?", (-1 if limit is None else limit,),
        )
        return [Entry(*row) for row in rows]

    def entries(self) -> list[Entry]:
        """Every entry, oldest first."""
        return list(reversed(self.recent()))

    def count(self) -> int:
        rows = self._query("SELECT count(*) FROM entries", ())
        return rows[0][0] if rows else 0

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        if not self.path.exists():
            return 0
        with self._transaction(write=True) as conn:
            count = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
            conn.execute("DELETE FROM entries")
            conn.execute("INSERT INTO entries_fts(entries_fts) VALUES ('rebuild')")
        return count

    def check(self) -> None:
        """Raise MemoryError_ unless the database and its index are intact."""
        with self._transaction() as conn:
            status = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if status != "ok":
                raise MemoryError_(f"{self.path}: integrity check failed: {status}")
            try:
                conn.execute("INSERT INTO entries_fts(entries_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.DatabaseError as err:
                raise MemoryError_(f"{self.path}: the search index is damaged ({err})") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Memory({str(self.path)!r}, episode={self.episode!r})"

    # -- internals ----------------------------------------------------------------------

    def _best_score(self) -> float | None:
        value = self.best_score
        if callable(value):
            try:
                value = value()
            except Exception:  # noqa: BLE001 - a failing callback must not lose the note
                value = None
        try:
            return None if value is None else float(value)
        except (TypeError, ValueError):
            return None

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if not create and not self.path.exists():
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        except (OSError, sqlite3.Error) as err:
            raise MemoryError_(f"cannot open the memory database {self.path}: {err}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = FULL")
            _retry(lambda: _create_schema(conn))
        except sqlite3.DatabaseError as err:
            conn.close()
            raise MemoryError_(
                f"{self.path} is not a usable memory database ({err}); move it away "
                "or pass --memory with another file") from None
        self._conn = conn
        return conn

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[sqlite3.Connection | None]:
        """The connection under the object's lock; ``write`` wraps it in BEGIN IMMEDIATE."""
        with self._lock:
            conn = self._connect(create=write)
            if conn is None or not write:
                yield conn
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                raise MemoryError_(f"{self.path}: {err}") from None
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        try:
            with self._transaction() as conn:
                if conn is None:
                    return []
                return conn.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise MemoryError_(f"{self.path}: {err}") from None


def _create_schema(conn: sqlite3.Connection) -> None:
    try:
        conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _retry(action: Callable[[], object], attempts: int = 50) -> None:
    """Run ``action``, retrying briefly while another process holds the lock."""
    for attempt in range(attempts):
        try:
            action()
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.01 * attempt)


def _cut_to_tokens(text: str, tokens: int, model: str) -> str:
    """``text`` shortened (by characters, then checked) to at most ``tokens`` tokens."""
    if count_tokens(text, model) <= tokens:
        return text
    chars = max(1, tokens * 3)
    while chars > 1 and count_tokens(text[:chars] + " …", model) > tokens:
        chars = int(chars * 0.8)
    return text[:chars] + " …"


__all__ = [
    "Entry",
    "MAX_CHARS",
    "Memory",
    "MemoryEntryTooLarge",
    "MemoryError_",
    "READ_TOKENS",
    "default_path",
]
