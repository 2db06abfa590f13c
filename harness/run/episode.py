"""One episode in a run directory: ``harness solve``, a study's workers, the attacker.

:class:`Episode` lays out the workspace, the task environment, the sandbox and the
scorer, drives the :class:`~harness.run.engine.Engine` with a model until it ends, and
writes ``results.json``. The step itself (parse, run, record, limits, exit status)
is the engine's: the Gymnasium env drives the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aci import ToolRegistry
from harness.errors import HarnessError, ModelError
from harness.models import Model, model_info
from harness.run.engine import Engine, Scoring, Step
from harness.run.options import (
    MLGYM_MIN_WINDOW,
    EpisodeOptions,
    memory_on,
    small_window,
    tool_calls_mode,
)
from harness.run.trajectory import RESULTS, TRAJECTORY, Recorder, write_json_atomic
from harness.sandbox import Sandbox
from harness.scoring.scorer import Score, Scorer, data_set_in_use, working_baseline
from harness.task.env import TaskEnv
from harness.task.spec import Task
from harness.versions import host, versions

EpisodeSettings = EpisodeOptions
"""The former name of :class:`~harness.run.options.EpisodeOptions` (harness.run.replay and
scripts/bench_episode.py still use it)."""


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


# -- the parts a face builds an engine from (harness.run.gym builds its episodes from them too) --


def open_sandbox(task: Task, env: TaskEnv, workspace: Path, options: EpisodeOptions) -> Sandbox:
    """The agent's sandbox over ``workspace`` with the task environment and limits."""
    limits = options.sandbox_limits
    if options.cpu_threads:
        limits = replace(limits, cpu_threads=options.cpu_threads)
    return Sandbox(
        workspace, network=task.needs.network, binds=env.binds(), env=env.env(),
        limits=limits, gpus=options.gpus, readonly=task.readonly,
    )


def scoring(scorer: Scorer, workspace: Path) -> Scoring:
    """The engine's scoring of ``workspace``: within a limit when the wall time sets one."""

    def score(limit_s: float | None) -> Score:
        if limit_s is None or limit_s >= scorer.timeout:
            return scorer.score(workspace)
        result = scorer.score(workspace, timeout=limit_s)
        if result.error and "timed out" in result.error:
            return Score(None, f"{result.error}: the episode's wall time ran out", result.elapsed_s)
        return result

    return score


def open_memory(task: Task, options: EpisodeOptions) -> Any:
    """The task's memory store when the options (or the profile) turn memory on (None
    without SQLite FTS5)."""
    if not memory_on(task, options):
        return None
    try:
        from harness.run.memory import Memory
    except ImportError:
        return None
    return Memory.for_task(task.id, path=options.memory_path)


class Episode:
    """One task, one model, one run directory (see the module docstring)."""

    def __init__(
        self,
        task: Task,
        model: Model,
        run_dir: Path,
        options: EpisodeOptions | None = None,
        *,
        registry: ToolRegistry | None = None,
        memory: Any = None,
        on_step: Callable[[StepInfo], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_phase: Callable[[str, str], None] | None = None,
    ) -> None:
        """``memory``: a store to use instead of the one ``options.memory`` opens;
        ``on_phase``: the engine's phase events (:data:`harness.run.engine.PhaseHook`).

        Raises HarnessError at once for options the model cannot honour (``tool_calls``
        with a model that writes text), before anything is created.
        """
        self.task, self.model, self.run_dir = task, model, Path(run_dir)
        self.options = options or EpisodeOptions()
        self.profile_note = ""
        small = small_window(task, model, self.options)
        if small:  # MLGym's history would overflow it within a few steps: ours fits it
            self.options = self.options.replace(aci_profile="harness")
            self.profile_note = (
                f"interface profile harness: the model's {small:,}-token window is far under the "
                f"{MLGYM_MIN_WINDOW:,}+ of MLGym-Bench's models, where MLGym's history would end the "
                "episode exit_context (--aci-profile mlgym forces it)")
        self.tool_calls = tool_calls_mode(model, self.options)
        self.memory = memory if memory is not None else open_memory(task, self.options)
        self.registry = registry
        self.on_step = on_step or (lambda info: None)
        self.say = on_status or (lambda text: None)
        self.on_phase = on_phase
        self.engine: Engine | None = None

    def run(self) -> EpisodeResult:
        """Run the episode to its end; the run directory holds everything recorded."""
        if (self.run_dir / TRAJECTORY).exists():
            raise HarnessError(f"{self.run_dir} already holds a run: pick another --out")
        workspace = self.run_dir / "workspace"
        self.task.make_workspace(workspace)
        if self.profile_note:
            self.say(self.profile_note)
        self.say(f"preparing the task environment for {self.task.id}")
        env = TaskEnv.ensure(self.task, progress=self.say)
        scorer = Scorer(self.task, env)
        started = datetime.now(UTC)
        with Recorder(self.run_dir / TRAJECTORY) as recorder, open_sandbox(
            self.task, env, workspace, self.options
        ) as sandbox:
            engine = self.engine = Engine(
                self.task, self.options, files=sandbox.files, shell=sandbox,
                score=scoring(scorer, workspace), memory=self.memory, recorder=recorder,
                registry=self.registry, tool_calls=self.tool_calls,
                model_name=getattr(self.model, "name", ""), episode=self.run_dir.name, model=self.model,
                on_phase=self.on_phase,
            )
            engine.begin(model=model_info(self.model), time=started.isoformat(), sandbox=sandbox.policy)
            self._drive(engine)
        result = self._result(engine)
        write_json_atomic(self.run_dir / RESULTS, self._results_json(engine, result, started, env))
        return result

    def _drive(self, engine: Engine) -> None:
        """Ask the model, step, until the engine ends the episode (Ctrl-C and model
        failures end it by the engine's policy)."""
        try:
            while (request := engine.request()) is not None:
                reply = self.model.complete(request.messages, tools=request.tools)
                self._report(engine, engine.step(reply))
        except (KeyboardInterrupt, ModelError) as err:
            engine.stop(err)

    def _report(self, engine: Engine, step: Step) -> None:
        best = engine.best_primary()
        self.on_step(StepInfo(
            step.n, step.action.splitlines()[0] if step.action.strip() else "(format error)",
            best, engine.tokens_in + engine.tokens_out, engine.budget.cost, engine.budget.max_steps,
        ))

    # -- results -------------------------------------------------------------------

    def _result(self, engine: Engine) -> EpisodeResult:
        ctx = engine.ctx
        # Best Attempt counts every scored attempt, the submission included (as MLGym's does).
        return EpisodeResult(
            run_dir=self.run_dir, exit_status=engine.exit_status, final_metrics=ctx.final_metrics,
            best_validation=engine.best(), validations=[asdict(r) for r in ctx.scores],
            steps=engine.steps, tokens_in=engine.tokens_in, tokens_out=engine.tokens_out,
            cost=round(engine.budget.cost, 6), wall_time_s=round(engine.budget.elapsed_s, 3),
            error=engine.error,
        )

    def _results_json(self, engine: Engine, result: EpisodeResult, started: datetime, env: TaskEnv) -> dict:
        return {
            "task": self.task.id, "task_version": self.task.version,
            "model": model_info(self.model), "seed": self.options.seed,
            "exit_status": result.exit_status, "final_metrics": result.final_metrics,
            "best_validation": result.best_validation, "validations": result.validations,
            "primary_metric": self.task.primary.name,
            "direction": self.task.primary.direction, "baseline": working_baseline(self.task),
            "published_baseline": self.task.published_baseline or None, "data_set": data_set_in_use(self.task),
            "steps": result.steps, "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
            "cost_usd": result.cost, "wall_time_s": result.wall_time_s, "error": result.error,
            "started": started.isoformat(), "ended": datetime.now(UTC).isoformat(),
            "config": engine.config(), "versions": versions(), "host": host(),
            "task_env": env.info, "labels": self.options.labels,
        }
