"""The ``replay`` model: the actions of a recorded trajectory, replayed as replies.

Reads our JSONL trajectories (``{"kind": "step", "thought", "action", ...}`` a
line) and MLGym / SWE-agent ``.traj`` files (``{"trajectory": [{"thought",
"action", ...}], "history": [...], "info": {...}}``). After the last recorded action
it replies ``submit``.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError
from harness.models import Reply, format_reply


def _pairs_from_steps(steps: list, path: Path) -> list[tuple[str, str]]:
    actions = []
    for step in steps:
        if not isinstance(step, dict):
            continue
        action = step.get("action")
        if not isinstance(action, str) or not action.strip():
            continue
        thought = step.get("thought") or ""
        actions.append((str(thought).strip(), action.strip("\n")))
    return actions


def load_actions(path: str | Path) -> list[tuple[str, str]]:
    """``(thought, action)`` of each step of a trajectory file, in order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise HarnessError(f"cannot read trajectory {path}: {err.strerror or err}") from None
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict) and isinstance(whole.get("trajectory"), list):
        return _pairs_from_steps(whole["trajectory"], path)
    if isinstance(whole, list):
        return _pairs_from_steps(whole, path)
    steps = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise HarnessError(
                f"{path}:{number} is not JSON; expected a JSONL trajectory or an MLGym .traj"
            ) from None
        if isinstance(record, dict) and record.get("kind", "step") == "step":
            steps.append(record)
    if not steps and isinstance(whole, dict):
        raise HarnessError(
            f"{path} has no 'trajectory' list; expected a JSONL trajectory or an MLGym .traj"
        )
    return _pairs_from_steps(steps, path)


class ReplayModel:
    """Replies with recorded actions, one per call, then ``submit``."""

    backend = "replay"

    def __init__(self, actions: list[tuple[str, str]], source: str = ""):
        self.actions = list(actions)
        self.source = source
        self.name = f"replay:{source}" if source else "replay"
        self._next = 0

    @classmethod
    def from_file(cls, path: str | Path) -> ReplayModel:
        return cls(load_actions(path), str(path))

    @classmethod
    def from_steps(cls, steps: list, source: str | Path) -> ReplayModel:
        """From steps already read (an MLGym ``.traj``'s ``trajectory`` list)."""
        return cls(_pairs_from_steps(steps, Path(source)), str(source))

    def info(self) -> dict:
        return {
            "backend": self.backend,
            "model": self.name,
            "source": self.source,
            "actions": len(self.actions),
        }

    def complete(self, messages: list[dict], tools: list[dict] | None = None) -> Reply:
        if not any(m.get("role") == "assistant" for m in messages):
            self._next = 0  # a new episode starts the replay over
        if self._next < len(self.actions):
            thought, action = self.actions[self._next]
            self._next += 1
            return Reply(text=format_reply(action, thought))
        return Reply(text=format_reply("submit", "The recorded trajectory ends here."))
