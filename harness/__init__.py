"""harness: a local, Docker-free gym for AI-research agents.

Importing the package does nothing but define names; the few that users need are
loaded lazily so ``import harness`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["EpisodeOptions", "Sandbox", "Limits", "HarnessError", "make", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Sandbox", "Limits"):
        from harness import sandbox

        return getattr(sandbox, name)
    if name == "HarnessError":
        from harness.errors import HarnessError

        return HarnessError
    if name == "EpisodeOptions":
        from harness.run.options import EpisodeOptions

        return EpisodeOptions
    if name == "make":
        from harness.run.gym import make

        return make
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
