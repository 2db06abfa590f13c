"""Estimate your strategy's score: ``python evaluate.py``.

The protocol of MLGym-Bench: row_strategy (strategy.py) plays target.py's column
player for 10,000 simulated games of 10 rounds; a game's score is your mean payoff
per round, and the printed {"Score": ...} is the mean over the games. Nothing is
seeded, so two runs differ by a few thousandths; the scorer plays its own copy of
the column player on fixed seeds of its own.
"""

import json
import numbers
import sys

import numpy as np
from strategy import row_strategy
from target import BATTLEFIELDS, SOLDIERS, target_column_strategy

ROUNDS, SIMULATIONS = 10, 10_000


def as_allocation(allocation, game: int, round_: int) -> list[int]:
    try:
        values = list(allocation)
    except TypeError:
        values = []
    if (
        len(values) == BATTLEFIELDS
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values)
        and all(v >= 0 for v in values)
        and sum(values) <= SOLDIERS
    ):
        return [int(v) for v in values]
    sys.exit(
        f"row_strategy returned {allocation!r} in round {round_} of game {game}: return "
        f"{BATTLEFIELDS} whole numbers >= 0 that sum to at most {SOLDIERS}"
    )


def payoff(mine: list[int], theirs: list[int]) -> int:
    won = sum(a > b for a, b in zip(mine, theirs, strict=True))
    lost = sum(a < b for a, b in zip(mine, theirs, strict=True))
    return (won > lost) - (won < lost)


def main() -> None:
    game_scores = []
    for game in range(1, SIMULATIONS + 1):
        history: list[tuple[list[int], list[int]]] = []
        for round_ in range(1, ROUNDS + 1):
            mine = as_allocation(row_strategy(list(history)), game, round_)
            theirs = target_column_strategy(list(history))
            history.append((mine, theirs))
        payoffs = np.asarray([payoff(m, t) for m, t in history], dtype=np.float32)
        game_scores.append(payoffs.mean())
    print(json.dumps({"Score": float(np.mean(np.asarray(game_scores, dtype=np.float32)))}))


if __name__ == "__main__":
    main()
