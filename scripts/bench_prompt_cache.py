#!/usr/bin/env python3
"""How much of each prompt a model server can reuse from its prefix (KV) cache.

A scripted house-price episode (a fixed list of cheap commands, cycled, some replies
long, run for real in the task's sandbox) is driven against a real chat-completions
server with the harness's history, once with the old elision (``last``: the last 5
observations whole, the elision point moving every step) and once with the new one
(``blocks``: observations elided 5 at a time, old replies shortened). The server's
reply is only used for its numbers: the scripted reply goes into the history, so both
runs send the same conversation up to the history scheme. Replies are capped at
``--max-tokens`` (1 by default) so a step costs about the prompt's processing.

Per step it prints the prompt tokens, the tokens the server could take from its cache
and their ratio, and the model call's seconds. The cached tokens are what the server
reports (``usage.prompt_tokens_details.cached_tokens``, llama.cpp's
``timings.cache_n``); a server that reports nothing (llama-cpp-python 0.3) is measured
instead: the longest common token prefix of this prompt and the previous one, the
prompts rendered in ChatML and tokenized by the server (``/extras/tokenize``,
``/tokenize``), else offline with tiktoken. The ``source`` column says which.

    python scripts/bench_prompt_cache.py --base-url http://127.0.0.1:8080/v1 --steps 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from harness.errors import HarnessError
from harness.models import Reply
from harness.models.openai import OpenAIModel, OpenAISettings
from harness.run.engine import Engine, cached_tokens
from harness.run.episode import open_sandbox, scoring
from harness.run.options import EpisodeOptions
from harness.scoring.scorer import Scorer
from harness.task.env import TaskEnv
from harness.task.spec import Task

REPO = Path(__file__).resolve().parent.parent
SCHEMES = ("last", "blocks")
LONG_NOTE = "\n".join(f"# note {i}: feature group {i} may need a log transform and imputation by median"
                      for i in range(25))
ACTIONS = [
    ("First I'll look at the files in the workspace.", "ls -la"),
    ("Let me read the baseline to see what it does.", "open baseline.py"),
    ("Now the shape of the data.", "wc -l data/*.csv"),
    ("A few rows of the training data.", "head -n 4 data/train.csv"),
    ("I will write down a plan before changing anything. " * 6, f"cat > notes.txt <<'EOF'\n{LONG_NOTE}\nEOF"),
    ("Summary statistics of the target.",
     "python -c \"import pandas as pd; print(pd.read_csv('data/train.csv').SalePrice.describe())\""),
    ("Which columns have missing values?",
     "python -c \"import pandas as pd; d=pd.read_csv('data/train.csv'); print(d.isna().sum().sort_values()[-15:])\""),
    ("Let me look at the evaluation script.", "cat evaluate.py"),
    ("Back to the baseline's model part.", "goto 30"),
    ("Search for the regression model.", "search_file Ridge baseline.py"),
]


def say(thought: str, command: str) -> str:
    return f"DISCUSSION\n{thought}\n\n```\n{command}\n```"


def chatml(messages: list[dict]) -> str:
    """The prompt as a ChatML template renders it (llama-cpp-python's ``chatml`` format)."""
    parts = [f"<|im_start|>{m.get('role')}\n{m.get('content') or ''}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


def tokenizer_for(base_url: str, model: str) -> tuple[Callable[[list[dict]], list[int]], str]:
    """A messages -> token ids function and where its ids come from."""
    root = base_url.rstrip("/").removesuffix("/v1")
    client = httpx.Client(timeout=120)
    probe = [{"role": "user", "content": "hello world"}]
    dialects: list[tuple[str, Callable[[list[dict]], dict]]] = [
        ("/extras/tokenize", lambda m: {"input": chatml(m), "model": model}),  # llama-cpp-python
        ("/tokenize", lambda m: {"content": chatml(m)}),  # llama.cpp's llama-server
        ("/tokenize", lambda m: {"model": model, "messages": m}),  # vLLM
    ]
    for path, body in dialects:
        try:
            response = client.post(root + path, json=body(probe))
            tokens = response.json().get("tokens") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            tokens = None
        if isinstance(tokens, list) and tokens:
            return (lambda m, p=path, b=body: client.post(root + p, json=b(m)).json()["tokens"]), f"server {path}"
    import tiktoken  # noqa: F401 - the offline counter's encoding

    from aci.tokens import _encoding

    encoding = _encoding("cl100k_base")
    return (lambda m: encoding.encode(chatml(m), disallowed_special=())), "offline tiktoken"


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def run_scheme(scheme: str, task: Task, env: TaskEnv, model: OpenAIModel, caller: OpenAIModel, steps: int,
               tokenize: Callable | None) -> list[dict]:
    """One scripted episode under ``scheme`` (``model`` bounds the history, ``caller``
    sends it); a row per step."""
    options = EpisodeOptions(aci_profile="harness", memory=False, max_steps=steps + 1)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        workspace = Path(tmp) / "workspace"
        task.make_workspace(workspace)
        with open_sandbox(task, env, workspace, options) as sandbox:
            engine = Engine(task, options, files=sandbox.files, shell=sandbox,
                            score=scoring(Scorer(task, env), workspace), model=model,
                            model_name=model.settings.model, history=scheme)
            engine.begin()
            previous: list[int] | None = None
            last_prompt = 0
            for n in range(steps):
                request = engine.request()
                if request is None:
                    rows.append({"step": n + 1, "scheme": scheme, "ended": engine.exit_status,
                                 "error": engine.error})
                    break
                started = time.monotonic()
                reply = caller.complete(request.messages, tools=request.tools)
                seconds = time.monotonic() - started
                prompt, cached, source = reply.usage.prompt_tokens, cached_tokens(reply), "server usage"
                if cached is None and tokenize is not None:
                    ids = tokenize(request.messages)
                    cached = common_prefix(previous, ids) if previous is not None else 0
                    previous, source = ids, "prefix"
                reuse = round(cached / last_prompt, 3) if last_prompt and cached is not None else None
                last_prompt = prompt
                rows.append({"step": n + 1, "scheme": scheme, "prompt": prompt, "cached": cached,
                             "hit": round(cached / prompt, 3) if prompt and cached is not None else None,
                             "reuse": reuse,
                             "model_s": round(seconds, 2), "source": source,
                             "elided": engine.history.elided_steps})
                thought, command = ACTIONS[n % len(ACTIONS)]
                engine.step(Reply(text=say(thought, command), usage=reply.usage, raw=reply.raw))
            engine.finish("interrupted")
    return rows


def summary(rows: list[dict]) -> dict:
    """From step 2 on (a run's first prompt has nothing of its own to reuse): the mean
    hit ratio (cached / prompt tokens; a step's new output can never be cached) and the
    mean reuse (cached / the previous prompt's tokens: 1.0 when the server kept all of
    it); prompt tokens and model seconds in all."""
    measured = [r for r in rows if r.get("hit") is not None]
    later = [r for r in measured if r["step"] > 1]

    def mean(key: str) -> float | None:
        return round(statistics.mean(r[key] for r in later), 3) if later else None

    return {"steps": len(measured), "mean_hit": mean("hit"), "mean_reuse": mean("reuse"),
            "prompt_tokens": sum(r["prompt"] for r in measured),
            "cached_tokens": sum(r["cached"] or 0 for r in measured),
            "model_s": round(sum(r["model_s"] for r in measured), 1),
            "ended": next((r["ended"] for r in rows if "ended" in r), None)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the server, up to and including /v1")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--model", help="the model id (default: the server's first in /v1/models)")
    parser.add_argument("--context", type=int, help="the model's context window in tokens, if known")
    parser.add_argument("--max-tokens", type=int, default=1, help="reply cap per call (default 1)")
    parser.add_argument("--schemes", default=",".join(SCHEMES), help="last,blocks (the default) or one")
    parser.add_argument("--task", default=str(REPO / "tasks" / "house_price"))
    parser.add_argument("--json", type=Path, help="also write the rows and summaries here")
    args = parser.parse_args(argv)
    schemes = [s for s in args.schemes.split(",") if s]
    if not set(schemes) <= set(SCHEMES) or args.steps < 1:
        parser.error(f"--schemes takes {','.join(SCHEMES)}; --steps at least 1")
    name = args.model
    if name is None:
        try:
            name = httpx.get(args.base_url.rstrip("/") + "/models", timeout=10).json()["data"][0]["id"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as err:
            parser.exit(2, f"error: cannot list the models at {args.base_url} ({err}); pass --model\n")
    # The episode's model (its context window, default reply cap and tokenizer, as discovered,
    # bound the history) and the caller, which asks for --max-tokens only to save time.
    model = OpenAIModel(OpenAISettings(model=name, base_url=args.base_url, context_window=args.context))
    caller = OpenAIModel(OpenAISettings(model=name, base_url=args.base_url, max_tokens=args.max_tokens,
                                        temperature=0.0, max_attempts=1, timeout_s=900))
    for m in (model, caller):
        if hasattr(m, "discover"):
            m.discover(timeout=5.0)
    task = Task.load(Path(args.task))
    env = TaskEnv.ensure(task)
    tokenize, where = tokenizer_for(args.base_url, name)
    window, cap = getattr(model, "context_window", None), getattr(model, "max_tokens", None)
    print(f"model {name} at {args.base_url} ({getattr(model, 'kind', '?')}): context {window}, reply cap {cap}, "
          f"server tokenizer {'yes' if getattr(model, 'count_tokens', None) else 'no'}; cached tokens from "
          f"the server's usage, else the common prefix of token ids from {where}")
    result: dict = {"model": name, "tokenizer": where, "rows": [], "summary": {}}
    for scheme in schemes:
        rows = run_scheme(scheme, task, env, model, caller, args.steps, tokenize)
        result["rows"] += rows
        result["summary"][scheme] = summary(rows)
        print(f"\n{scheme}:  step  prompt  cached   hit  reuse  model_s  elided  source")
        for r in rows:
            if "ended" in r:
                print(f"        {r['step']:4d}  ended: {r['ended']} ({r['error']})")
                continue
            hit = f"{r['hit']:5.0%}" if r["hit"] is not None else "    ?"
            reuse = f"{r['reuse']:5.0%}" if r["reuse"] is not None else "    -"
            print(f"        {r['step']:4d}  {r['prompt']:6d}  {r['cached'] if r['cached'] is not None else '?':>6}  "
                  f"{hit}  {reuse}  {r['model_s']:7.2f}  {r['elided']:6d}  {r['source']}")
    print()
    for scheme, s in result["summary"].items():
        print(f"{scheme:7s} from step 2 mean hit {s['mean_hit']} (cached/prompt), mean reuse {s['mean_reuse']} "
              f"(cached/previous prompt); {s['cached_tokens']}/{s['prompt_tokens']} "
              f"prompt tokens cached; model calls {s['model_s']} s over {s['steps']} steps"
              + (f"; ended {s['ended']}" if s["ended"] else ""))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    model.close()
    caller.close()
    return result


if __name__ == "__main__":
    try:
        main()
    except HarnessError as err:
        sys.exit(f"error: {err}")
