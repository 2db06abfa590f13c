"""Where the harness keeps its caches and data on the user's machine.

Environment variables override the platform defaults so tests and CI can point
everything at a throw-away directory.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """Task environments and other rebuildable things."""
    env = os.environ.get("HARNESS_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("harness"))


def data_dir() -> Path:
    """Memory databases and prepared data sets: things worth keeping."""
    env = os.environ.get("HARNESS_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir("harness"))


def config_dir() -> Path:
    """User overrides such as ``models.toml``."""
    env = os.environ.get("HARNESS_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir("harness"))


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` (made if missing): one process at a time
    builds an environment or prepares a data set, the others wait and reuse it."""
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
