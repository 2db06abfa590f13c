"""Full episodes on house price, driven by a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chat_server import (
    ChatServer,
    ContextError,
    Delay,
    Gone,
    Malformed,
    Raw,
    Reply,
    Status,
    ToolCall,
    completion,
)
from click.testing import CliRunner

from harness.cli import main as cli
from harness.errors import ModelUnavailable
from harness.models import Reply as ModelReply
from harness.models.openai import OpenAIModel, OpenAISettings
from harness.run.episode import Episode
from harness.run.options import EpisodeOptions
from harness.run.trajectory import read_records

REPO = Path(__file__).resolve().parent.parent
BASELINE_R2 = 0.8799891


def say(command: str, thought: str = "Next step.") -> str:
    return f"DISCUSSION\n{thought}\n\n```\n{command}\n```\n"


RUN_BASELINE = [say("ls"), say("python baseline.py"), say("validate")]


def model_for(server: ChatServer, **settings) -> OpenAIModel:
    values = {"max_attempts": 4, "backoff_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 20.0,
              "retry_after_max_s": 2.0}
    values.update(settings)
    return OpenAIModel(OpenAISettings(model="test-model", base_url=server.base_url, **values))


def run(task, model, tmp_path: Path, **settings) -> tuple:
    result = Episode(task, model, tmp_path / "run", EpisodeOptions(**settings)).run()
    records = list(read_records(tmp_path / "run"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    return result, records, results


def test_submitted_episode_records_everything(house_price, tmp_path):
    with ChatServer([*RUN_BASELINE, say("submit")]) as server:
        result, records, results = run(house_price, model_for(server), tmp_path)
    assert result.exit_status == "submitted"
    assert results["final_metrics"]["r2"] == pytest.approx(BASELINE_R2, rel=1e-6)
    assert results["best_validation"]["r2"] == pytest.approx(BASELINE_R2, rel=1e-6)
    assert [r["kind"] for r in records][0] == "start" and records[-1]["kind"] == "end"
    assert [r["action"] for r in records if r["kind"] == "step"] == ["ls", "python baseline.py", "validate", "submit"]
    assert [r["source"] for r in records if r["kind"] == "score"] == ["validate", "submit"]
    for key in ("task_version", "model", "versions", "host", "tokens_in", "cost_usd", "wall_time_s", "baseline"):
        assert key in results
    assert results["model"]["model"] == "test-model"
    assert results["tokens_in"] > 0


def test_server_errors_then_success_are_retried(house_price, tmp_path):
    script = [Status(500), RUN_BASELINE[0], Status(429, retry_after="1"), RUN_BASELINE[1],
              Delay(0.5, RUN_BASELINE[2]), say("submit")]
    with ChatServer(script) as server:
        result, _, _ = run(house_price, model_for(server), tmp_path)
        chat_calls = len(server.chat_requests)
    assert result.exit_status == "submitted"
    assert chat_calls == 6
    assert result.final_metrics["r2"] == pytest.approx(BASELINE_R2, rel=1e-6)


def test_malformed_json_mid_episode_ends_with_exit_error_and_keeps_steps(house_price, tmp_path):
    with ChatServer([*RUN_BASELINE, Malformed(), Malformed(), Malformed(), Malformed()]) as server:
        result, records, results = run(house_price, model_for(server), tmp_path)
    assert result.exit_status == "exit_error"
    assert "JSON" in results["error"] or "json" in results["error"]
    assert len([r for r in records if r["kind"] == "step"]) == 3
    assert results["best_validation"]["r2"] == pytest.approx(BASELINE_R2, rel=1e-6)


def test_server_gone_mid_episode(house_price, tmp_path):
    with ChatServer([RUN_BASELINE[0], Gone()]) as server:
        result, records, results = run(house_price, model_for(server), tmp_path)
    assert result.exit_status == "exit_error"
    assert server.base_url.split("//")[1].split("/")[0] in results["error"]
    assert records[-1]["kind"] == "end"


def test_unreachable_server_before_any_step_is_one_clear_error(house_price, tmp_path):
    with ChatServer([]) as server:
        url = server.base_url
    model = OpenAIModel(OpenAISettings(model="m", base_url=url, max_attempts=2, backoff_s=0.01))
    with pytest.raises(ModelUnavailable) as info:
        Episode(house_price, model, tmp_path / "run").run()
    assert url.split("/v1")[0] in str(info.value) and "--model demo" in str(info.value)


def test_model_that_never_submits_is_autosubmitted_at_the_step_limit(house_price, tmp_path):
    with ChatServer(RUN_BASELINE, default=say("ls")) as server:
        result, records, _ = run(house_price, model_for(server), tmp_path, max_steps=5)
    assert result.exit_status == "autosubmission (max_steps)"
    assert result.steps == 5
    assert result.final_metrics["r2"] == pytest.approx(BASELINE_R2, rel=1e-6)
    assert records[-2]["kind"] == "score" and records[-2]["source"] == "autosubmission (max_steps)"


def test_model_over_the_cost_limit_is_autosubmitted(house_price, tmp_path):
    usage = {"prompt_tokens": 100_000, "completion_tokens": 1000, "total_tokens": 101_000}
    script = [Reply(text, usage=usage) for text in RUN_BASELINE]
    with ChatServer(script, default=Reply(say("ls"), usage=usage)) as server:
        model = model_for(server, price_in=10.0, price_out=30.0)  # $1.03 a step
        result, _, results = run(house_price, model, tmp_path, cost_limit=3.0)
    assert result.exit_status == "autosubmission (exit_cost)"
    assert result.steps == 3
    assert results["cost_usd"] == pytest.approx(3 * 1.03)
    assert result.final_metrics["r2"] == pytest.approx(BASELINE_R2, rel=1e-6)


def test_three_format_errors_end_the_episode_under_the_harness_profile(house_price, tmp_path):
    """Each malformed reply spends a step here (the mlgym profile re-asks: test_aci_profiles)."""
    with ChatServer([say("ls"), "I think I will look around.", "no block", "still none"]) as server:
        result, records, _ = run(house_price, model_for(server), tmp_path, aci_profile="harness")
    assert result.exit_status == "exit_format"
    assert result.steps == 4
    observations = [r["observation"] for r in records if r["kind"] == "step"]
    assert "```" in observations[-1]


def test_context_error_from_the_server_ends_with_exit_context(house_price, tmp_path):
    with ChatServer([say("ls"), ContextError()]) as server:
        result, _, _ = run(house_price, model_for(server), tmp_path, aci_profile="harness")
    assert result.exit_status == "exit_context"


class _InterruptingModel:
    name = "interrupting"

    def __init__(self) -> None:
        self.calls = 0

    def info(self) -> dict:
        return {"backend": "test"}

    def complete(self, messages, tools=None):
        self.calls += 1
        if self.calls == 3:
            raise KeyboardInterrupt
        return ModelReply(text=say("python baseline.py" if self.calls == 1 else "ls"))


def test_ctrl_c_ends_with_interrupted_and_keeps_the_record(house_price, tmp_path):
    result, records, results = run(house_price, _InterruptingModel(), tmp_path)
    assert result.exit_status == "interrupted"
    assert len([r for r in records if r["kind"] == "step"]) == 2
    assert results["exit_status"] == "interrupted"


def test_demo_beats_the_baseline_from_the_command_line(tmp_path):
    out = tmp_path / "demo"
    outcome = CliRunner().invoke(cli, ["solve", "tasks/house_price", "--model", "demo", "--out", str(out), "-q"])
    assert outcome.exit_code == 0, outcome.output
    results = json.loads((out / "results.json").read_text())
    assert results["exit_status"] == "submitted"
    assert results["final_metrics"]["r2"] > BASELINE_R2 + 0.02


def test_replay_reproduces_the_recorded_scores(house_price, tmp_path):
    with ChatServer([*RUN_BASELINE, say("submit")]) as server:
        run(house_price, model_for(server), tmp_path)
    outcome = CliRunner().invoke(cli, ["replay", str(tmp_path / "run" / "trajectory.jsonl"),
                                       "--task", "house_price", "--out", str(tmp_path / "replayed")])
    assert outcome.exit_code == 0, outcome.output
    assert "scores reproduced" in outcome.output


def test_kill_9_leaves_a_readable_trajectory(tmp_path):
    with ChatServer([say("ls")], default=Delay(0.3, say("ls"))) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "solve", "tasks/house_price", "-q", "--max-steps", "200",
             "--model", f"openai:test-model@{server.base_url}", "--out", str(tmp_path / "killed")],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        trajectory = tmp_path / "killed" / "trajectory.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not trajectory.exists() or trajectory.read_text().count("\n") < 4):
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    records = list(read_records(trajectory))
    assert records[0]["kind"] == "start"
    assert len([r for r in records if r["kind"] == "step"]) >= 3


def test_native_tool_calls_drive_an_episode(house_price, tmp_path):
    script = [ToolCall("bash", {"command": "python baseline.py"}, text="Run the baseline first."),
              ToolCall("validate", {}), ToolCall("submit", {})]
    with ChatServer(script) as server:
        model = model_for(server)
        model.tool_calls = True
        result, records, _results = run(house_price, model, tmp_path)
        requests = [r["json"] for r in server.chat_requests]
    assert result.exit_status == "submitted"
    assert abs(result.final_metrics["r2"] - BASELINE_R2) < 1e-6
    names = {t["function"]["name"] for t in requests[0]["tools"]}
    assert {"bash", "validate", "submit", "open", "edit"} <= names
    answered = requests[1]["messages"][-1]
    assert answered["role"] == "tool" and answered["tool_call_id"] == requests[1]["messages"][-2]["tool_calls"][0]["id"]
    steps = [r for r in records if r["kind"] == "step"]
    assert [s["action"] for s in steps] == ["python baseline.py", "validate", "submit"]
    assert steps[0]["thought"] == "Run the baseline first."


def test_tool_calls_flag_needs_an_api_model(tmp_path):
    outcome = CliRunner().invoke(cli, ["solve", "tasks/titanic", "--model", "demo", "--tool-calls", "-q",
                                       "--out", str(tmp_path / "x")])
    assert outcome.exit_code == 2
    assert outcome.output.strip() == ("error: --tool-calls needs a model served over the OpenAI API; "
                                      "demo writes its actions as text")


# -- one engine: solve and the gym env leave the same trajectory --------------------------

SCRIPT = [say("ls"), "I will look around first.", say("python baseline.py"), say("validate"), say("submit")]


def comparable(records: list[dict]) -> list[dict]:
    """The records without what differs by nature between two runs: times, the model's
    and the face's description (the gym has no model), the sandbox's host details."""
    out = []
    for record in records:
        if record["kind"] == "start":
            config = {k: v for k, v in record["config"].items() if k != "gym"}
            out.append({"kind": "start", "task": record["task"], "seed": record["seed"], "config": config})
        else:
            out.append({k: v for k, v in record.items() if k not in ("elapsed_s", "model_s")})
    return out


def test_a_scripted_episode_leaves_the_same_trajectory_through_solve_and_make(house_price, house_price_env,
                                                                               tmp_path):
    import harness

    with ChatServer(SCRIPT) as server:
        out = tmp_path / "solved"
        outcome = CliRunner().invoke(cli, ["solve", "tasks/house_price", "--model", f"openai:test-model@{server.base_url}",
                                           "--max-steps", "8", "--no-memory", "--aci-profile", "mlgym", "-q",
                                           "--out", str(out)])
        assert outcome.exit_code == 0, outcome.output
        solved = list(read_records(out))
        solve_requests = [r["json"]["messages"] for r in server.chat_requests]
    with ChatServer(SCRIPT) as server:
        model = model_for(server)
        env = harness.make(house_price, max_steps=8, aci_profile="mlgym")
        try:
            env.reset()
            while True:  # the policy is the same model, fed what the env says it would send
                reply = model.complete(env.unwrapped.chat(), tools=env.unwrapped.tools)
                *_, terminated, truncated, info = env.step(reply)
                if terminated or truncated:
                    break
            made = list(read_records(env.run_dir))
        finally:
            env.close()
        gym_requests = [r["json"]["messages"] for r in server.chat_requests]
    assert info["exit_status"] == "submitted"
    assert gym_requests == solve_requests  # the same conversation, the system prompt included
    # the malformed reply is asked again within step 2 (a retry record, no step spent)
    assert [r["kind"] for r in solved] == ["start", "step", "retry", "step", "score", "step", "score", "step", "end"]
    assert comparable(made) == comparable(solved)
    steps = [r for r in solved if r["kind"] == "step"]
    assert [s["action"] for s in steps] == ["ls", "python baseline.py", "validate", "submit"]
    assert steps[0]["finish_reason"] == "stop" and steps[0]["tool_calls"] == []


def test_wall_time_stops_a_running_command(tmp_path):
    out = tmp_path / "run"
    with ChatServer([say("sleep 15")], default=say("ls")) as server:
        outcome = CliRunner().invoke(cli, ["solve", "tasks/house_price", "--model", f"openai:test-model@{server.base_url}",
                                           "--wall-time", "2", "--aci-profile", "harness", "-q", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    steps = [r for r in read_records(out) if r["kind"] == "step"]
    results = json.loads((out / "results.json").read_text())
    assert [s["action"] for s in steps] == ["sleep 15"]
    assert steps[0]["exit_code"] is None  # cut, not finished
    assert "the episode's wall time of 2 s ran out, so the command was stopped" in steps[0]["observation"]
    assert results["exit_status"] == "exit_wall_time" and results["config"]["wall_time"] == 2


def test_solve_exits_non_zero_when_the_episode_ends_with_exit_error(tmp_path):
    """A script (or CI) running `harness solve` must see that the model server failed."""
    out = tmp_path / "run"
    with ChatServer([RUN_BASELINE[0], Gone()]) as server:
        outcome = CliRunner().invoke(cli, ["solve", "tasks/house_price", "--model", f"openai:test-model@{server.base_url}",
                                           "--no-memory", "-q", "--out", str(out)])
    assert outcome.exit_code == 1, outcome.output
    assert json.loads((out / "results.json").read_text())["exit_status"] == "exit_error"


# -- history and tool-call protocol against the chat server -------------------------------


def _broken_call(call_id: str | None) -> Raw:
    """A tool call whose arguments are not JSON (as small models write them)."""
    body = completion("Let me look.", model="test-model", usage={"prompt_tokens": 10, "completion_tokens": 5},
                      finish_reason="tool_calls")
    call = {"type": "function", "function": {"name": "bash", "arguments": '{"command": "ls'}}
    if call_id:
        call["id"] = call_id
    body["choices"][0]["message"]["tool_calls"] = [call]
    return Raw(body)


@pytest.mark.parametrize(("profile", "call_id"), [("harness", "call_x"), ("mlgym", None)])
def test_a_tool_call_with_broken_json_is_answered_by_a_tool_message(house_price, tmp_path, profile, call_id):
    """Every assistant tool_calls message is followed by a tool message per call id, a
    malformed call included (no user message in between), and the format error asks for
    a tool call, not a fenced block. Without an id from the server, one is made up."""
    with ChatServer([_broken_call(call_id)], default=ToolCall("submit", {})) as server:
        model = model_for(server)
        model.tool_calls = True
        result, records, _ = run(house_price, model, tmp_path, aci_profile=profile, memory=False, max_steps=3)
        second = server.chat_requests[1]["json"]["messages"]
    assistant, answer = second[-2:]
    assert assistant["role"] == "assistant" and len(assistant["tool_calls"]) == 1
    sent_id = assistant["tool_calls"][0]["id"]
    assert sent_id == (call_id or "call_1_0")
    assert answer["role"] == "tool" and answer["tool_call_id"] == sent_id
    assert "not valid JSON" in answer["content"] and "ONE tool call" in answer["content"]
    assert "```" not in answer["content"] and "code block" in answer["content"]  # "do not write ... in a code block"
    for i, message in enumerate(second):  # the protocol, everywhere in the request
        if message.get("tool_calls"):
            ids = [c["id"] for c in message["tool_calls"]]
            assert [m.get("tool_call_id") for m in second[i + 1:i + 1 + len(ids)]] == ids
    first = next(r for r in records if r["kind"] in ("step", "retry"))
    assert first["finish_reason"] == "tool_calls" and first["tool_calls"][0]["id"] == sent_id
    last = [r for r in records if r["kind"] == "step"][-1]  # the chat server reports cached tokens
    assert last["finish_reason"] == "tool_calls" and last["tokens_cached"] is not None
    # no submission: the harness profile goes on to the step limit, mlgym's submit ends it
    assert result.exit_status == ("autosubmission (max_steps)" if profile == "harness"
                                  else "submission_not_found (submit)")


def test_the_models_context_window_less_its_reply_cap_bounds_every_request(house_price, tmp_path):
    """The model states a 4,000-token context and a 200-token reply cap: every request
    stays under (4000 - 200) / 1.15 offline-counted tokens, by eliding whole blocks, and
    the episode runs to its step limit instead of into the server's 400."""
    from aci.tokens import count_message_tokens

    with ChatServer([], default=say("cat baseline.py")) as server:
        model = model_for(server, context_window=4000, max_tokens=200)
        result, records, results = run(house_price, model, tmp_path, aci_profile="harness", memory=False,
                                       max_steps=14)
        sent = [r["json"]["messages"] for r in server.chat_requests]
    limit = int(3800 / 1.15)
    assert result.exit_status == "autosubmission (max_steps)" and len(sent) == 14
    assert max(count_message_tokens(m) for m in sent) <= limit
    assert results["config"]["history"] == "blocks" and results["config"]["history_tokens"] == limit
    elided = [sum(1 for m in messages if str(m["content"]).startswith("Old output omitted")) for messages in sent]
    # request i shows i observations; the cut only moves forward (to a whole block more, or
    # to all but the latest when a block more is past it), so prefixes survive in between
    assert max(elided) >= 5 and elided == sorted(elided)
    assert all(n == 0 or n - prev == 5 or n == i - 1 or n == prev for i, (prev, n) in
               enumerate(zip([0, *elided], elided, strict=False)))
    steps = [r for r in records if r["kind"] == "step"]
    assert all(s["finish_reason"] == "stop" and s["request_tokens"] <= limit for s in steps)
    assert sum(s["tokens_cached"] for s in steps) > 0


def test_a_context_too_small_for_the_task_ends_with_one_clear_line(house_price, tmp_path):
    with ChatServer([], default=say("ls")) as server:
        model = model_for(server, context_window=600, max_tokens=100)
        result, _, results = run(house_price, model, tmp_path, aci_profile="harness", memory=False)
        calls = len(server.chat_requests)
    assert result.exit_status == "exit_context" and calls == 0
    assert "no longer fits the model's context" in results["error"] and "600-token context" in results["error"]
