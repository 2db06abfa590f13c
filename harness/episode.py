"""One episode: the agent works a task through the ACI until it submits or a limit ends it.

The loop (``Episode._loop``) fits on a screen: ask the model, parse one action, run
it, record the step, check the limits. Everything else (setting up the workspace,
the sandbox and the scorer; writing results) lives in small helpers around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aci
from aci import Budget, History, ToolContext, ToolRegistry, execute, parse_reply
from harness.errors import HarnessError, ModelError
from harness.models import ContextLengthExceeded, Model, model_info
from harness.sandbox import Limits, Sandbox
from harness.scorer import Scorer, data_set_in_use, working_baseline
from harness.taskenv import TaskEnv
from harness.tasks import Task
from harness.tokens import estimate_tokens
from harness.trajectory import RESULTS, TRAJECTORY, Recorder, write_json_atomic
from harness.versions import host, versions


@dataclass
class EpisodeSettings:
    """Overrides of the task's limits and the episode's knobs (None: the task's value)."""

    max_steps: int | None = None
    cost_limit: float | None = None
    wall_time: float | None = None
    command_timeout: float | None = None
    context_tokens: int | None = None
    """The model's context window in tokens; None leaves it unchecked."""
    seed: int | None = None
    window: int = 100
    """Lines the file viewer shows."""
    keep_last: int = 5
    """Observations kept in full; older ones are elided to one line."""
    tool_files: list[Path] = field(default_factory=list)
    memory: Any = None
    """A memory store (``write``/``read``), or None to turn the memory tools off."""
    gpus: tuple[int, ...] = ()
    cpu_threads: int = 0
    """Threads numeric libraries may use in the sandbox (0: their default); parallel
    studies cap it so episodes don't thrash each other."""
    sandbox_limits: Limits = field(default_factory=Limits)
    labels: dict[str, Any] = field(default_factory=dict)
    """Recorded as is in results.json (a study puts its name, the model alias and the run here)."""


@dataclass
class StepInfo:
    """What the live display shows after each step."""

    n: int
    action: str
    best: float | None
    tokens: int
    cost: float
    max_steps: int


@dataclass
class EpisodeResult:
    run_dir: Path
    exit_status: str
    final_metrics: dict[str, float] | None
    best_validation: dict[str, float] | None
    validations: list[dict]
    steps: int
    tokens_in: int
    tokens_out: int
    cost: float
    wall_time_s: float
    error: str | None = None


# -- the parts an episode is built from (harness.gym builds its steps from them too) --


def episode_budget(task: Task, settings: EpisodeSettings) -> Budget:
    """The episode's Budget: the settings' overrides, else the task's limits."""
    limits, s = task.limits, settings
    return Budget(
        max_steps=s.max_steps if s.max_steps is not None else limits.max_steps,
        max_cost=s.cost_limit if s.cost_limit is not None else limits.cost_limit,
        context_tokens=s.context_tokens,
        max_wall_time_s=s.wall_time if s.wall_time is not None else limits.wall_time,
    )


def open_sandbox(task: Task, env: TaskEnv, workspace: Path, settings: EpisodeSettings) -> Sandbox:
    """The agent's sandbox over ``workspace`` with the task environment and limits."""
    limits = settings.sandbox_limits
    if settings.cpu_threads:
        limits = replace(limits, cpu_threads=settings.cpu_threads)
    return Sandbox(
        workspace, network=task.needs.network, binds=env.binds(), env=env.env(),
        limits=limits, gpus=settings.gpus, readonly=task.readonly,
    )


def tool_context(
    task: Task,
    sandbox: Sandbox,
    scorer: Scorer,
    workspace: Path,
    *,
    command_timeout: float,
    memory: Any = None,
    window: int = 100,
    recorder: Recorder | None = None,
) -> ToolContext:
    """The ToolContext of one episode; scores go to ``recorder`` as ``score`` records."""
    on_score = None
    if recorder is not None:
        def on_score(record: aci.ScoreRecord) -> None:
            recorder.write("score", split="test", step=record.step, source=record.kind,
                           metrics=record.metrics, error=record.error)
    return ToolContext(
        files=sandbox.files, run=sandbox.run, command_timeout=command_timeout,
        score=lambda: scorer.score(workspace), baseline=working_baseline(task), memory=memory,
        window=window, on_score=on_score,
        cwd=lambda: sandbox.cwd,
    )


def opening_messages(task: Task, registry: ToolRegistry, budget: Budget, *, window: int,
                     command_timeout: float, tool_calls: bool = False) -> list[dict]:
    """The system prompt and the task message every episode starts with."""
    return [
        {"role": "system", "content": aci.system_prompt(
            registry, window=window, budget=budget, command_timeout=command_timeout,
            tool_calls=tool_calls)},
        {"role": "user", "content": aci.task_prompt(task.description, baseline=working_baseline(task))},
    ]


def best_metrics(task: Task, records: list[aci.ScoreRecord]) -> dict[str, float] | None:
    """The metrics of the best record by the task's primary metric (None if none valid)."""
    primary = task.primary.name
    best = None
    for record in records:
        if record.metrics and primary in record.metrics and (
            best is None or task.is_better(record.metrics[primary], best[primary])
        ):
            best = record.metrics
    return best


def episode_memory(memory: Any, episode: str, task: Task,
                   best_score: Callable[[], float | None]) -> Any:
    """The memory handle for one episode: stamped with its id and best score."""
    if memory is None or not hasattr(memory, "for_episode"):
        return memory
    return memory.for_episode(episode, best_score=best_score, metric=task.primary.name)


def episode_config(settings: EpisodeSettings, budget: Budget, command_timeout: float,
                   registry: ToolRegistry) -> dict:
    """The limits and knobs of an episode, as recorded in its trajectory and results."""
    s = settings
    return {
        "max_steps": budget.max_steps, "cost_limit": budget.max_cost,
        "wall_time": budget.max_wall_time_s, "command_timeout": command_timeout,
        "context_tokens": s.context_tokens, "window": s.window, "keep_last": s.keep_last,
        "tools": registry.names(), "memory": s.memory is not None, "gpus": list(s.gpus),
    }


class Episode:
    def __init__(
        self,
        task: Task,
        model: Model,
        run_dir: Path,
        settings: EpisodeSettings | None = None,
        *,
        registry: ToolRegistry | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.task, self.model, self.run_dir = task, model, Path(run_dir)
        self.settings = settings or EpisodeSettings()
        exclude = () if self.settings.memory is not None else ("memory_write", "memory_read")
        self.registry = registry or ToolRegistry.load(self.settings.tool_files, exclude=exclude)
        self.on_step = on_step or (lambda info: None)
        self.say = on_status or (lambda text: None)
        self.budget = episode_budget(task, self.settings)
        self.command_timeout = self.settings.command_timeout or task.limits.command_timeout
        self.tokens_in = self.tokens_out = 0
        self.messages: list[dict] = []
        self.error: str | None = None

    # -- setup and teardown ----------------------------------------------------

    def run(self) -> EpisodeResult:
        """Run the episode to its end; the run directory holds everything recorded."""
        if (self.run_dir / TRAJECTORY).exists():
            raise HarnessError(f"{self.run_dir} already holds a run: pick another --out")
        workspace = self.run_dir / "workspace"
        self.task.make_workspace(workspace)
        self.say(f"preparing the task environment for {self.task.id}")
        env = TaskEnv.ensure(self.task, progress=self.say)
        scorer = Scorer(self.task, env)
        started = datetime.now(UTC)
        self.budget.start()
        with Recorder(self.run_dir / TRAJECTORY) as recorder, open_sandbox(
            self.task, env, workspace, self.settings
        ) as sandbox:
            self.recorder = recorder
            recorder.write("start", task=self.task.id, task_version=self.task.version,
                           model=model_info(self.model), seed=self.settings.seed,
                           config=self._config(), versions=versions(), time=started.isoformat(),
                           sandbox=sandbox.policy)
            # Memory notes carry this episode's name and its best score so far.
            memory = episode_memory(self.settings.memory, self.run_dir.name, self.task,
                                    lambda: (best_metrics(self.task, ctx.scores) or {}).get(
                                        self.task.primary.name))
            ctx = tool_context(self.task, sandbox, scorer, workspace,
                               command_timeout=self.command_timeout, memory=memory,
                               window=self.settings.window, recorder=recorder)
            self.ctx = ctx
            status = self._guarded_loop(ctx)
            if status in (aci.EXIT_CONTEXT, aci.EXIT_WALL_TIME, aci.EXIT_FORMAT) or aci.is_autosubmission(status):
                # Score what the agent left, so every finished episode has a final score.
                ctx.autosubmit(status)
            result = self._result(ctx, status)
            recorder.write("end", exit_status=status, final_metrics=result.final_metrics,
                           error=self.error)
        write_json_atomic(self.run_dir / RESULTS, self._results_json(result, started, env))
        return result

    def _guarded_loop(self, ctx: ToolContext) -> str:
        """The loop, with Ctrl-C and model failures turned into exit statuses."""
        try:
            return self._loop(ctx)
        except KeyboardInterrupt:
            return aci.INTERRUPTED
        except ContextLengthExceeded as err:
            self.error = str(err)
            return aci.EXIT_CONTEXT
        except ModelError as err:
            if self.budget.steps == 0:
                raise  # nothing was done yet: tell the user plainly
            self.error = str(err)
            return aci.EXIT_ERROR

    # -- the loop ----------------------------------------------------------------

    def _loop(self, ctx: ToolContext) -> str:
        tool_calls = bool(getattr(self.model, "tool_calls", False))
        schemas = self.registry.tool_schemas() if tool_calls else None
        self.messages = opening_messages(self.task, self.registry, self.budget,
                                         window=self.settings.window,
                                         command_timeout=self.command_timeout, tool_calls=tool_calls)
        # Without a context window the history is measured with a cheap estimate; with
        # one, exactly, but only once a free upper bound comes near the window.
        window = self.budget.context_tokens
        history = History(keep_last=self.settings.keep_last, model=getattr(self.model, "name", ""),
                          count=None if window else estimate_tokens, window=window)
        while True:
            view, context = history.view(self.messages)
            status = self.budget.exceeded(context)
            if status:
                return status
            reply = self.model.complete(view, tools=schemas)
            self.budget.add_step(reply.cost)
            self.tokens_in += reply.usage.prompt_tokens
            self.tokens_out += reply.usage.completion_tokens
            ctx.step = self.budget.steps
            assistant: dict = {"role": "assistant", "content": reply.text}
            if reply.tool_calls:
                assistant["tool_calls"] = reply.tool_calls
            self.messages.append(assistant)
            try:
                action = parse_reply(reply.text, reply.tool_calls, self.registry)
            except aci.FormatError as err:
                self._record_step(reply, "", err.observation or aci.format_error_message(str(err)), None, 0.0)
                if self.budget.format_error():
                    return aci.EXIT_FORMAT
                continue
            self.budget.format_ok()
            outcome = execute(self.registry, action, ctx)
            observation = aci.next_step(outcome.observation, ctx.open_file, ctx.cwd() if ctx.cwd else None)
            self._record_step(reply, action.command, observation, outcome.exit_code, outcome.elapsed_s,
                              thought=action.thought, tool_call_id=action.tool_call_id)
            if ctx.done:
                return ctx.exit_status

    def _record_step(self, reply: Any, action: str, observation: str, exit_code: int | None,
                     elapsed: float, thought: str = "", tool_call_id: str | None = None) -> None:
        # A native tool call is answered by a tool message, as the chat protocol requires.
        if tool_call_id:
            self.messages.append({"role": "tool", "tool_call_id": tool_call_id, "content": observation})
        else:
            self.messages.append({"role": "user", "content": observation})
        self.recorder.write(
            "step", n=self.budget.steps, thought=thought, action=action, observation=observation,
            reply=reply.text, tokens_in=reply.usage.prompt_tokens,
            tokens_out=reply.usage.completion_tokens, tokens_estimated=reply.usage.estimated,
            cost=reply.cost, model_s=round(reply.elapsed_s, 4), elapsed_s=round(elapsed, 4),
            exit_code=exit_code,
        )
        best = best_metrics(self.task, self.ctx.scores)
        self.on_step(StepInfo(
            self.budget.steps, action.splitlines()[0] if action.strip() else "(format error)",
            best[self.task.primary.name] if best else None, self.tokens_in + self.tokens_out,
            self.budget.cost, self.budget.max_steps,
        ))

    # -- results -------------------------------------------------------------------

    def _result(self, ctx: ToolContext, status: str) -> EpisodeResult:
        validations = [asdict(r) for r in ctx.scores]
        # Best Attempt counts every scored attempt, the submission included (as MLGym's does).
        best = best_metrics(self.task, ctx.scores)
        return EpisodeResult(
            run_dir=self.run_dir, exit_status=status, final_metrics=ctx.final_metrics,
            best_validation=best, validations=validations, steps=self.budget.steps,
            tokens_in=self.tokens_in, tokens_out=self.tokens_out, cost=round(self.budget.cost, 6),
            wall_time_s=round(self.budget.elapsed_s, 3), error=self.error,
        )

    def _config(self) -> dict:
        return episode_config(self.settings, self.budget, self.command_timeout, self.registry)

    def _results_json(self, result: EpisodeResult, started: datetime, env: TaskEnv) -> dict:
        return {
            "task": self.task.id, "task_version": self.task.version,
            "model": model_info(self.model), "seed": self.settings.seed,
            "exit_status": result.exit_status, "final_metrics": result.final_metrics,
            "best_validation": result.best_validation, "validations": result.validations,
            "primary_metric": self.task.primary.name,
            "direction": self.task.primary.direction, "baseline": working_baseline(self.task),
            "published_baseline": self.task.published_baseline or None, "data_set": data_set_in_use(self.task),
            "steps": result.steps, "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
            "cost_usd": result.cost, "wall_time_s": result.wall_time_s, "error": result.error,
            "started": started.isoformat(), "ended": datetime.now(UTC).isoformat(),
            "config": self._config(), "versions": versions(), "host": host(),
            "task_env": env.info, "labels": self.settings.labels,
        }
