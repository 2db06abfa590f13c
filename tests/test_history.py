"""The history view: block elision keeps the prompt prefix, old replies shrink, the view
fits a token window, and the mlgym profile's view is MLGym's Last5Observations."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chat_server import ChatServer

from aci import History
from aci.history import mlgym_elided, shortened_reply
from aci.parsing import parse_reply
from aci.tokens import count_message_tokens

REPO = Path(__file__).resolve().parent.parent


def transcript(n_steps: int, lines_per_obs: int = 20, long_every: int = 0) -> list[dict]:
    messages = [{"role": "system", "content": "You are an agent."},
                {"role": "user", "content": "TASK: predict house prices."}]
    for step in range(n_steps):
        thought = f"step {step}"
        command = "ls"
        if long_every and step % long_every == 0:
            thought = f"step {step}: " + "a long plan of what to try next. " * 20
            command = "cat > notes.txt <<'EOF'\n" + "\n".join(f"line {i}" for i in range(30)) + "\nEOF"
        messages.append({"role": "assistant", "content": f"DISCUSSION\n{thought}\n```\n{command}\n```"})
        messages.append({"role": "user", "content": "\n".join(f"obs {step} line {i}" for i in range(lines_per_obs))})
    return messages


def views(history: History, messages: list[dict]) -> list[list[dict]]:
    """The view sent at each step of a growing transcript (after each observation)."""
    return [history.view(messages[:2 + 2 * n])[0] for n in range(1, (len(messages) - 2) // 2 + 1)]


def prefix_breaks(sequence: list[list[dict]]) -> int:
    """Steps whose view is not the previous view plus new messages (a cache miss inside)."""
    return sum(1 for old, new in zip(sequence, sequence[1:], strict=False) if new[:len(old)] != old)


def test_block_elision_changes_the_prompt_prefix_only_every_block():
    messages = transcript(30)
    blocks = views(History(keep_last=5, block=5), messages)
    last_n = views(History(keep_last=5), messages)
    assert prefix_breaks(last_n) == 25  # every step from the 6th observation on
    assert prefix_breaks(blocks) == 5  # at 10, 15, 20, 25 and 30 observations
    for view in blocks:
        full = [m for m in view[2:] if m["role"] == "user" and not m["content"].startswith("Old output")]
        assert min(5, len(view[2:]) // 2) <= len(full) <= 9  # keep_last .. keep_last + block - 1


def test_old_long_replies_are_shortened_in_the_reply_format():
    messages = transcript(11, long_every=3)
    view, tokens = History(keep_last=2, block=5, shorten_replies=True).view(messages)
    long_old, long_new = view[2], view[2 + 2 * 6]  # steps 0 (elided: 5 of 11) and 6 (kept whole)
    assert long_new == messages[2 + 2 * 6] and view[2 + 2 * 3] != messages[2 + 2 * 3]
    lines = messages[2]["content"].count("\n") + 1
    assert long_old["content"].startswith(f"(Old reply shortened from {lines} lines.)\nDISCUSSION\nstep 0: a long")
    action = parse_reply(long_old["content"])
    assert action.command.startswith("cat > notes.txt <<'EOF'") and "[31 more lines omitted]" in action.command
    assert len(long_old["content"]) < len(messages[2]["content"]) / 3
    assert view[4] == messages[4]  # a short old reply stays as it was
    assert tokens < History(keep_last=2, block=5).view(messages)[1] - 300  # replies kept whole


def test_a_shortened_tool_call_keeps_its_id_and_valid_json():
    body = "\n".join(f"    x = {i}" for i in range(40))
    call = {"id": "c7", "type": "function", "function": {"name": "edit", "arguments": json.dumps(
        {"start": 1, "end": 3, "replacement": body})}}
    short = shortened_reply({"role": "assistant", "content": "Rewrite it.", "tool_calls": [call]})
    assert short is not None and short["tool_calls"][0]["id"] == "c7"
    arguments = json.loads(short["tool_calls"][0]["function"]["arguments"])
    assert arguments["start"] == 1 and arguments["replacement"] == "    x = 0\n[39 more lines omitted]"
    broken = {**call, "function": {"name": "bash", "arguments": '{"command": "' + "x" * 300}}
    assert shortened_reply({"role": "assistant", "content": "", "tool_calls": [broken]})["tool_calls"] == [broken]


def test_the_view_fits_the_window_by_whole_blocks_and_keeps_the_cut():
    messages = transcript(12, lines_per_obs=60)
    unlimited = History(keep_last=5, block=5).view(messages)[1]
    window = unlimited * 2 // 3
    history = History(keep_last=5, block=5, window=window)
    view, tokens = history.view(messages)
    assert tokens <= window and tokens == count_message_tokens(view)
    assert history.elided_steps in (10, 11)  # one whole block more than the 5 of the scheme (or the minimum)
    messages += transcript(1, lines_per_obs=1)[2:]  # a short new step: the cut does not move back
    assert history.view(messages)[0][:len(view)] == view
    tiny = History(keep_last=5, block=5, window=50)
    view, tokens = tiny.view(messages)
    assert tokens > 50  # even the minimal view does not fit: the caller ends with exit_context
    assert tiny.elided_steps == 12 and view[-1] == messages[-1]  # all elided but the latest


def test_mlgym_view_is_mlgyms_last5observations():
    """MLGym's last_n_history: the task and the last 5 user messages whole, older ones
    'Old output omitted (N lines)' (splitlines, no full stop), replies untouched."""
    messages = transcript(8, lines_per_obs=3, long_every=2)
    messages[-1]["content"] += "\n"  # a trailing newline is not a line of its own
    view, _ = History(keep_last=5, note=mlgym_elided).view(messages)
    observations = [m["content"] for m in view[2:] if m["role"] == "user"]
    assert observations[:3] == ["Old output omitted (3 lines)"] * 3
    assert observations[3:] == [m["content"] for m in messages[2 + 2 * 3 + 1::2]]
    assert [m for m in view if m["role"] == "assistant"] == [m for m in messages if m["role"] == "assistant"]
    assert mlgym_elided("a\nb\nc\n") == "Old output omitted (3 lines)"


def test_prompt_cache_bench_reuses_more_with_blocks(house_price_env):
    """scripts/bench_prompt_cache.py on the chat server, which reports cached tokens as
    the prefix shared with the previous request: within a block the new scheme's server
    keeps the whole previous prompt; the old one loses it from the 6th observation on."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import bench_prompt_cache
    finally:
        sys.path.remove(str(REPO / "scripts"))
    with ChatServer([], default="DISCUSSION\nok\n\n```\nls\n```") as server:
        result = bench_prompt_cache.main(["--base-url", server.base_url, "--steps", "12"])
    rows = {scheme: [r for r in result["rows"] if r["scheme"] == scheme] for scheme in ("last", "blocks")}
    assert all(r["source"] == "server usage" for r in result["rows"])
    assert [r["reuse"] for r in rows["blocks"][1:]] == [1.0] * 9 + [rows["blocks"][10]["reuse"], 1.0]
    assert rows["blocks"][10]["reuse"] < 1.0  # the block boundary at 10 observations
    assert all(r["reuse"] < 1.0 for r in rows["last"][6:])
    summary = result["summary"]
    assert summary["blocks"]["mean_reuse"] > summary["last"]["mean_reuse"] + 0.1
