"""The episode engine: the one place where a step of an episode is written.

An :class:`Engine` holds one episode's state (messages, elided history, budget,
tool context, recorder) and its exit-status policy. A face drives it:

    engine.begin(model=...)                        # the start record, the clock
    while (request := engine.request()) is not None:    # limits, checked before each call
        reply = model.complete(request.messages, tools=request.tools)
        engine.step(reply)                         # parse, run, record, maybe end
    engine.exit_status

``Episode`` (``harness solve``, studies, the attacker) runs that loop with a model;
the Gymnasium env runs one ``step`` per ``env.step(reply)`` followed by ``request()``;
tests drive it with scripted replies. Nothing else loops, so the three cannot drift.

What the engine uses from outside it takes as small protocols (the shell, the
workspace files, the scorer, the memory, the recorder); the model is the face's.

Exit statuses are MLGym's (see :mod:`aci.limits`). The policy: the step, cost,
context, wall-time and format limits end the episode by scoring what the agent
left (an autosubmission under that status); ``submitted`` ends it by the agent's
own submit; ``interrupted`` and ``exit_error`` end it without a score. What breaks in
from outside a step (Ctrl-C, a model failure) goes through :meth:`Engine.stop`.

The ACI profile (:mod:`aci.profiles`, chosen by :func:`harness.run.options.aci_profile`)
sets the viewer's window, the step counter, the edit check, MLGym's exit statuses and
what a malformed reply costs: under ``mlgym`` it is asked again within the step (the
next request carries the bad reply and the format error, neither kept in the
history, as MLGym's agent does) and the third malformed reply of a step ends the
episode. ``--agent-config`` swaps our prompts for an MLGym agent config's templates.

Wall time bounds everything the agent starts: a command, a ``validate`` or a
``submit`` gets at most the time left, and is stopped (and told so) when it runs
out. The autosubmission that closes an episode is the harness's own scoring and
gets the scorer's full time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aci
from aci import (
    Budget,
    History,
    ScoreFailure,
    ScoreRecord,
    ToolContext,
    ToolRegistry,
    execute,
    parse_reply,
)
from aci.agent_config import load_agent_config
from aci.history import elided, mlgym_elided
from aci.lint import Flake8
from aci.protocols import Files, Memory, RunResult, ScoreLike
from aci.tokens import MESSAGE_OVERHEAD
from harness.errors import HarnessError, ModelError
from harness.models import ContextLengthExceeded, Reply, Usage
from harness.run.options import EpisodeOptions, aci_profile
from harness.sandbox.threads import default_threads
from harness.scoring.scorer import working_baseline
from harness.task.spec import Task
from harness.tokens import estimate_tokens
from harness.versions import versions

HISTORY_BLOCK = 5
"""Observations the ``harness`` profile elides at a time (see :mod:`aci.history`)."""
OPENAI_TOKENIZED = ("gpt-", "o1", "o3", "o4", "chatgpt")
"""Model names whose tokenizer the offline counter has exactly."""
OFFLINE_HEADROOM = 1.15
"""Offline counts of another model's tokenizer may run this much low."""

AUTOSUBMITTING = frozenset({aci.AUTOSUBMIT_STEPS, aci.AUTOSUBMIT_COST, aci.EXIT_CONTEXT,
                            aci.EXIT_WALL_TIME, aci.EXIT_FORMAT})
"""Statuses that end an episode by scoring the current submission."""

# -- what the engine needs from outside (files, memory and results as aci states them) --


class Shell(Protocol):
    """The agent's persistent shell (a :class:`harness.sandbox.Sandbox`): its ``run`` is an
    :class:`aci.protocols.Shell`; ``cwd`` is the directory the next command starts in."""

    cwd: str

    def run(self, cmd: str, timeout: float) -> RunResult: ...


class Scoring(Protocol):
    """Scores the workspace's current submission within ``limit_s`` seconds at most
    (None: the scorer's own limit). The engine turns it into the :class:`aci.protocols.Scorer`
    its tools call, bounded by the wall time left."""

    def __call__(self, limit_s: float | None) -> ScoreLike: ...


PhaseHook = Callable[[str, str], None]
"""``on_phase(name, detail)``: what the episode is doing now, for a live view. Names:
``model`` (a request was handed out: the face is waiting for the model; detail: the
request's tokens), ``command`` (an action runs; detail: its first line, agent text
that a display must pass through :func:`harness.textsafe.visible`), ``scoring`` (a
validate or submit scores; detail: which), ``autosubmitting`` (a limit ended the
episode and the current submission is scored; detail: the status), and ``""``
(nothing runs: the step or the episode has ended). A phase lasts until the next
call. Faces may add their own (``retry``: a model call is retried)."""


class Sink(Protocol):
    """Where records go (:class:`harness.run.trajectory.Recorder`)."""

    def write(self, kind: str, **fields: Any) -> None: ...


# -- what it gives back ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What the next model call sends."""

    messages: list[dict]
    """The elided view of the conversation."""
    tools: list[dict] | None
    """Tool schemas in tool-call mode, else None."""
    tokens: int
    """The view's size in tokens (an estimate without a context window)."""


@dataclass(frozen=True)
class Step:
    """What one reply did."""

    n: int
    action: str
    """The command run ("" for a malformed reply)."""
    thought: str
    observation: str
    """What the agent reads next."""
    exit_code: int | None
    elapsed_s: float
    scores: tuple[ScoreRecord, ...] = ()
    """Scorings made during this step (validate, submit, an autosubmission)."""
    exit_status: str | None = None
    """Set when the episode ended with this step."""
    retry: int = 0
    """N > 0: the reply was malformed and is asked again within the same step (the
    N-th time); no step was spent and nothing ran."""


@dataclass(frozen=True)
class _Stopped:
    """A command's result when the episode's wall time cut it short or left it no time."""

    output: str
    exit_code: int | None = None
    timed_out: bool = False
    restarted: bool = False
    truncated: bool = False
    elapsed_s: float = 0.0


# -- pieces the faces share --------------------------------------------------------------


def episode_budget(task: Task, options: EpisodeOptions) -> Budget:
    """The episode's Budget: the options' overrides, else the task's limits."""
    limits, o = task.limits, options
    return Budget(
        max_steps=o.max_steps if o.max_steps is not None else limits.max_steps,
        max_cost=o.cost_limit if o.cost_limit is not None else limits.cost_limit,
        context_tokens=o.context_tokens,
        max_wall_time_s=o.wall_time if o.wall_time is not None else limits.wall_time,
    )


def load_registry(options: EpisodeOptions, memory: bool) -> ToolRegistry:
    """The built-in, installed and ``tool_files`` tools; the memory tools only with a memory."""
    exclude = () if memory else ("memory_write", "memory_read")
    return ToolRegistry.load(list(options.tool_files), exclude=exclude)


def best_metrics(task: Task, records: list[ScoreRecord]) -> dict[str, float] | None:
    """The metrics of the best record by the task's primary metric (None if none valid)."""
    primary = task.primary.name
    best = None
    for record in records:
        if record.metrics and primary in record.metrics and (
            best is None or task.is_better(record.metrics[primary], best[primary])
        ):
            best = record.metrics
    return best


def as_reply(reply: Any) -> Reply:
    """A model :class:`Reply` from a string or anything Reply-like (``.text``, ``.cost`` …)."""
    if isinstance(reply, Reply):
        return reply
    if isinstance(reply, str):
        return Reply(text=reply)
    text = getattr(reply, "text", None)
    if text is None and not hasattr(reply, "tool_calls"):
        raise HarnessError(f"step() takes the agent's reply as a string (or a Reply), "
                           f"not {type(reply).__name__}")
    return Reply(text=text or "", usage=getattr(reply, "usage", None) or Usage(),
                 cost=float(getattr(reply, "cost", 0.0) or 0.0),
                 tool_calls=list(getattr(reply, "tool_calls", None) or []),
                 raw=getattr(reply, "raw", None), elapsed_s=float(getattr(reply, "elapsed_s", 0.0) or 0.0))


def finish_reason(reply: Reply) -> str | None:
    """Why the model stopped writing (``stop``, ``length``, ``tool_calls``), when known."""
    reason = getattr(reply, "finish_reason", None)
    if reason is None and isinstance(reply.raw, dict):
        choices = reply.raw.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            reason = choices[0].get("finish_reason")
    return reason


# -- the engine ----------------------------------------------------------------------------


class Engine:
    """One episode's state and its step (see the module docstring)."""

    def __init__(
        self,
        task: Task,
        options: EpisodeOptions | None = None,
        *,
        files: Files,
        shell: Shell | None = None,
        score: Scoring | None = None,
        memory: Memory | None = None,
        recorder: Sink | None = None,
        registry: ToolRegistry | None = None,
        tool_calls: bool = False,
        model_name: str = "",
        episode: str = "",
        on_phase: PhaseHook | None = None,
        model: Any = None,
        history: str | None = None,
    ) -> None:
        self.task = task
        self.on_phase: PhaseHook = on_phase or (lambda name, detail: None)
        self.options = options or EpisodeOptions()
        self.profile = aci_profile(task, self.options)
        templates = load_agent_config(self.options.agent_config) if self.options.agent_config else None
        self.window = self.options.window or (templates.window if templates else None) or self.profile.window
        self.registry = registry or load_registry(self.options, memory is not None)
        self.budget = episode_budget(task, self.options)
        self.command_timeout = self.options.command_timeout or task.limits.command_timeout
        self.tool_calls = tool_calls
        self.tools = self.registry.tool_schemas() if tool_calls else None
        self.recorder = recorder
        self._shell, self._scoring = shell, score
        self._ending = False  # the closing autosubmission is not bound by the wall time
        self._ended = False
        self._retry: list[dict] = []  # a malformed reply and its answer, sent once more
        self._retries = 0  # malformed replies in the current step (mlgym profile)
        self.error: str | None = None
        self.tokens_in = self.tokens_out = 0
        if memory is not None and hasattr(memory, "for_episode"):
            # Notes carry this episode's name and its best score so far.
            memory = memory.for_episode(episode, best_score=self.best_primary, metric=task.primary.name)
        self.ctx = ToolContext(
            files=files, run=self._run if shell is not None else None,
            command_timeout=self.command_timeout, score=self._score if score is not None else None,
            baseline=working_baseline(task), memory=memory, window=self.window,
            on_score=self._on_score, cwd=(lambda: shell.cwd) if shell is not None else None,
            lint=Flake8() if self.profile.lint == "flake8" else None,
            submission=tuple(task.submission), mlgym_exits=self.profile.mlgym_exits,
        )
        self.history = self._make_history(model, model_name, history)
        self.prompts = aci.Prompts(
            self.registry, self.window, self.budget, command_timeout=self.command_timeout,
            tool_calls=tool_calls, step_counter=self.profile.step_counter,
            submit_ends=self.profile.mlgym_exits, templates=templates, task_values=_task_values(task, self),
        )
        self.messages: list[dict] = [
            {"role": "system", "content": self.prompts.system()},
            {"role": "user", "content": self.prompts.task(task.description, working_baseline(task))},
        ]

    # -- state ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._ended

    @property
    def exit_status(self) -> str | None:
        return self.ctx.exit_status if self._ended else None

    @property
    def steps(self) -> int:
        return self.budget.steps

    def best(self) -> dict[str, float] | None:
        """The best metrics scored so far (validate, submit or autosubmission)."""
        return best_metrics(self.task, self.ctx.scores)

    def best_primary(self) -> float | None:
        best = self.best()
        return best[self.task.primary.name] if best else None

    def time_left(self) -> float | None:
        """Seconds of wall time the agent has left (None: unlimited, or the episode is closing)."""
        if self._ending or self.budget.max_wall_time_s is None:
            return None
        return self.budget.max_wall_time_s - self.budget.elapsed_s

    def config(self) -> dict[str, Any]:
        """The limits and knobs of the episode, as recorded in its trajectory and results."""
        o = self.options
        return {
            "max_steps": self.budget.max_steps, "cost_limit": self.budget.max_cost,
            "wall_time": self.budget.max_wall_time_s, "command_timeout": self.command_timeout,
            "context_tokens": o.context_tokens, "window": self.window, "keep_last": o.keep_last,
            "tools": self.registry.names(), "memory": self.ctx.memory is not None,
            "gpus": list(o.gpus), "tool_calls": self.tool_calls, "aci_profile": self.profile.name,
            "agent_config": str(o.agent_config) if o.agent_config else None,
            "history": self.history_scheme, "context_window": self.context_window,
            "history_tokens": self.history.window,  # the reply cap is the model's (its info)
            "threads": o.cpu_threads or default_threads(),  # what the numeric libraries were asked for
        }

    # -- the episode ---------------------------------------------------------------------

    def begin(self, *, extra_config: dict[str, Any] | None = None, **fields: Any) -> None:
        """Write the start record (``fields`` add to it) and start the wall clock."""
        if self.recorder is not None:
            start = {"task": self.task.id, "task_version": self.task.version, "seed": self.options.seed,
                     "config": {**self.config(), **(extra_config or {})}, "versions": versions(), **fields}
            self.recorder.write("start", **start)
        self.budget.start()

    def view(self) -> tuple[list[dict], int]:
        """The messages the next model call would send (older outputs elided), and their
        tokens; after a malformed reply under the mlgym profile, that reply and the format
        error close the list (sent once, never kept in the history)."""
        messages, tokens = self.history.view(self.messages)
        if not self._retry:
            return messages, tokens
        extra = sum(MESSAGE_OVERHEAD + self.history.count(m["content"] or "") for m in self._retry)
        return messages + [dict(m) for m in self._retry], tokens + extra

    def request(self) -> Request | None:
        """The next model call, or None once the episode has ended.

        The limits are checked here, before the call: steps, cost, wall time, then the
        size of this very request against the context window. A limit reached ends the
        episode (with its autosubmission) and gives None.
        """
        if self._ended:
            return None
        messages, tokens = self.view()
        self.request_tokens = tokens
        status = self.budget.exceeded(tokens)
        if status is not None:
            self.finish(status, error=self._context_error(tokens) if status == aci.EXIT_CONTEXT else None)
            return None
        self.on_phase("model", f"{tokens:,} tokens")
        return Request(messages, self.tools, tokens)

    def step(self, reply: Any) -> Step:
        """Take the agent's reply: parse its one action, run it, record the step.

        ``reply`` is a model Reply, or a string. A malformed reply is answered with the
        expected format (too many in a row end the episode with ``exit_format``); a
        ``submit`` ends it.
        """
        if self._ended:
            raise HarnessError(f"the episode has ended ({self.exit_status}): start a new one")
        try:
            return self._step(reply)
        finally:
            self.on_phase("", "")

    def _step(self, reply: Any) -> Step:
        reply = as_reply(reply)
        self.tokens_in += reply.usage.prompt_tokens
        self.tokens_out += reply.usage.completion_tokens
        ctx = self.ctx
        scored = len(ctx.scores)
        calls = with_call_ids(reply.tool_calls, f"call_{self.budget.steps + 1}")
        assistant: dict = {"role": "assistant", "content": reply.text}
        if calls:
            assistant["tool_calls"] = calls
        action: aci.Action | None = None
        observation = ""
        try:
            action = parse_reply(reply.text, calls or None, self.registry)
        except aci.FormatError as err:
            reason = err.reason
            if self.tool_calls and not calls:
                reason = f"your reply made no tool call ({reason})"
            observation = self.prompts.format_error(None if self.tool_calls else err.observation, reason=reason)
            if self.profile.format_retries:
                self._retries += 1
                if self._retries < self.profile.format_retries:
                    return self._ask_again(reply, assistant, observation, calls)
        self._retry, self._retries = [], 0
        self.budget.add_step(reply.cost)
        ctx.step = self.budget.steps
        self.messages.append(assistant)
        if self.profile.format_retries and action is None:  # the last malformed reply of a step
            self.messages.extend(answers(observation, calls))
            self._record(reply, action="", thought="", observation=observation, exit_code=None, elapsed=0.0,
                         tool_calls=calls)
            self.finish(aci.EXIT_FORMAT)
            return self._outcome("", "", observation, None, 0.0, scored)
        if action is None:
            self.messages.extend(answers(observation, calls))
            self._record(reply, action="", thought="", observation=observation, exit_code=None, elapsed=0.0,
                         tool_calls=calls)
            status = self.budget.format_error()
            if status is not None:
                self.finish(status)
            return self._outcome("", "", observation, None, 0.0, scored)
        self.budget.format_ok()
        self.on_phase("command", action.command.strip().split("\n", 1)[0])
        outcome = execute(self.registry, action, ctx)
        observation = self.prompts.observation(outcome.observation, ctx.open_file,
                                               ctx.cwd() if ctx.cwd else None, self.budget.steps)
        self._answer(observation, action.tool_call_id)
        self._record(reply, action=action.command, thought=action.thought, observation=observation,
                     exit_code=outcome.exit_code, elapsed=outcome.elapsed_s,
                     error_detail=getattr(outcome, "error_detail", None), tool_calls=calls)
        if ctx.done:
            self.finish(ctx.exit_status)
        return self._outcome(action.command, action.thought, observation, outcome.exit_code,
                             outcome.elapsed_s, scored)

    def finish(self, status: str, error: str | None = None) -> str:
        """End the episode with ``status`` (by the policy above) and write the end record.

        Idempotent: an episode that has already ended keeps its status. Returns the status.
        """
        if self._ended:
            return self.ctx.exit_status
        if error is not None and self.error is None:
            self.error = error
        if not self.ctx.done:
            if status in AUTOSUBMITTING:
                self._ending = True  # score what the agent left, with the scorer's full time
                self.on_phase("autosubmitting", status)
                self.ctx.autosubmit(status)
                self.on_phase("", "")
            else:
                self.ctx.finish(status)
        self._ended = True
        if self.recorder is not None:
            self.recorder.write("end", exit_status=self.ctx.exit_status,
                                final_metrics=self.ctx.final_metrics, error=self.error)
        return self.ctx.exit_status

    def stop(self, err: BaseException) -> str:
        """End the episode for what broke in from outside a step, by the same policy.

        Ctrl-C: ``interrupted``; the model reporting a full context: ``exit_context``
        (autosubmitted); another model failure: ``exit_error``. A model failure before
        the first step is raised again instead: nothing was done, so the user is told
        plainly. Anything else is raised again.
        """
        if isinstance(err, KeyboardInterrupt):
            return self.finish(aci.INTERRUPTED)
        if isinstance(err, ContextLengthExceeded):
            return self.finish(aci.EXIT_CONTEXT, error=str(err))
        if isinstance(err, ModelError) and self.budget.steps > 0:
            return self.finish(aci.EXIT_ERROR, error=str(err))
        raise err

    # -- internals -----------------------------------------------------------------------

    def _ask_again(self, reply: Reply, assistant: dict, observation: str, calls: list) -> Step:
        """A malformed reply under the mlgym profile: no step spent, nothing run; the next
        request ends with this reply and the format error (then both are dropped). A
        malformed tool call is answered by a tool message per call id, as the chat
        protocol requires."""
        self.budget.add_cost(reply.cost)
        self._retry = [assistant, *answers(observation, calls)]
        if self.recorder is not None:
            self.recorder.write("retry", n=self.budget.steps + 1, attempt=self._retries, reply=reply.text,
                                tool_calls=calls, finish_reason=finish_reason(reply), observation=observation,
                                tokens_in=reply.usage.prompt_tokens, tokens_out=reply.usage.completion_tokens,
                                tokens_cached=cached_tokens(reply), request_tokens=self.request_tokens,
                                cost=reply.cost, model_s=round(reply.elapsed_s, 4))
        return Step(self.budget.steps, "", "", observation, None, 0.0, (), None, retry=self._retries)

    def _make_history(self, model: Any, model_name: str, scheme: str | None) -> History:
        """The episode's history view, and the token limits it keeps to.

        The context is the smaller of ``--context-tokens`` and the window the model
        states (a server's ``n_ctx``/``max_model_len``); the view must leave the reply
        cap free. Counted offline for a model whose tokenizer is not OpenAI's, counts run
        ~11% low (SmolLM2 on llama.cpp), so the view then keeps 15% headroom. Without a
        context the history is measured with a cheap estimate; with one, exactly, but
        only once a free upper bound comes near the limit.

        The ``harness`` profile elides in blocks (the prompt prefix, and so the server's
        KV cache, survives between block boundaries) and shortens old replies; the
        ``mlgym`` profile is MLGym-Bench's ``Last5Observations`` (``keep_last`` of them).
        ``scheme`` (``blocks`` or ``last``) overrides the profile's, for benchmarks.
        """
        stated = [w for w in (self.options.context_tokens, model_limit(model, "context_window")) if w]
        self.context_window = min(stated) if stated else None
        self.reply_tokens = model_limit(model, "max_tokens") or 0
        self.request_tokens: int | None = None
        self.history_scheme = scheme or ("last" if self.profile.name == "mlgym" else "blocks")
        if self.history_scheme not in ("last", "blocks"):
            raise HarnessError(f"unknown history scheme {scheme!r}: use blocks or last")
        name = str(getattr(getattr(model, "settings", None), "model", "") or model_name)
        counter = getattr(model, "count_tokens", None)  # the server's own tokenizer, if offered
        limit = None
        if self.context_window is not None:
            limit = self.context_window - self.reply_tokens
            guessed = model is not None and not callable(counter)
            if guessed and not name.lower().split("/")[-1].startswith(OPENAI_TOKENIZED):
                limit = int(limit / OFFLINE_HEADROOM)
            self.budget.context_tokens = self.context_window
            self.budget.reserve_tokens = self.context_window - limit
        count = counter if callable(counter) else (None if limit else estimate_tokens)
        blocks = self.history_scheme == "blocks"
        return History(keep_last=self.options.keep_last, model=name, count=count, window=limit,
                       block=HISTORY_BLOCK if blocks else 0, shorten_replies=blocks,
                       note=elided if blocks else mlgym_elided)

    def _context_error(self, tokens: int) -> str:
        limit = self.history.window
        elided = self.history.elided_steps
        return (f"the conversation no longer fits the model's context: {tokens:,} tokens to send "
                f"(with {elided} old outputs elided) where {limit:,} fit "
                f"(a {self.context_window:,}-token context less {self.context_window - (limit or 0):,} "
                f"kept free for the reply and for error in counting tokens)")

    def _outcome(self, action: str, thought: str, observation: str, exit_code: int | None,
                 elapsed: float, scored: int) -> Step:
        return Step(self.budget.steps, action, thought, observation, exit_code, elapsed,
                    tuple(self.ctx.scores[scored:]), self.exit_status)

    def _answer(self, observation: str, tool_call_id: str | None) -> None:
        # A native tool call is answered by a tool message, as the chat protocol requires.
        if tool_call_id:
            self.messages.append({"role": "tool", "tool_call_id": tool_call_id, "content": observation})
        else:
            self.messages.append({"role": "user", "content": observation})


    def _record(self, reply: Reply, *, action: str, thought: str, observation: str,
                exit_code: int | None, elapsed: float, error_detail: str | None = None,
                tool_calls: list | None = None) -> None:
        if self.recorder is None:
            return
        fields: dict[str, Any] = {
            "n": self.budget.steps, "thought": thought, "action": action, "observation": observation,
            "reply": reply.text, "tool_calls": tool_calls if tool_calls is not None else reply.tool_calls,
            "finish_reason": finish_reason(reply),
            "tokens_in": reply.usage.prompt_tokens, "tokens_out": reply.usage.completion_tokens,
            "tokens_cached": cached_tokens(reply), "request_tokens": self.request_tokens,
            "tokens_estimated": reply.usage.estimated, "cost": reply.cost,
            "model_s": round(reply.elapsed_s, 4), "elapsed_s": round(elapsed, 4), "exit_code": exit_code,
        }
        if error_detail:
            fields["error_detail"] = error_detail  # a tool's traceback: for the record, not the agent
        self.recorder.write("step", **fields)

    def _on_score(self, record: ScoreRecord) -> None:
        if self.recorder is not None:
            self.recorder.write("score", split="test", step=record.step, source=record.kind,
                                metrics=record.metrics, error=record.error)

    def _run(self, command: str, timeout: float) -> RunResult:
        """Run a shell command for at most ``timeout`` seconds and at most the time left."""
        assert self._shell is not None
        left = self.time_left()
        if left is None or timeout <= left:
            return self._shell.run(command, timeout)
        limit = self.budget.max_wall_time_s
        if left <= 0:
            return _Stopped(f"[not run: the episode's wall time of {limit:g} s has run out]")
        started = time.monotonic()
        result = self._shell.run(command, left)
        if not result.timed_out:
            return result
        return _Stopped(
            f"{result.output.rstrip()}\n[timed out: the episode's wall time of {limit:g} s ran out, "
            "so the command was stopped]",
            timed_out=True, restarted=bool(getattr(result, "restarted", False)),
            truncated=bool(getattr(result, "truncated", False)), elapsed_s=time.monotonic() - started)

    def _score(self) -> ScoreLike:
        """Score for validate/submit (at most the time left) or the autosubmission (in full)."""
        assert self._scoring is not None
        left = self.time_left()
        if left is not None and left <= 0:
            return ScoreFailure("not scored: the episode's wall time has run out")
        if not self._ending:  # the autosubmission announced itself in finish()
            self.on_phase("scoring", "the current submission")
        return self._scoring(left)


def with_call_ids(calls: list | None, prefix: str) -> list:
    """The reply's tool calls, each with an id (``prefix_i`` for one the server left
    without): every call must be answerable by a tool message."""
    out = []
    for i, call in enumerate(calls or []):
        if isinstance(call, dict) and not call.get("id"):
            call = {**call, "id": f"{prefix}_{i}"}
        out.append(call)
    return out


def answers(observation: str, calls: list) -> list[dict]:
    """The messages answering a reply: a ``tool`` message per tool call id (a malformed
    call included: the chat protocol wants every call answered before anything else),
    else one ``user`` message."""
    ids = [call.get("id") if isinstance(call, dict) else getattr(call, "id", None) for call in calls]
    if calls and all(ids):
        return [{"role": "tool", "tool_call_id": call_id, "content": observation} for call_id in ids]
    return [{"role": "user", "content": observation}]


def model_limit(model: Any, name: str) -> int | None:
    """A token limit the model object states (``context_window``, ``max_tokens``): its
    own attribute, else its settings'; None when unknown."""
    for holder in (model, getattr(model, "settings", None)):
        value = getattr(holder, name, None) if holder is not None else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def cached_tokens(reply: Reply) -> int | None:
    """Prompt tokens the server says it reused from its cache: OpenAI's and vLLM's
    ``usage.prompt_tokens_details.cached_tokens``, llama.cpp's ``timings.cache_n``;
    None when the server does not say."""
    raw = reply.raw if isinstance(reply.raw, dict) else {}
    usage = raw.get("usage") if isinstance(raw.get("usage"), dict) else {}
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        return details["cached_tokens"]
    timings = raw.get("timings")
    if isinstance(timings, dict) and isinstance(timings.get("cache_n"), int):
        return timings["cache_n"]
    return None


def _task_values(task: Task, engine: Engine) -> dict[str, Any]:
    """What an MLGym agent config's task placeholders read, from our task."""
    baseline = working_baseline(task)
    return {"id": task.mlgym.id if task.mlgym is not None else task.id, "name": task.name,
            "description": task.description.strip(), "training_timeout": int(engine.command_timeout),
            "baseline_scores": [baseline] if baseline else []}


__all__ = ["AUTOSUBMITTING", "Engine", "PhaseHook", "Request", "Step", "as_reply", "best_metrics",
           "episode_budget", "load_registry"]
