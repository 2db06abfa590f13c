"""The two ACI profiles, end to end: a real chat server, the real sandbox and scorer.

``mlgym`` is MLGym-Bench's default agent interface (a 1000-line viewer, the step
counter, flake8 on edits, malformed replies asked again within the step, MLGym's
exit statuses, every submit ends, no memory); ``harness`` is ours. Every test names
its profile, since which one a task gets by default depends on its task.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chat_server import ChatServer
from click.testing import CliRunner

import aci
from harness.cli import main as cli
from harness.errors import HarnessError
from harness.run.episode import Episode
from harness.run.options import EpisodeOptions, aci_profile
from harness.run.trajectory import read_records

BASELINE_R2 = 0.8799891


def say(command: str, thought: str = "Next step.") -> str:
    return f"DISCUSSION\n{thought}\n\n```\n{command}\n```\n"


def episode(task, tmp_path: Path, script: list, default=None, **options):
    """Run an episode against a scripted server; (result, records, results, requests)."""
    from harness.models.openai import OpenAIModel, OpenAISettings

    with ChatServer(script, default=default) as server:
        model = OpenAIModel(OpenAISettings(model="test-model", base_url=server.base_url, max_attempts=2,
                                           backoff_s=0.01, timeout_s=20.0))
        result = Episode(task, model, tmp_path / "run", EpisodeOptions(**options)).run()
        requests = [r["json"]["messages"] for r in server.chat_requests]
    records = list(read_records(tmp_path / "run"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    return result, records, results, requests


def steps_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r["kind"] == "step"]


# -- which profile --------------------------------------------------------------------


def test_a_task_with_an_mlgym_block_defaults_to_the_mlgym_profile(house_price, titanic):
    assert house_price.mlgym is not None
    assert aci_profile(house_price, EpisodeOptions()).name == "mlgym"
    assert aci_profile(house_price, EpisodeOptions(aci_profile="harness")).name == "harness"
    without = house_price.model_copy(update={"mlgym": None})
    assert aci_profile(without, EpisodeOptions()).name == "harness"


def test_an_unknown_profile_is_one_line(house_price):
    import harness

    with pytest.raises(HarnessError) as info:
        harness.make(house_price, aci_profile="swe")
    assert str(info.value) == ("harness.make: aci_profile='swe': Value error, unknown ACI profile; "
                               "use one of harness, mlgym")
    outcome = CliRunner().invoke(cli, ["solve", "house_price", "--aci-profile", "swe"])
    assert outcome.exit_code == 2 and "'swe' is not one of 'harness', 'mlgym'" in outcome.output


# -- the viewer, the step counter, memory ------------------------------------------------


def test_mlgym_profile_window_step_counter_and_no_memory(house_price, tmp_path):
    script = [say("seq 300 > n.txt"), say("open n.txt")]
    _, records, results, requests = episode(house_price, tmp_path, script, max_steps=2, aci_profile="mlgym")
    assert requests[0][1]["content"].endswith(
        "(Current Step: 0, Remaining Steps: 2)\n(Open file: n/a)\n(Current directory: /home/agent/workspace)\nbash-$")
    assert "shows you 1000 lines" in requests[0][0]["content"]
    first, second = (s["observation"] for s in steps_of(records))
    assert "(Current Step: 1, Remaining Steps: 1)\n(Open file: n/a)" in first
    assert "300:300" in second and "more lines below" not in second  # all 300 lines in the window
    assert "(Current Step: 2, Remaining Steps: 0)\n(Open file: /home/agent/workspace/n.txt)" in second
    config = results["config"]
    assert config["aci_profile"] == "mlgym" and config["window"] == 1000 and config["memory"] is False
    assert "memory_write" not in config["tools"] and "memory_write" not in requests[0][0]["content"]


def test_harness_profile_keeps_todays_window_no_counter_and_memory(house_price, tmp_path):
    script = [say("seq 300 > n.txt"), say("open n.txt")]
    _, records, results, requests = episode(house_price, tmp_path, script, max_steps=2, aci_profile="harness")
    second = steps_of(records)[1]["observation"]
    assert "100:100" in second and "101:101" not in second and "(200 more lines below)" in second
    assert "Current Step" not in second and "Current Step" not in requests[0][1]["content"]
    assert results["config"]["window"] == 100 and results["config"]["memory"] is True
    assert "memory_write" in results["config"]["tools"]


# -- malformed replies ----------------------------------------------------------------


def test_mlgym_profile_asks_a_malformed_reply_again_within_the_step(house_price, tmp_path):
    script = [say("ls"), "I will look around.", "Still no block.", say("python baseline.py"), say("submit")]
    result, records, _, requests = episode(house_price, tmp_path, script, aci_profile="mlgym")
    assert result.exit_status == "submitted" and result.steps == 3  # the two bad replies spent none
    retries = [r for r in records if r["kind"] == "retry"]
    assert [(r["n"], r["attempt"], r["reply"]) for r in retries] == [
        (2, 1, "I will look around."), (2, 2, "Still no block.")]
    # the re-ask carries only the latest bad reply and the format error ...
    assert requests[2][-2] == {"role": "assistant", "content": "I will look around."}
    assert "not formatted correctly" in requests[2][-1]["content"]
    assert requests[3][-2]["content"] == "Still no block." and len(requests[3]) == len(requests[2])
    # ... and neither stays in the history once a good reply comes
    assert not any("look around" in str(m.get("content")) for m in requests[4])
    assert [s["action"] for s in steps_of(records)] == ["ls", "python baseline.py", "submit"]
    # `harness show` prints what the model said when it was asked again
    shown = CliRunner().invoke(cli, ["show", str(tmp_path / "run")])
    assert shown.exit_code == 0, shown.output
    assert "step 2: malformed reply, asked again (attempt 2)" in shown.output
    assert "Still no block." in shown.output


@pytest.mark.parametrize(("first", "status"), [
    (say("python baseline.py"), "autosubmission (exit_format)"),
    (say("ls"), "submission_not_found (exit_format)"),
])
def test_mlgym_profile_ends_on_the_third_malformed_reply_of_a_step(house_price, tmp_path, first, status):
    result, records, results, _ = episode(house_price, tmp_path, [first, "a", "b", "c"], aci_profile="mlgym")
    assert result.exit_status == status == results["exit_status"]
    assert result.steps == 2 and [r["kind"] for r in records].count("retry") == 2
    if status.startswith("autosubmission"):
        assert result.final_metrics["r2"] == pytest.approx(BASELINE_R2, rel=1e-6)
    else:
        assert result.final_metrics is None


# -- submit and the exit statuses ------------------------------------------------------


@pytest.mark.parametrize(("before", "status"), [
    ([], "submission_not_found (submit)"),
    ([say("echo not,a,submission > submission.csv")], "evaluation_format_error (submit)"),
])
def test_mlgym_profile_ends_on_a_submit_that_cannot_be_scored(house_price, tmp_path, before, status):
    result, records, results, _ = episode(house_price, tmp_path, [*before, say("submit")],
                                          default=say("python baseline.py"), aci_profile="mlgym")
    assert result.exit_status == status == results["exit_status"] == records[-1]["exit_status"]
    assert result.steps == len(before) + 1 and result.final_metrics is None


def test_harness_profile_lets_the_agent_fix_a_failed_submit(house_price, tmp_path):
    script = [say("submit"), say("python baseline.py"), say("submit")]
    result, records, _, _ = episode(house_price, tmp_path, script, aci_profile="harness")
    assert result.exit_status == "submitted" and result.steps == 3
    assert "The episode continues" in steps_of(records)[0]["observation"]


def test_mlgym_profile_names_the_step_limit_as_mlgym_does(house_price, tmp_path):
    result, _, _, _ = episode(house_price, tmp_path, [say("python baseline.py")], default=say("ls"),
                              max_steps=2, aci_profile="mlgym")
    assert result.exit_status == "autosubmission (max_steps)"
    assert result.final_metrics["r2"] == pytest.approx(BASELINE_R2, rel=1e-6)


def test_mlgym_status_names():
    assert aci.mlgym_status("submit", scored=True, found=True) == "submitted"
    assert aci.mlgym_status(aci.AUTOSUBMIT_COST, scored=True, found=True) == "autosubmission (exit_cost)"
    assert aci.mlgym_status(aci.EXIT_CONTEXT, scored=False, found=False) == "submission_not_found (exit_context)"
    assert aci.mlgym_status(aci.AUTOSUBMIT_STEPS, scored=False, found=True) == "evaluation_format_error (max_steps)"
    assert aci.is_autosubmission("autosubmission (exit_format)")
    assert aci.ended_by_agent("submission_not_found (submit)") and not aci.ended_by_agent("autosubmission (max_steps)")


# -- the edit check, wired into an episode ----------------------------------------------------


def test_mlgym_profile_refuses_an_edit_that_adds_an_undefined_name(house_price, tmp_path):
    script = [say("create f.py"), say("edit 1:1\nimport os\nprint(os.sep)\nend_of_edit"),
              say("edit 2:2\nprint(undefined_thing)\nend_of_edit")]
    _, records, _, _ = episode(house_price, tmp_path, script, max_steps=3, aci_profile="mlgym")
    refused = steps_of(records)[2]["observation"]
    assert "ERRORS:\n- F821 undefined name 'undefined_thing'\n" in refused
    assert "Your changes have NOT been applied" in refused
    assert (tmp_path / "run" / "workspace" / "f.py").read_text() == "import os\nprint(os.sep)\n"


# -- bench: memory off unless asked ----------------------------------------------------------


def test_bench_runs_without_memory_unless_asked(tmp_path):
    from harness.study.directory import make_config

    out = tmp_path / "study"
    outcome = CliRunner().invoke(cli, ["bench", "--tasks", "titanic", "--models", "demo", "--runs", "1",
                                       "--aci-profile", "harness", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    results = json.loads(next(out.glob("episodes/*/*/run-1/results.json")).read_text())
    assert results["config"]["memory"] is False and results["config"]["aci_profile"] == "harness"
    study = json.loads((out / "study.json").read_text())["config"]
    assert "memory" not in study and study["aci_profile"] == "harness"
    asked = make_config(["titanic"], ["demo"], 1, EpisodeOptions(memory=True)).to_json()
    assert asked["memory"] is True


# -- the gym env takes the profile as an option --------------------------------------------


def test_the_gym_env_runs_the_mlgym_profile(house_price, house_price_env):
    import harness

    env = harness.make(house_price, max_steps=5, aci_profile="mlgym")
    try:
        observation, _ = env.reset()
        assert "(Current Step: 0, Remaining Steps: 5)" in observation
        observation, _, terminated, truncated, info = env.step("No command in this reply.")
        assert "not formatted correctly" in observation and info["step"] == 0
        assert env.chat()[-2]["content"] == "No command in this reply."  # sent once more with the error
        observation, _, terminated, truncated, info = env.step(say("submit"))
        assert (terminated, truncated, info["exit_status"]) == (True, False, "submission_not_found (submit)")
        assert info["step"] == 1
    finally:
        env.close()


def test_solve_turns_memory_on_when_asked_under_the_mlgym_profile(tmp_path):
    out = tmp_path / "run"
    outcome = CliRunner().invoke(cli, ["solve", "house_price", "--model", "demo", "--aci-profile", "mlgym",
                                       "--memory", str(tmp_path / "notes.sqlite"), "-q", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    config = json.loads((out / "results.json").read_text())["config"]
    assert config["memory"] is True and "memory_read" in config["tools"]
    both = CliRunner().invoke(cli, ["solve", "house_price", "--memory", "--no-memory"])
    assert both.exit_code == 2 and both.output.strip() == \
        "error: --memory and --no-memory contradict each other: give one"


@pytest.mark.parametrize(("window", "profile"), [(8192, "harness"), (131072, "mlgym")])
def test_a_small_window_model_gets_the_harness_profile_unless_mlgym_is_asked(house_price, tmp_path,
                                                                            window, profile):
    from chat_server import like

    from harness.models import resolve_model

    said = []
    with ChatServer([say("submit")], **like("llama.cpp", context=window)) as server:
        model = resolve_model(f"openai:test-model@{server.base_url}", echo=lambda _: None)
        Episode(house_price, model, tmp_path / "run", EpisodeOptions(), on_status=said.append).run()
        forced = Episode(house_price, model, tmp_path / "forced", EpisodeOptions(aci_profile="mlgym"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["config"]["aci_profile"] == profile
    assert any("window is far under" in line for line in said) == (profile == "harness")
    assert forced.options.aci_profile == "mlgym"  # asked for: never overridden


def test_show_prints_what_the_model_said_on_a_format_error(house_price, tmp_path):
    script = ["Sure, what is the task?", say("python baseline.py"), say("submit")]
    result, records, _, _ = episode(house_price, tmp_path, script, aci_profile="harness")
    assert result.exit_status == "submitted" and steps_of(records)[0]["action"] == ""
    shown = CliRunner().invoke(cli, ["show", str(tmp_path / "run")])
    assert shown.exit_code == 0, shown.output
    assert "the model's reply:\nSure, what is the task?" in shown.output
