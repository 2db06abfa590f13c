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
from target import target_column_strategy

ROUNDS, SIMULATIONS = 10, 10_000
PAYOFF = {(0, 0): 2, (1, 1): 1}  # your payoff; a mismatch pays 0


def as_move(move, game: int, round_: int) -> int:
    if isinstance(move, numbers.Integral) and not isinstance(move, bool) and move in (0, 1):
        return int(move)
    sys.exit(f"row_strategy returned {move!r} in round {round_} of game {game}: return 0 or 1")


def main() -> None:
    game_scores = []
    for game in range(1, SIMULATIONS + 1):
        history: list[tuple[int, int]] = []
        for round_ in range(1, ROUNDS + 1):
            mine = as_move(row_strategy(list(history)), game, round_)
            theirs = target_column_strategy(list(history))
            history.append((mine, theirs))
        payoffs = np.asarray([PAYOFF.get(pair, 0) for pair in history], dtype=np.float32)
        game_scores.append(payoffs.mean())
    print(json.dumps({"Score": float(np.mean(np.asarray(game_scores, dtype=np.float32)))}))


if __name__ == "__main__":
    main()
