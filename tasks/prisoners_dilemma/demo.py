"""The demo agent of the iterated prisoner's dilemma task (``--model demo``).

A scripted agent that works the task through the ACI as a language model would:
it reads the column player and the baseline, estimates the baseline, replaces the
strategy with tit for tat that defects in the last round, checks it with
evaluate.py, validates and submits.
"""

from __future__ import annotations

from pathlib import Path

from harness.models.demo import reply, rewrite

SOLUTION = '''\
"""Row strategy: tit for tat, defecting in the last round.

Against the column player's mix of strategies, reciprocity pays: cooperating first and then
repeating the column player's last move earns 3 a round from the cooperative
strategies and loses little to the defectors. The game has 10 rounds, so the last
move cannot be punished: defect then.
"""

ROUNDS = 10


def row_strategy(history):
    if len(history) == ROUNDS - 1:
        return 1
    if not history:
        return 0
    return history[-1][1]
'''


def agent(task_dir):
    old_lines = len((Path(task_dir) / "workspace" / "strategy.py").read_text().splitlines())
    yield reply("Let me start by looking at the files in the workspace.", "ls -la")
    yield reply("Let me read the column player: it decides the best reply.", "cat target.py")
    yield reply(
        "Each round it plays one of eleven strategies, most of them reciprocating. Let me "
        "read the baseline strategy.",
        "cat strategy.py",
    )
    yield reply("Let me measure the baseline with the evaluation script.", "python evaluate.py")
    yield from rewrite("strategy.py", SOLUTION, old_lines)
    yield reply("Let me evaluate the new strategy.", "python evaluate.py")
    yield reply("It earns more than the baseline. Let me validate it.", "validate")
    yield reply("The strategy is valid and beats the baseline, so I submit it.", "submit")
