"""Limits, history processing and token counting: every way an episode can run out.

The episode-level tests drive the one engine (harness.run.engine.Engine) with scripted
replies, the way Episode drives it with a model: no loop of their own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from aci import (
    AUTOSUBMIT_COST,
    AUTOSUBMIT_STEPS,
    EXIT_CONTEXT,
    EXIT_FORMAT,
    EXIT_WALL_TIME,
    Budget,
    History,
    ToolRegistry,
    is_autosubmission,
    system_prompt,
)
from harness.models import Reply
from harness.run.engine import Engine
from harness.run.options import EpisodeOptions
from harness.sandbox.files import WorkspaceFiles
from harness.tokens import count_message_tokens, count_tokens

# -- Budget ---------------------------------------------------------------------------


def test_step_limit_autosubmits():
    budget = Budget(max_steps=2)
    budget.add_step()
    assert budget.exceeded() is None
    budget.add_step()
    assert budget.exceeded() == AUTOSUBMIT_STEPS == "autosubmission (max_steps)"
    assert is_autosubmission(budget.exceeded())


def test_cost_limit_autosubmits():
    budget = Budget(max_cost=0.10)
    budget.add_step(cost=0.06)
    assert budget.exceeded() is None
    budget.add_step(cost=0.05)
    assert budget.exceeded() == AUTOSUBMIT_COST == "autosubmission (exit_cost)"


def test_zero_cost_limit_means_unlimited():
    budget = Budget(max_cost=0)
    budget.add_step(cost=100.0)
    assert budget.exceeded() is None


def test_wall_time_limit():
    budget = Budget(max_wall_time_s=0.05)
    assert budget.exceeded() is None
    time.sleep(0.06)
    assert budget.exceeded() == EXIT_WALL_TIME
    assert not is_autosubmission(EXIT_WALL_TIME)


def test_context_limit():
    budget = Budget(context_tokens=1000, reserve_tokens=100)
    assert budget.exceeded(context_tokens=900) is None
    assert budget.exceeded(context_tokens=901) == EXIT_CONTEXT


# -- History ----------------------------------------------------------------------------


def transcript(n_steps: int, lines_per_obs: int = 20) -> list[dict]:
    messages = [{"role": "system", "content": "You are an agent."},
                {"role": "user", "content": "TASK: predict house prices."}]
    for step in range(n_steps):
        messages.append({"role": "assistant", "content": f"DISCUSSION\nstep {step}\n```\nls\n```"})
        body = "\n".join(f"obs {step} line {i}" for i in range(lines_per_obs))
        messages.append({"role": "user", "content": body})
    return messages


def test_history_keeps_system_task_and_last_observations_in_full():
    messages = transcript(8)
    view, _tokens = History(keep_last=3).view(messages)
    assert view[0] == messages[0] and view[1] == messages[1]
    observations = [m["content"] for m in view[2:] if m["role"] == "user"]
    assert observations[:5] == ["Old output omitted (20 lines)."] * 5
    assert observations[5:] == [m["content"] for m in messages[-5::2]]
    assert all(m in view for m in messages if m["role"] == "assistant")
    assert messages[3]["content"].startswith("obs 0")  # the transcript itself is untouched


def test_history_keeps_tool_message_fields_when_eliding():
    messages = transcript(0) + [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "bash", "arguments": '{"command": "ls"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "a\nb\nc"},
        {"role": "assistant", "content": "next"},
        {"role": "user", "content": "latest"},
    ]
    view, _ = History(keep_last=1).view(messages)
    assert view[3] == {"role": "tool", "tool_call_id": "c1", "content": "Old output omitted (3 lines)."}


def test_history_token_count_matches_a_full_count():
    messages = transcript(10)
    view, tokens = History(keep_last=4).view(messages)
    assert tokens == count_message_tokens(view)


def test_history_counts_each_message_once():
    calls = []

    def counter(text):
        calls.append(text)
        return len(text.split())

    history = History(keep_last=2, count=counter)
    messages = transcript(5)
    history.view(messages)
    first = len(calls)
    messages += transcript(1)[2:]
    history.view(messages)
    assert len(calls) - first == 3  # the new reply, the new observation and its short form
    messages[3] = {"role": "user", "content": "replaced"}
    history.view(messages)
    assert "replaced" in calls


def test_history_overhead_per_step_is_small():
    """~100k-token context, 50 steps: the per-step view must stay far below 1 ms."""
    history = History(keep_last=5)
    messages = transcript(0)
    per_step = []
    for step_messages in (transcript(1, lines_per_obs=300)[2:] for _ in range(50)):
        messages += step_messages
        started = time.perf_counter()
        _view, tokens = history.view(messages)
        per_step.append(time.perf_counter() - started)
    full = count_message_tokens(messages)
    assert full > 100_000
    # the first view of a step tokenises only the two new messages; measure a re-view too
    started = time.perf_counter()
    for _ in range(100):
        history.view(messages)
    reuse_ms = (time.perf_counter() - started) * 10
    print(f"\nhistory: {full} tokens in full, {tokens} in view; view of a cached "
          f"transcript {reuse_ms:.3f} ms; median step incl. counting the new messages "
          f"{sorted(per_step)[25] * 1000:.3f} ms")
    assert tokens < full / 3  # older outputs are elided


def test_history_with_a_window_tokenizes_only_near_it():
    calls = []

    def counter(text):
        calls.append(text)
        return count_message_tokens([{"content": text}]) - 7

    messages = transcript(8, lines_per_obs=50)
    exact = count_message_tokens(History(keep_last=3).view(messages)[0])
    far = History(keep_last=3, count=counter, window=exact * 10)
    _view, bound = far.view(messages)
    assert calls == [] and bound >= exact  # a free upper bound, no tokenizing
    assert Budget(context_tokens=exact * 10).exceeded(bound) is None
    near = History(keep_last=3, count=counter, window=exact + 5)
    _view, tokens = near.view(messages)
    assert tokens == exact and calls
    assert Budget(context_tokens=exact + 5).exceeded(tokens) is None
    assert Budget(context_tokens=exact - 1).exceeded(History(keep_last=3, window=exact - 1).view(messages)[1]) \
        == EXIT_CONTEXT


def test_context_limit_reached_after_elision():
    messages = transcript(30, lines_per_obs=200)
    history = History(keep_last=5)
    _view, tokens = history.view(messages)
    assert tokens < count_message_tokens(messages) / 3
    assert Budget(context_tokens=tokens + 10).exceeded(tokens) is None
    assert Budget(context_tokens=tokens - 1).exceeded(tokens) == EXIT_CONTEXT


# -- Token counting -----------------------------------------------------------------------


def test_token_counting_works_with_no_network(tmp_path):
    script = textwrap.dedent("""
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled for this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from harness.tokens import count_tokens, estimate_tokens
        text = "The quick brown fox jumps over the lazy dog."
        print(count_tokens(text, "gpt-4"), count_tokens(text, "gpt-4o"), estimate_tokens(text))
    """)
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path), "DATA_GYM_CACHE_DIR": str(tmp_path),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out[:2] == ["10", "10"]  # real BPE counts, not the 4-chars estimate (11)
    assert out[2] == "11"
    assert count_tokens("The quick brown fox jumps over the lazy dog.", "gpt-4") == 10


# -- The engine: each limit reached and its exit status recorded --------------------------


@dataclass
class Score:
    metrics: dict | None
    error: str | None = None


class Records:
    """A recorder that keeps the records in a list."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def write(self, kind: str, **fields) -> None:
        self.records.append({"kind": kind, **fields})

    def kinds(self) -> list[str]:
        return [r["kind"] for r in self.records]


class Shell:
    """A shell whose every command runs into its timeout; it remembers the timeouts."""

    cwd = "/home/agent/workspace"

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def run(self, cmd: str, timeout: float):
        self.timeouts.append(timeout)
        return SimpleNamespace(output=f"[command timed out after {timeout:g} s and was killed]",
                               exit_code=None, timed_out=True)


def engine_for(task, tmp_path, *, shell=None, limits=None, **options) -> tuple[Engine, Records]:
    """An engine over a bare workspace, scoring {"acc": 0.5}; ``limits`` collects the
    scorer's time limits."""
    records = Records()

    def score(limit_s):
        if limits is not None:
            limits.append(limit_s)
        return Score({"acc": 0.5})

    engine = Engine(task, EpisodeOptions(**options), files=WorkspaceFiles(tmp_path), shell=shell,
                    score=score, recorder=records, registry=ToolRegistry.load(entry_points=False))
    return engine, records


def drive(engine: Engine, replies, costs=None) -> Engine:
    """What Episode does with a model, with scripted replies: request, step, until the end
    (or until the script runs out)."""
    engine.begin()
    script = iter(replies)
    while engine.request() is not None:
        text = next(script, None)
        if text is None:
            break
        engine.step(Reply(text=text, cost=(costs or {}).get(engine.steps, 0.0)))
    return engine


LS = "Let me look.\n```\nfind_file '*.py'\n```"


def test_episode_submitted(titanic, tmp_path):
    engine, records = engine_for(titanic, tmp_path)
    drive(engine, [LS, "Done.\n```\nsubmit\n```", LS])
    assert engine.exit_status == "submitted" and engine.ctx.final_metrics == {"acc": 0.5}
    assert [r.kind for r in engine.ctx.scores] == ["submit"] and engine.steps == 2
    assert records.kinds() == ["start", "step", "score", "step", "end"]  # scored within the step
    assert records.records[-1]["exit_status"] == "submitted"


def test_episode_max_steps_autosubmits(titanic, tmp_path):
    engine, records = engine_for(titanic, tmp_path, max_steps=3)
    drive(engine, [LS] * 10)
    assert engine.exit_status == "autosubmission (max_steps)"
    assert engine.ctx.final_metrics == {"acc": 0.5}
    assert [(r.kind, r.step) for r in engine.ctx.scores] == [("autosubmission (max_steps)", 3)]
    assert records.kinds()[-2:] == ["score", "end"]


def test_episode_cost_limit_autosubmits(titanic, tmp_path):
    engine, _ = engine_for(titanic, tmp_path, cost_limit=1.0)
    drive(engine, [LS] * 10, costs={0: 0.4, 1: 0.7})
    assert engine.exit_status == "autosubmission (exit_cost)" and engine.steps == 2
    assert engine.ctx.scores[-1].kind == "autosubmission (exit_cost)"


def test_episode_format_errors_end_it_with_an_autosubmission(titanic, tmp_path):
    engine, records = engine_for(titanic, tmp_path)
    drive(engine, ["hmm", "```\nls\n```\n```\npwd\n```", "no", LS])
    assert engine.exit_status == EXIT_FORMAT and engine.steps == 3
    assert [r.kind for r in engine.ctx.scores] == [EXIT_FORMAT]  # as the real episode always did
    steps = [r for r in records.records if r["kind"] == "step"]
    assert [s["action"] for s in steps] == ["", "", ""] and "not formatted correctly" in steps[0]["observation"]


def test_episode_context_limit(titanic, tmp_path):
    engine, _ = engine_for(titanic, tmp_path, context_tokens=600)
    drive(engine, [LS] * 5)
    assert engine.exit_status == EXIT_CONTEXT and engine.steps == 0  # checked before the model call


def test_episode_wall_time_is_checked_before_the_model_call(titanic, tmp_path):
    engine, records = engine_for(titanic, tmp_path, wall_time=0)
    drive(engine, ["```\nvalidate\n```", "```\nvalidate\n```"])
    assert engine.exit_status == EXIT_WALL_TIME and engine.steps == 0
    assert [r.kind for r in engine.ctx.scores] == [EXIT_WALL_TIME]  # what was left, scored
    assert records.kinds() == ["start", "score", "end"]


def test_wall_time_bounds_commands_and_scoring_but_not_the_closing_autosubmission(titanic, tmp_path):
    shell, limits = Shell(), []
    engine, _ = engine_for(titanic, tmp_path, shell=shell, limits=limits, wall_time=100,
                           command_timeout=600, max_steps=2)
    drive(engine, ["```\nsleep 1000\n```", "```\nvalidate\n```"])
    assert len(shell.timeouts) == 1 and 0 < shell.timeouts[0] <= 100  # not the 600 s of a command
    # validate within the time left, then the closing autosubmission with the scorer's own limit
    assert [r.kind for r in engine.ctx.scores] == ["validate", AUTOSUBMIT_STEPS]
    assert limits[0] is not None and 0 < limits[0] <= 100 and limits[1] is None
    default, _ = engine_for(titanic, tmp_path)
    assert default.budget.max_wall_time_s == titanic.limits.wall_time  # the task's, by default


def test_a_command_cut_by_the_wall_time_says_so(titanic, tmp_path):
    engine, records = engine_for(titanic, tmp_path, shell=Shell(), wall_time=50)
    drive(engine, ["```\nsleep 1000\n```"])
    observation = records.records[1]["observation"]
    assert "wall time of 50 s ran out" in observation and records.records[1]["exit_code"] is None
    assert "600 SECONDS" not in observation  # not the command timeout's message


def test_a_reply_that_comes_after_the_wall_time_runs_nothing(titanic, tmp_path):
    shell, limits = Shell(), []
    engine, records = engine_for(titanic, tmp_path, shell=shell, limits=limits, wall_time=50)
    engine.begin()
    assert engine.request() is not None
    engine.budget.started -= 60  # the model took a minute to answer
    run = engine.step(Reply(text="```\nsleep 1\n```"))
    validate = engine.step(Reply(text="```\nvalidate\n```"))
    assert shell.timeouts == [] and "not run: the episode's wall time of 50 s has run out" in run.observation
    assert "not scored: the episode's wall time has run out" in validate.observation and limits == []
    assert engine.request() is None and engine.exit_status == EXIT_WALL_TIME
    assert limits == [None]  # the closing autosubmission still scores what was left


def test_what_breaks_in_from_outside_a_step_ends_by_the_same_policy(titanic, tmp_path):
    from harness.errors import ModelError
    from harness.models import ContextLengthExceeded

    interrupted, _ = engine_for(titanic, tmp_path)
    drive(interrupted, [LS])
    assert interrupted.stop(KeyboardInterrupt()) == "interrupted" and interrupted.ctx.scores == []
    full, records = engine_for(titanic, tmp_path)
    drive(full, [LS])
    assert full.stop(ContextLengthExceeded("too long")) == EXIT_CONTEXT
    assert [r.kind for r in full.ctx.scores] == [EXIT_CONTEXT] and records.records[-1]["error"] == "too long"
    broken, _ = engine_for(titanic, tmp_path)
    broken.begin()
    with pytest.raises(ModelError):  # before any step: raised for the user, not recorded
        broken.stop(ModelError("server down"))
    broken.step(Reply(text=LS))
    assert broken.stop(ModelError("server down")) == "exit_error" and broken.error == "server down"


@pytest.mark.parametrize("window", [10, 100])
def test_system_prompt_has_tools_format_and_limits(window):
    registry = ToolRegistry.load(entry_points=False)
    text = system_prompt(registry, window=window, budget=Budget(max_steps=50, max_cost=4.0),
                         command_timeout=600)
    assert f"shows you {window} lines" in text
    assert "signature: edit <start_line>:<end_line>" in text
    assert "DISCUSSION" in text and "```\nls -a\n```" in text
    assert "at most 50 steps" in text and "$4.00" in text and "600 seconds" in text
    assert "Call exactly one tool" in system_prompt(registry, tool_calls=True)
