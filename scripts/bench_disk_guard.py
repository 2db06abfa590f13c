#!/usr/bin/env python3
"""How far a hostile command gets past the workspace's disk and file-count allowances.

Each attack runs in a real sandbox with the given allowance and is killed by the
harness's disk guard; the script prints what the workspace held afterwards and the
overshoot past the allowance, over several repetitions:

    python scripts/bench_disk_guard.py --disk-mb 300 --files 50000 --repeat 3

Writers: one big file at full speed (``head -c``), many 1 MB files in a loop, sparse
files (which take no blocks and must not count), and a flood of empty files.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from harness.sandbox import Limits, Sandbox

WRITERS = {
    "one fast file": "for i in $(seq 100); do head -c 1073741824 /dev/zero > big$i; done",
    "many 1 MB files": "for i in $(seq 100000); do head -c 1048576 /dev/zero > f$i; done",
    "empty-file flood": "mkdir -p flood && cd flood && for i in $(seq 1000); do touch $(seq -f \"$i-%g\" 1000); done",
}


def _usage(root: Path) -> tuple[int, int]:
    blocks = files = 0
    for dirpath, dirnames, filenames in os.walk(root):
        files += len(dirnames) + len(filenames)
        for name in filenames:
            blocks += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return blocks, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disk-mb", type=int, default=300)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    limits = Limits(disk_mb=args.disk_mb, max_files=args.files, file_size_mb=4096)
    print(f"allowances: {args.disk_mb} MB, {args.files} files; {args.repeat} runs each\n")
    print(f"{'writer':<18} {'killed after':>13} {'MB written':>11} {'MB over':>8} {'files':>8} {'files over':>11}")
    for name, command in WRITERS.items():
        rows = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="harness-diskbench-") as tmp:
                workspace = Path(tmp)
                with Sandbox(workspace, limits=limits) as sandbox:
                    started = time.perf_counter()
                    result = sandbox.run(command, timeout=120)
                    seconds = time.perf_counter() - started
                    blocks, files = _usage(workspace)
                    killed = "past its limit" in result.output
                rows.append((seconds, blocks >> 20, files, killed))
        seconds = statistics.median(r[0] for r in rows)
        written = max(r[1] for r in rows)
        files = max(r[2] for r in rows)
        flag = "" if all(r[3] for r in rows) else "  (not killed in every run)"
        print(f"{name:<18} {seconds:>11.2f} s {written:>11} {max(0, written - args.disk_mb):>8} "
              f"{files:>8} {max(0, files - args.files):>11}{flag}")
    print("\nmax over the runs; 'killed after' is the median time from start to kill")


if __name__ == "__main__":
    main()
