"""The demo agent of the iterated prisoner's dilemma task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would:
it reads the column player and the baseline, estimates the baseline, replaces the
strategy with one that always defects, checks it with
evaluate.py, validates and submits.
"""

from __future__ import annotations

from pathlib import Path

from harness.models.demo import reply, rewrite

SOLUTION = '''\
"""Row strategy: always defect.

The column player draws one of eleven strategies afresh every round, so it cannot
sustain a punishment: about half of its moves cooperate whatever I did. Defecting
earns 5 against each of those and 1 against the rest, while cooperating earns at
most 3. Defection dominates.
"""


def row_strategy(history):
    return 1
'''


def agent(task_dir):
    old_lines = len((Path(task_dir) / "workspace" / "strategy.py").read_text().splitlines())
    yield reply("Let me start by looking at the files in the workspace.", "ls -la")
    yield reply("Let me read the column player: it decides the best reply.", "cat target.py")
    yield reply(
        "Each round it plays one of eleven strategies drawn afresh, so it cannot punish "
        "for long. Let me "
        "read the baseline strategy.",
        "cat strategy.py",
    )
    yield reply("Let me measure the baseline with the evaluation script.", "python evaluate.py")
    yield from rewrite("strategy.py", SOLUTION, old_lines)
    yield reply("Let me evaluate the new strategy.", "python evaluate.py")
    yield reply("It earns more than the baseline. Let me validate it.", "validate")
    yield reply("The strategy is valid and beats the baseline, so I submit it.", "submit")
