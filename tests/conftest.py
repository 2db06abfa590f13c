"""Shared fixtures. Keep this small: one fixture per thing several modules need."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Task environments and other caches go to a throw-away directory, never the
    user's cache (tox sets one too; an explicit HARNESS_CACHE_DIR is respected)."""
    if os.environ.get("HARNESS_CACHE_DIR"):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        if not os.environ.get("HARNESS_DATA_DIR"):
            patch.setenv("HARNESS_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield


@pytest.fixture(scope="session")
def house_price():
    from harness.task.spec import Task

    return Task.load(REPO / "tasks" / "house_price")


@pytest.fixture(scope="session")
def titanic():
    from harness.task.spec import Task

    return Task.load(REPO / "tasks" / "titanic")


@pytest.fixture(scope="session")
def house_price_env(house_price):
    from harness.task.env import TaskEnv

    return TaskEnv.ensure(house_price)


@pytest.fixture(scope="session")
def titanic_env(titanic):
    from harness.task.env import TaskEnv

    return TaskEnv.ensure(titanic)
