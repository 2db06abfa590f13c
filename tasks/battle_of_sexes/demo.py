"""The demo agent of the Battle of the Sexes task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would:
it reads the column player and the baseline, estimates the baseline, replaces the
strategy with one that exploits the column player's habit of following the row
player's first move, checks it with evaluate.py, validates and submits.
"""

from __future__ import annotations

from pathlib import Path

from harness.models.demo import reply, rewrite

SOLUTION = '''\
"""Row strategy: always insist on action 0.

From the second round on, the column player plays the row player's first move with
probability 0.8. Opening with 0 makes it match on 0 four times in five, worth
2 * 0.8 = 1.6 per round, while opening with 1 is worth only 1 * 0.8 = 0.8. So open
with 0 and keep playing 0: every round but the first earns 1.6 on average.
"""


def row_strategy(history):
    return 0
'''


def agent(task_dir):
    old_lines = len((Path(task_dir) / "workspace" / "strategy.py").read_text().splitlines())
    yield reply("Let me start by looking at the files in the workspace.", "ls -la")
    yield reply(
        "Let me read the column player first: its behaviour decides the best reply.",
        "cat target.py",
    )
    yield reply(
        "The column player copies my first move most of the time. Let me read "
        "the baseline strategy.",
        "cat strategy.py",
    )
    yield reply("Let me measure the baseline with the evaluation script.", "python evaluate.py")
    yield from rewrite("strategy.py", SOLUTION, old_lines)
    yield reply("Let me evaluate the new strategy.", "python evaluate.py")
    yield reply("It earns far more than the baseline. Let me validate it.", "validate")
    yield reply("The strategy is valid and beats the baseline, so I submit it.", "submit")
