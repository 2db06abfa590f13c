#!/usr/bin/env python3
"""The harness's own overhead per step of an episode.

A scripted model drives a 50-step episode on house price whose commands print long
outputs, so the context the model is sent grows to ~100k tokens. Overhead per step
is the time between the end of one model call and the start of the next, minus the
action's own execution time: parsing, history processing and token counting,
recording (fsync'd), limits. Target: under 1 ms per step. Without a context window the
history is measured with an estimate; ``--context-tokens N`` shows the cost of exact
counting.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.models import Reply, Usage
from harness.run.episode import Episode, EpisodeSettings
from harness.run.trajectory import read_records
from harness.sandbox import Limits
from harness.task.spec import Task, find_task


class ScriptedModel:
    """Prints ~80 KB per step (about 20k tokens); never submits."""

    name = "gpt-4o"

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []
        self.context_tokens: list[int] = []

    def info(self) -> dict:
        return {"backend": "bench"}

    def complete(self, messages, tools=None) -> Reply:
        start = time.perf_counter()
        n = len(self.calls)
        command = f"seq {n * 20000} {n * 20000 + 15000}" if n else "ls"
        reply = Reply(text=f"DISCUSSION\nstep {n}\n\n```\n{command}\n```\n",
                      usage=Usage(prompt_tokens=1, completion_tokens=1))
        self.calls.append((start, time.perf_counter()))
        return reply


MINI_SWE_AGENT_LOOP = r"""
import json, statistics, sys, tempfile, time
from pathlib import Path
from minisweagent.agents.default import DefaultAgent
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.test_models import DeterministicModel, make_output

steps = int(sys.argv[1])
calls, runs = [], []

class Timed(DeterministicModel):
    def query(self, messages, **kwargs):
        start = time.perf_counter()
        out = super().query(messages, **kwargs)
        calls.append((start, time.perf_counter()))
        return out

class TimedEnv(LocalEnvironment):
    def execute(self, action, cwd="", **kwargs):
        start = time.perf_counter()
        out = super().execute(action, cwd, **kwargs)
        runs.append(time.perf_counter() - start)
        return out

commands = ["ls"] + [f"seq {n * 20000} {n * 20000 + 15000}" for n in range(1, steps)]
outputs = [make_output(f"THOUGHT step {n}\n\n```mswea_bash_command\n{c}\n```", [{"command": c}], cost=0.0)
           for n, c in enumerate(commands)]
out_dir = Path(tempfile.mkdtemp())
agent = DefaultAgent(Timed(outputs=outputs, cost_per_call=0.0), TimedEnv(timeout=60, cwd=str(out_dir)),
                     system_template="sys", instance_template="{{task}}", step_limit=steps, cost_limit=0,
                     output_path=out_dir / "traj.json")
agent.run("bench")
gaps = [(calls[k + 1][0] - calls[k][1] - runs[k]) * 1000 for k in range(len(calls) - 1)]
print(json.dumps({"median": statistics.median(gaps), "p95": sorted(gaps)[int(0.95 * len(gaps))],
                  "max": max(gaps), "steps": len(calls)}))
"""


def mini_swe_agent(python: str, steps: int) -> dict | str:
    """mini-swe-agent's own loop, same commands, timed the same way (in its interpreter)."""
    out = subprocess.run([python, "-c", MINI_SWE_AGENT_LOOP, str(steps)], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        return f"failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--context-tokens", type=int, default=None,
                        help="give the episode a context window: outputs are then tokenized exactly")
    parser.add_argument("--mini-python", default=None,
                        help="a Python with mini-swe-agent installed (default: this one, if it has it)")
    args = parser.parse_args()
    task = Task.load(find_task("house_price"))
    model = ScriptedModel()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-episode-")) / "run"
    settings = EpisodeSettings(max_steps=args.steps, keep_last=5, context_tokens=args.context_tokens,
                               sandbox_limits=Limits(output_bytes=200_000))
    Episode(task, model, run_dir, settings).run()
    steps = [r for r in read_records(run_dir) if r.get("kind") == "step"]
    overheads = []
    for k in range(len(model.calls) - 1):
        gap = model.calls[k + 1][0] - model.calls[k][1]
        overheads.append((gap - steps[k]["elapsed_s"]) * 1000)
    observation_chars = statistics.mean(len(s["observation"]) for s in steps[1:])
    from aci import History
    from harness.tokens import count_message_tokens

    history = History(keep_last=5, model=model.name)
    messages = [{"role": "user", "content": s["observation"]} for s in steps]
    full_tokens = count_message_tokens(messages, model.name)
    _, sent = history.view([{"role": "system", "content": ""}, {"role": "user", "content": ""}, *messages])
    print(f"steps: {len(steps)}, mean observation {observation_chars:,.0f} chars")
    print(f"transcript tokens {full_tokens:,}; sent to the model at the end {sent:,} (older outputs elided)")
    print(f"harness overhead per step: median {statistics.median(overheads):.3f} ms, "
          f"p95 {sorted(overheads)[int(0.95 * len(overheads))]:.3f} ms, max {max(overheads):.3f} ms")
    print("target (< 1 ms median):", "met" if statistics.median(overheads) < 1 else "NOT met")
    python = args.mini_python or (sys.executable if importlib.util.find_spec("minisweagent") else None)
    if python is None:
        print("mini-swe-agent: not installed beside harness (pip install mini-swe-agent, "
              "or pass --mini-python)")
        return
    peer = mini_swe_agent(python, args.steps)
    if isinstance(peer, str):
        print(f"mini-swe-agent: {peer}")
    else:
        print(f"mini-swe-agent DefaultAgent overhead per step (same commands, its own loop): "
              f"median {peer['median']:.3f} ms, p95 {peer['p95']:.3f} ms, max {peer['max']:.3f} ms")


if __name__ == "__main__":
    main()
