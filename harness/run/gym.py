"""A Gymnasium environment for training agents on a task: ``harness.make``.

    import harness
    env = harness.make("tasks/house_price", max_steps=20)
    observation, info = env.reset(seed=0)        # the task message; info["system_prompt"]
    while True:
        reply = policy(observation)              # the agent's whole reply: text + one command
        observation, reward, terminated, truncated, info = env.step(reply)
        if terminated or truncated:
            break
    env.close()                                  # kills the sandbox, removes the temp files

One episode is what ``harness solve`` runs, through the same engine
(:class:`harness.run.engine.Engine`), driven one reply at a time: ``reset`` lays out a
fresh workspace and starts a fresh sandbox; ``step(reply)`` parses the reply's one
command, runs it through the ACI, records it and returns the observation the agent
would read next. Nothing calls a model: the policy is yours. The options are
``harness solve``'s (:class:`harness.run.options.EpisodeOptions`), so a scripted episode
leaves the same trajectory here as there.

Spaces. Action and observation are strings (:class:`TextSpace`, a
``gymnasium.spaces.Text`` that contains any Unicode string up to its maximum length
and samples printable ASCII without backticks, so a sampled action is a format
error, never a shell command). ``step`` also takes a ``harness.models.Reply`` (or
anything with ``.text``, optional ``.cost`` and ``.tool_calls``), so a harness model
plugs in: ``env.step(model.complete(env.unwrapped.chat(), tools=env.unwrapped.tools))``.
With ``tool_calls=True`` the system prompt asks for native tool calls, ``tools`` (and
``info["tools"]`` of ``reset``) holds the schemas to offer, and a Reply's
``tool_calls`` carries the action.

Reward. Only scorings pay: each ``validate``, ``submit`` or autosubmission that
gives a valid primary metric ``s`` pays ``norm(s) - norm(best)`` where ``best`` is
the best score before it (initially the task's baseline) and

    norm(s) = sign * (s - baseline) / |baseline|     sign = +1 (maximize), -1 (minimize)

(``|baseline|`` is replaced by 1 when the baseline is 0 or missing; a missing
baseline counts as 0; a score within the task's ``tolerance`` of the baseline, i.e.
the baseline reproduced, is exactly 0). So a submission that matches the baseline pays 0, one 10 %
better than the baseline pays 0.1, and a worse one than the best so far pays a
negative reward. While scores only improve, the rewards sum to ``norm(best)``.
Steps without a scoring, and invalid submissions, pay 0; an invalid submission
puts the scorer's message in ``info["error"]``.

End of an episode. ``terminated`` for ``submitted``, ``exit_format`` (too many
malformed replies in a row) and ``exit_error``; ``truncated`` for the limits
(``autosubmission (max_steps)``, ``autosubmission (exit_cost)``, ``exit_context``,
``exit_wall_time``). As in ``harness solve``, the limits are checked where the next
model call would be (here: at the end of each step, and once at ``reset``), every limit
scores the current submission first, within the last step (its reward included), and
the wall time bounds each command, validate and submit (each gets at most the time left).

``info``: ``step``, ``exit_status`` (None while running), ``metrics`` (of the
step's last valid scoring, else None), ``best`` (best metrics so far), ``error``,
``cost``, ``tokens`` (the context the next model call would send: a cheap estimate,
exact near the window when ``context_tokens`` is set), and at the end
``final_metrics``. ``reset`` also returns ``system_prompt``, ``tools`` and ``run_dir``.

``gymnasium.utils.env_checker.check_env`` passes, on ``harness.make(...)`` and on
``gymnasium.make("harness/Research-v0", task=...)`` after :func:`register`: spaces,
reset signature and seeding, reset/step determinism (a seeded reset gives the same
task message; a sampled action gives the same format-error observation), returned
data never shared, and for the registered environment also the render modes
("ansi", "human") and a double ``close``. It needs ``max_steps >= 2`` (the checker
insists one step does not truncate). What it cannot check of a text space (there
are no bounds or dtypes) it does not; ``contains`` is type and length only.
"""

from __future__ import annotations

import copy
import os
import shutil
import string
import tempfile
from pathlib import Path
from typing import Any

import aci
from aci import ToolContext, ToolRegistry
from harness.errors import HarnessError
from harness.run.engine import Engine, Request, load_registry
from harness.run.episode import open_memory, open_sandbox, scoring
from harness.run.options import EpisodeOptions
from harness.run.trajectory import TRAJECTORY, Recorder
from harness.sandbox import Sandbox
from harness.sandbox.threads import default_threads
from harness.scoring.scorer import Scorer, working_baseline
from harness.task.env import TaskEnv
from harness.task.spec import TASK_FILE, Task, TaskError, find_task, list_tasks, repo_tasks_dir

try:
    import gymnasium
    from gymnasium import spaces
except ImportError as _err:  # pragma: no cover - gymnasium is the [gym] extra
    raise HarnessError(
        "harness.make needs gymnasium: pip install 'harness[gym]' (or pip install gymnasium)"
    ) from _err

OBSERVATION_MAX = 2_000_000
"""Longest observation in characters (sandbox output is capped far below this)."""
ACTION_MAX = 200_000
"""Longest reply the action space contains, in characters."""
SAMPLE_CHARSET = "".join(c for c in string.printable if c not in "`~\x0b\x0c\r")
"""What ``TextSpace.sample`` draws from: printable ASCII without fences (no command)."""

TERMINATED = frozenset({aci.SUBMITTED, aci.EXIT_FORMAT, aci.EXIT_ERROR})
"""Exit statuses reached by the agent's own actions; every other status truncates."""


class TextSpace(spaces.Text):
    """A string space that contains any Unicode text of allowed length.

    ``gymnasium.spaces.Text`` contains only strings over its charset; observations
    are program output and replies are model output, so any character may occur.
    ``contains`` therefore checks the type and length only, while ``sample`` draws
    from :data:`SAMPLE_CHARSET`.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"TextSpace({self.min_length}, {self.max_length}, any unicode)"


def normalised(task: Task, value: float) -> float:
    """``sign * (value - baseline) / |baseline|``: 0 at the baseline, +0.1 for 10 % better."""
    baseline = working_baseline(task).get(task.primary.name) or 0.0
    scale = abs(baseline) or 1.0
    if abs(value - baseline) <= task.tolerance * scale:
        return 0.0  # the baseline reproduced (task.yaml stores it rounded)
    sign = 1.0 if task.primary.direction == "maximize" else -1.0
    return sign * (value - baseline) / scale


# -- the environment ------------------------------------------------------------------


class ResearchEnv(gymnasium.Env):
    """One task as a Gymnasium environment (see the module docstring)."""

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 1}

    def __init__(
        self,
        task: Task | str | Path,
        options: EpisodeOptions | None = None,
        *,
        runs_dir: str | Path | None = None,
        registry: ToolRegistry | None = None,
        memory: Any = None,
        render_mode: str | None = None,
    ) -> None:
        self.task = task if isinstance(task, Task) else load_task(task)
        self.options = options or EpisodeOptions()
        if not self.options.cpu_threads:  # fixed now: a bad HARNESS_THREADS fails at make, not mid-episode
            self.options = self.options.replace(cpu_threads=default_threads())
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise HarnessError(f"render_mode {render_mode!r}: use one of "
                               f"{', '.join(self.metadata['render_modes'])} or None")
        self.render_mode = render_mode
        self.memory = memory if memory is not None else open_memory(self.task, self.options)
        self.registry = registry or load_registry(self.options, self.memory is not None)
        self.action_space = TextSpace(ACTION_MAX)
        self.observation_space = TextSpace(OBSERVATION_MAX)
        self._env = TaskEnv.ensure(self.task)
        self._scorer = Scorer(self.task, self._env)
        self._owns_root = runs_dir is None
        self.runs_dir = Path(tempfile.mkdtemp(prefix="harness-gym-")) if runs_dir is None \
            else Path(runs_dir)
        self.episodes = 0
        self.run_dir: Path | None = None
        self.engine: Engine | None = None
        self._request: Request | None = None
        self._sandbox: Sandbox | None = None
        self._recorder: Recorder | None = None
        self._closed = False
        self._last_observation = ""

    # -- gymnasium API ----------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
        """A fresh workspace and sandbox; returns (task message, info)."""
        super().reset(seed=seed)
        if self._closed:
            raise HarnessError("this environment is closed: make a new one with harness.make")
        self._release()
        if self._owns_root and self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.episodes += 1
        self.run_dir = self.runs_dir / f"episode-{self.episodes:04d}"
        if (self.run_dir / TRAJECTORY).exists():
            raise HarnessError(f"{self.run_dir} already holds a run: pick another runs_dir")
        workspace = self.run_dir / "workspace"
        self.task.make_workspace(workspace)
        self._recorder = Recorder(self.run_dir / TRAJECTORY)
        try:
            self._sandbox = open_sandbox(self.task, self._env, workspace, self.options)
        except BaseException:
            self._recorder.close()
            self._recorder = None
            raise
        self.engine = Engine(
            self.task, self.options, files=self._sandbox.files, shell=self._sandbox,
            score=scoring(self._scorer, workspace), memory=self.memory, recorder=self._recorder,
            registry=self.registry, tool_calls=self.options.tool_calls, episode=self.run_dir.name,
        )
        self.engine.begin(model={"backend": "gym"}, seed=seed, sandbox=self._sandbox.policy,
                          extra_config={"gym": True})
        self._best_norm = 0.0  # the baseline
        self._request = self.engine.request()  # as before a model call: a limit may end it at once
        observation = self.engine.messages[1]["content"]
        self._last_observation = observation
        info = self._info(None, None)
        info["system_prompt"] = self.engine.messages[0]["content"]
        info["tools"] = copy.deepcopy(self.engine.tools)
        info["run_dir"] = str(self.run_dir)
        return observation, info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        """Run the reply's command; returns (observation, reward, terminated, truncated, info)."""
        engine = self.engine
        if engine is None:
            raise HarnessError("call reset() before step()")
        if engine.done:
            raise HarnessError(f"the episode has ended ({engine.exit_status}): call reset()")
        outcome = engine.step(action)
        scores = list(outcome.scores)
        observation = outcome.observation
        if not engine.done:
            scored = len(engine.ctx.scores)
            self._request = engine.request()  # the limits, as before the next model call
            scores += engine.ctx.scores[scored:]
        else:
            self._request = None
        status = engine.exit_status
        if status is not None and status != aci.SUBMITTED:
            observation += _ending_note(engine.ctx)
        reward, metrics, error = self._reward(scores)
        info = self._info(metrics, error)
        if status is not None:
            info["final_metrics"] = copy.deepcopy(engine.ctx.final_metrics)
            self._release()
        self._last_observation = observation
        if self.render_mode == "human":
            print(observation)
        ended_by_agent = status in TERMINATED or aci.ended_by_agent(status)  # MLGym's names too
        return (observation, reward, ended_by_agent, status is not None and not ended_by_agent, info)

    def render(self) -> str | None:
        """The last observation ("ansi" returns it; "human" prints each one in step)."""
        if self.render_mode == "ansi":
            return self._last_observation
        return None

    def close(self) -> None:
        """End any running episode, kill its sandbox, remove the temporary run directories."""
        if self._closed:
            return
        self._release()
        if self._owns_root:
            shutil.rmtree(self.runs_dir, ignore_errors=True)
        self._closed = True
        super().close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    # -- for policies -------------------------------------------------------------------

    def chat(self) -> list[dict]:
        """The messages a model would be sent next (older observations elided), copied."""
        if self.engine is None:
            return []
        return copy.deepcopy(self.engine.view()[0])

    @property
    def tools(self) -> list[dict] | None:
        """The tool schemas a model would be offered (``tool_calls=True``), else None."""
        return copy.deepcopy(self.engine.tools) if self.engine is not None else None

    @property
    def exit_status(self) -> str | None:
        return self.engine.exit_status if self.engine is not None else None

    # -- internals ------------------------------------------------------------------------

    def _reward(self, records: list[aci.ScoreRecord]) -> tuple[float, dict | None, str | None]:
        """(reward, metrics of the last valid scoring, last error) of this step's scorings."""
        primary = self.task.primary.name
        reward, metrics, error = 0.0, None, None
        for record in records:
            if record.metrics and primary in record.metrics:
                now = normalised(self.task, record.metrics[primary])
                reward += now - self._best_norm
                self._best_norm = max(self._best_norm, now)
                metrics, error = record.metrics, None
            else:
                error = record.error or f"the scorer reported no {primary}"
        return float(reward), copy.deepcopy(metrics), error

    def _info(self, metrics: dict | None, error: str | None) -> dict:
        engine = self.engine
        tokens = self._request.tokens if self._request is not None else engine.view()[1]
        return {
            "step": engine.steps,
            "exit_status": engine.exit_status,
            "metrics": metrics,
            "best": copy.deepcopy(engine.best()),
            "error": error,
            "cost": round(engine.budget.cost, 6),
            "tokens": tokens,
        }

    def _release(self) -> None:
        """End a running episode as ``interrupted`` (no scoring) and release its sandbox."""
        try:
            if self.engine is not None and self._recorder is not None:
                self.engine.finish(aci.INTERRUPTED)
        finally:
            if self._recorder is not None:
                self._recorder.close()
                self._recorder = None
            if self._sandbox is not None:
                self._sandbox.close()
                self._sandbox = None


def _ending_note(ctx: ToolContext) -> str:
    score = ctx.scores[-1] if ctx.scores else None
    if score is None:
        return f"\nThe episode has ended ({ctx.exit_status})."
    result = score.metrics if score.metrics else f"invalid: {score.error}"
    return f"\nThe episode has ended ({ctx.exit_status}); the current submission was scored: {result}"


def load_task(ref: str | os.PathLike[str]) -> Task:
    """The task ``ref`` names, from any working directory.

    A directory (or its task.yaml) or a name, as :func:`~harness.task.spec.find_task`
    takes them; a relative path that does not exist from here (the README's
    ``"tasks/house_price"`` run outside the checkout) is then looked up in the
    installed checkout, as a path from its root and by its last part as a name.
    Unknown: one line listing the known tasks.
    """
    path = Path(ref)
    try:
        return Task.load(find_task(ref))
    except TaskError:
        if path.exists():  # there, but not a task (or a broken one): find_task says why
            raise
    checkout = repo_tasks_dir()
    candidates = [] if path.is_absolute() else [checkout.parent / path, checkout / path.name]
    for candidate in candidates:
        if (candidate / TASK_FILE).is_file():
            return Task.load(candidate)
    known = ", ".join(p.name for p in list_tasks()) or "none"
    raise TaskError(f"no task {str(ref)!r} here or in {checkout}: known tasks: {known}")


def make(task: Task | str | Path, *, runs_dir: str | Path | None = None,
         render_mode: str | None = None, registry: ToolRegistry | None = None,
         **options: Any) -> ResearchEnv:
    """A Gymnasium environment for ``task`` (a directory, a name or a Task).

    ``options`` are fields of :class:`harness.run.options.EpisodeOptions` (``max_steps``,
    ``cost_limit``, ``wall_time``, ``command_timeout``, ``context_tokens``, ``tool_calls``,
    ``window``, ``keep_last``, ``tool_files``, ``gpus``, ``cpu_threads``, ``sandbox_limits``
    …), as ``harness solve`` and ``harness bench`` take them (``cpu_threads``: threads of the
    numeric libraries in the sandbox, default ``HARNESS_THREADS`` else the CPUs this process
    may use; give each of several environments run side by side its share); ``memory=True`` opens the task's
    memory database (``memory=PATH`` another file, ``memory=Memory(...)`` a given store).
    Runs go to a temporary directory removed by ``close()``, unless ``runs_dir`` is given
    (then each episode's trajectory and workspace stay in ``runs_dir/episode-NNNN``).
    """
    store, memory = None, options.get("memory")
    if isinstance(memory, (str, os.PathLike)):  # a database file
        options.update(memory=True, memory_path=Path(memory))
    elif memory is None or isinstance(memory, bool):
        options["memory"] = bool(memory)
    else:  # a store object: memory on, with this store
        store, options["memory"] = memory, True
    parsed = EpisodeOptions.build("harness.make", **options)
    loaded = task if isinstance(task, Task) else load_task(task)
    return ResearchEnv(loaded, parsed, runs_dir=runs_dir, registry=registry, memory=store,
                       render_mode=render_mode)


ENV_ID = "harness/Research-v0"


def register() -> str:
    """Register :func:`make` with Gymnasium (idempotent); returns the id to pass.

        harness.run.gym.register()
        env = gymnasium.make("harness/Research-v0", task="house_price", max_steps=20)

    Gymnasium then wraps the environment in its usual checkers and gives it a
    ``spec``. Nothing is registered at import.
    """
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="harness.run.gym:make", disable_env_checker=False)
    return ENV_ID


__all__ = ["ENV_ID", "ResearchEnv", "TextSpace", "load_task", "make", "normalised", "register"]
