#!/usr/bin/env python3
"""Many concurrent episodes on one machine: throughput, memory per episode, leaks.

Runs a study of --episodes episodes (task titanic, the offline demo-baseline model,
which runs the baseline, validates and submits) with --parallel workers, in this
process's scheduler, sampling every worker's RSS. Then checks that nothing was left
behind: no worker or bwrap process, and no file descriptor of this process more than
before. Targets: under 60 MB RSS per episode's harness process, zero leaks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil

from harness.study.directory import Study, make_config
from harness.study.scheduler import LocalExecutor


def sampler(peaks: dict[int, int], stop: threading.Event) -> None:
    me = psutil.Process()
    while not stop.is_set():
        for child in me.children(recursive=False):
            try:
                if "harness.study.worker" in " ".join(child.cmdline()):
                    peaks[child.pid] = max(peaks.get(child.pid, 0), child.memory_info().rss)
            except psutil.Error:
                pass
        stop.wait(0.2)


def leftovers(study: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if ("harness.study.worker" in cmdline and str(study) in cmdline) or (
                "bwrap" in cmdline and proc.ppid() == os.getpid()):
            found.append(f"{proc.pid} {cmdline[:80]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--task", default="titanic")
    parser.add_argument("--model", default="demo-baseline")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-load-")) / "study"
    config = make_config([args.task], [args.model], args.episodes)
    study = Study.open(root, config, resume=False)
    fds_before = psutil.Process().num_fds()
    peaks: dict[int, int] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=sampler, args=(peaks, stop), daemon=True)
    watcher.start()
    finished = []

    def on_event(spec, event) -> None:
        if event.get("event") == "done":
            finished.append(event)
            if len(finished) % 10 == 0:
                print(f"  {len(finished)}/{args.episodes} episodes", flush=True)

    started = time.perf_counter()
    LocalExecutor(args.parallel).run(study.pending(), config.options, on_event)
    wall = time.perf_counter() - started
    stop.set()
    watcher.join()
    study.close()
    time.sleep(0.5)
    fds_after = psutil.Process().num_fds()
    rss = sorted(v / 2**20 for v in peaks.values())
    statuses = {}
    for event in finished:
        statuses[event["exit_status"]] = statuses.get(event["exit_status"], 0) + 1
    left = leftovers(root)
    print(f"{len(finished)} episodes of {args.task} with {args.model} at --parallel {args.parallel} "
          f"on {os.cpu_count()} cores: {wall:.0f} s, {len(finished) / wall * 60:.1f} episodes/min")
    print(f"exit statuses: {statuses}")
    if rss:
        print(f"harness process per episode, peak RSS: median {statistics.median(rss):.1f} MB, "
              f"max {rss[-1]:.1f} MB (target < 60 MB: {'met' if rss[-1] < 60 else 'NOT met'})")
    print(f"leaked processes: {len(left)}{(' ' + '; '.join(left[:3])) if left else ''}")
    print(f"file descriptors of the scheduler: {fds_before} before, {fds_after} after "
          f"({'no leak' if fds_after <= fds_before else 'LEAK'})")


if __name__ == "__main__":
    main()
