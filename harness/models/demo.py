"""The ``demo`` model: the scripted agent shipped with a task.

``tasks/NAME/demo.py`` defines ``agent(task_dir)``, a generator that yields reply
texts (a DISCUSSION paragraph and one fenced command, as a language model would
write them) and receives each observation through ``.send()``. It works the task
through the ACI like any model, offline and in seconds; it is what the README's
first command runs.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Generator
from pathlib import Path

from harness.errors import HarnessError
from harness.models import Reply, format_reply

Agent = Callable[[Path], Generator[str, str, None]]

FAILURE_SIGNS = ("Traceback", "Error:", "error(s)", "NOT been applied", "not found", "No such file")


def reply(thought: str, command: str) -> str:
    """One turn of a demo agent, as a language model writes it: a discussion, then one command."""
    return format_reply(command, thought)


def failed(observation: str) -> bool:
    """Whether an observation reports a failure (not merely shows code that says "error")."""
    return any(sign in (observation or "") for sign in FAILURE_SIGNS)


def write_and_run(
    solution: str,
    path: str = "train.py",
    *,
    wrote: str = "wrote submission.csv",
    fallback: str = "python baseline.py",
) -> Generator[str, str, None]:
    """Turns that write ``solution`` into ``path`` (created already) and run it.

    Writes with the editor, or with a here-document when the edit fails; when the
    run's output lacks ``wrote`` (the script wrote no submission), runs ``fallback``
    (the task's baseline) so the episode still ends with a valid one. Use with
    ``yield from`` in a demo agent.
    """
    body = solution.rstrip("\n")
    observation = yield reply(f"Now I write the training script into {path}.",
                              f"edit 1:1\n{body}\nend_of_edit")
    if failed(observation):
        yield reply("The edit did not work, so I write the file with a here-document instead.",
                    f"cat > {path} <<'PYEOF'\n{body}\nPYEOF")
    observation = yield reply("Let me run the training script.", f"python {path}")
    if wrote not in (observation or ""):
        yield reply("The script failed. To have a valid submission at least, I fall back to "
                    "the baseline.", fallback)


def rewrite(path: str, solution: str, old_lines: int) -> Generator[str, str, None]:
    """Turns that replace all ``old_lines`` lines of the workspace file ``path`` with
    ``solution``: open it, edit it, or write it with a here-document when the edit
    fails. For tasks whose submission is a file the agent improves (a strategy, a
    heuristic). Use with ``yield from`` in a demo agent."""
    body = solution.rstrip("\n")
    yield reply(f"Let me open {path} to replace it.", f"open {path}")
    observation = yield reply(f"Now I replace all {old_lines} lines of {path} with my version.",
                              f"edit 1:{old_lines}\n{body}\nend_of_edit")
    if failed(observation):
        yield reply("The edit did not work, so I write the file with a here-document instead.",
                    f"cat > {path} <<'PYEOF'\n{body}\nPYEOF")


def load_agent(task_dir: str | Path) -> Agent:
    """The ``agent`` function of ``task_dir/demo.py``."""
    task_dir = Path(task_dir)
    path = task_dir / "demo.py"
    if not path.is_file():
        raise HarnessError(
            f"task {task_dir.name!r} ships no demo agent ({path} is missing); try another --model"
        )
    name = f"_harness_demo_{task_dir.resolve().name}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise HarnessError(f"{path} failed to load: {type(err).__name__}: {err}") from err
    finally:
        sys.modules.pop(name, None)
    agent = getattr(module, "agent", None)
    if not callable(agent):
        raise HarnessError(f"{path} defines no agent(task_dir) generator")
    return agent


def baseline_agent(task_dir: Path) -> Generator[str, str, None]:
    """The ``demo-baseline`` model: reproduces the task's baseline and submits it.

    A second offline agent for any task, so studies, reports and benchmarks of the
    harness itself have two columns to compare without a model server.
    """
    from harness.task.spec import Task

    command = Task.load(task_dir).baseline_command or "python baseline.py"
    yield reply("First I look at the files in the workspace.", "ls")
    yield reply("I run the baseline as it is, to have a valid submission.", command)
    yield reply("Let me check the baseline's score with validate (it scores the test set).", "validate")
    yield reply("I submit the baseline's predictions.", "submit")


def _content(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


class DemoModel:
    """Wraps a task's demo generator into the :class:`~harness.models.Model` protocol."""

    backend = "demo"

    def __init__(self, agent: Agent, task_dir: str | Path):
        self.agent = agent
        self.task_dir = Path(task_dir)
        self.name = "demo"
        self._gen: Generator[str, str, None] | None = None
        self._done = False

    @classmethod
    def for_task(cls, task_dir: str | Path) -> DemoModel:
        return cls(load_agent(task_dir), task_dir)

    @classmethod
    def baseline(cls, task_dir: str | Path) -> DemoModel:
        model = cls(baseline_agent, task_dir)
        model.name = "demo-baseline"
        return model

    def info(self) -> dict:
        return {"backend": self.backend, "model": self.name, "task": self.task_dir.name}

    def complete(self, messages: list[dict], tools: list[dict] | None = None) -> Reply:
        fresh = not any(m.get("role") == "assistant" for m in messages)
        text = None
        try:
            if self._gen is None or fresh:
                self._gen, self._done = self.agent(self.task_dir), False
                text = next(self._gen)
            elif not self._done:
                last = next((m for m in reversed(messages) if m.get("role") != "assistant"), {})
                text = self._gen.send(_content(last))
        except StopIteration:
            self._done = True
        if text is None:
            text = format_reply("submit", "The demo agent has nothing more to try, so it submits.")
        return Reply(text=text)
