#!/usr/bin/env python3
"""Run the attacker against a task and print what it tried and what happened.

Each attack is its own episode (real ACI, sandbox and scorer). Exit status 1 if any
attack succeeded. ``--only NAME`` (repeatable) runs a subset.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from attacks import run_attacks

from harness.task.spec import Task, find_task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="house_price")
    parser.add_argument("--only", action="append")
    parser.add_argument("--out", type=Path, default=None, help="keep the attack episodes here")
    args = parser.parse_args()
    task = Task.load(find_task(args.task))
    out = args.out or Path(tempfile.mkdtemp(prefix="harness-attacks-"))
    started = time.monotonic()
    outcomes = run_attacks(task, out, args.only,
                           progress=lambda name: print(f"... {name}", file=sys.stderr, flush=True))
    width = max(len(o.name) for o in outcomes)
    print(f"{'attack':<{width}}  {'result':<7}  {'expected':<60}  observed")
    for o in outcomes:
        print(f"{o.name:<{width}}  {'FAILED' if o.succeeded else 'blocked':<7}  {o.expected[:60]:<60}  "
              f"{o.observed} ({o.seconds:.1f} s)")
    failed = [o for o in outcomes if o.succeeded]
    print(f"\n{len(outcomes)} attacks on {task.id} in {time.monotonic() - started:.0f} s: "
          f"{len(failed)} succeeded; episodes in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
