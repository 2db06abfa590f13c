"""The demo agent of the Colonel Blotto task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would:
it reads the column player and the baseline, estimates the baseline, replaces the
strategy with a concentrated allocation that beats the column player's spread-out
random splits, checks it with evaluate.py, validates and submits.
"""

from __future__ import annotations

from pathlib import Path

from harness.models.demo import reply, rewrite

SOLUTION = '''\
"""Row strategy: concentrate on four battlefields, give up two.

The column player spreads its 120 soldiers by random weights, so a battlefield
rarely gets more than 30 of them. Sending 30 soldiers to each of four battlefields
and none to the other two wins most of the four (a majority of the six) in most
rounds. The battlefields are shuffled every round so the pattern cannot be read.
"""

import random

ALLOCATION = [30, 30, 30, 30, 0, 0]


def row_strategy(history):
    allocation = ALLOCATION[:]
    random.shuffle(allocation)
    return allocation
'''


def agent(task_dir):
    old_lines = len((Path(task_dir) / "workspace" / "strategy.py").read_text().splitlines())
    yield reply("Let me start by looking at the files in the workspace.", "ls -la")
    yield reply(
        "Let me read the column player: its allocations decide the best reply.",
        "cat target.py",
    )
    yield reply(
        "The column player splits its soldiers by random weights, so it spreads them "
        "thinly. Let me read the baseline strategy.",
        "cat strategy.py",
    )
    yield reply("Let me measure the baseline with the evaluation script.", "python evaluate.py")
    yield from rewrite("strategy.py", SOLUTION, old_lines)
    yield reply("Let me evaluate the new strategy.", "python evaluate.py")
    yield reply("It wins far more rounds than the baseline. Let me validate it.", "validate")
    yield reply("The strategy is valid and beats the baseline, so I submit it.", "submit")
