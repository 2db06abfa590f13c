"""Download one data file: resumable, checked against its sha256.

A download goes to ``NAME.part`` next to its final place. When the connection drops
mid-file, the bytes received stay in the ``.part`` file and the next attempt (a few
automatic retries, or the next ``harness task prepare``) asks the server for the rest
with an HTTP ``Range`` header. Only a file whose sha256 matches is renamed to ``NAME``;
a mismatching one is deleted, so a corrupt download is never resumed or used.

    path = fetch(data_file, downloads_dir, meter=meter, hint="... --from PATH")

Every failure is a :class:`~harness.errors.DataError` with one line naming the file,
the URL and what to do.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Protocol

import httpx

from harness import __version__
from harness.errors import DataError

RETRIES = 3
"""Automatic resumes after a dropped connection, per URL."""
_CHUNK = 1 << 20


class Meter(Protocol):
    """Receives download progress (the CLI draws a progress bar from it)."""

    def start(self, name: str, total: int | None, done: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self) -> None: ...


class _Cut(Exception):
    """The connection ended before the whole file arrived; the .part file can resume."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    file,
    directory: Path,
    *,
    meter: Meter | None = None,
    hint: str = "",
    timeout: float = 30.0,
) -> Path:
    """Download ``file`` (a :class:`~harness.task.spec.DataFile`) into ``directory`` and
    return its path; a verified copy already there is reused without network."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / file.name
    if final.is_file() and _size_ok(final, file) and file.sha256 in (None, sha256_of(final)):
        return final
    if not file.urls:
        raise DataError(f"{file.name} has no download URL{hint}")
    part = directory / f"{file.name}.part"
    failures: list[str] = []
    unreachable = True
    headers = {"User-Agent": f"harness/{__version__}"}
    limits = httpx.Timeout(timeout, connect=min(timeout, 15.0))
    with httpx.Client(follow_redirects=True, timeout=limits, headers=headers) as client:
        for url in file.urls:
            try:
                _fetch_with_resume(client, url, part, file, meter)
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                failures.append(f"{url}: {_reason(err)}")
                continue
            except (httpx.HTTPError, _Cut, OSError) as err:
                unreachable = False
                failures.append(f"{url}: {_reason(err)}")
                continue
            unreachable = False
            got = sha256_of(part) if file.sha256 is not None else None
            if got != file.sha256:
                part.unlink(missing_ok=True)
                failures.append(
                    f"{url}: sha256 {got[:12]}… is not the expected {file.sha256[:12]}… "
                    "(a corrupted download, or the file changed on the server; deleted)"
                )
                continue
            os.replace(part, final)
            return final
    first = failures[0]
    if len(failures) > 1:
        first += f" (and {len(failures) - 1} mirror{'s' if len(failures) > 2 else ''})"
    if unreachable:
        raise DataError(f"cannot download {file.name} from {first} (offline?){hint}")
    raise DataError(f"could not download {file.name} from {first}{hint}")


def _fetch_with_resume(client: httpx.Client, url: str, part: Path, file, meter) -> None:
    """Get ``url`` into ``part``, resuming after dropped connections; raises on failure."""
    for attempt in range(RETRIES + 1):
        try:
            _get(client, url, part, file, meter)
            return
        except (_Cut, httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError):
            if attempt == RETRIES:
                raise _Cut(
                    f"the connection dropped {RETRIES + 1} times; {part.stat().st_size} bytes "
                    f"are kept in {part.name} and the next attempt resumes them"
                ) from None


def _get(client: httpx.Client, url: str, part: Path, file, meter) -> None:
    have = part.stat().st_size if part.is_file() else 0
    if file.size is not None and have > file.size:
        have = 0  # longer than the file: not a prefix of it
    if file.size is not None and have == file.size:
        return  # complete, only never verified
    headers = {"Range": f"bytes={have}-"} if have else {}
    with client.stream("GET", url, headers=headers) as response:
        if response.status_code == 416 and have:  # the range starts at the end: restart
            part.unlink()
            raise _Cut("the server refused to resume")
        response.raise_for_status()
        if response.status_code == 206 and have:
            start = _range_start(response.headers.get("Content-Range", ""))
            if start != have:
                part.unlink()
                raise _Cut(f"the server resumed at byte {start}, not {have}")
            mode = "ab"
        else:
            have, mode = 0, "wb"  # the server sends the whole file
        length = response.headers.get("Content-Length")
        total = file.size or (have + int(length) if length and length.isdigit() else None)
        if meter is not None:
            meter.start(file.name, total, have)
        received = have
        try:
            with part.open(mode) as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    if meter is not None:
                        meter.advance(len(chunk))
        finally:
            if meter is not None:
                meter.finish()
    if total is not None and received < total:
        raise _Cut(f"got {received} of {total} bytes")


def _range_start(content_range: str) -> int | None:
    match = re.match(r"bytes (\d+)-", content_range.strip())
    return int(match.group(1)) if match else None


def _size_ok(path: Path, file) -> bool:
    return file.size is None or path.stat().st_size == file.size


def _reason(err: BaseException) -> str:
    """The cause of a failed request in a few words."""
    if isinstance(err, httpx.HTTPStatusError):
        return f"HTTP {err.response.status_code} {err.response.reason_phrase}"
    if isinstance(err, httpx.TimeoutException):
        return "timed out"
    text = str(err) or type(err).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text.strip().splitlines()[0])
    return text[:200]
