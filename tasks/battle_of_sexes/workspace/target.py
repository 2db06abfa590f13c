"""The column player you face (a copy of the one the scorer uses).

Battle of the Sexes, repeated: both players choose 0 or 1 each round. Matching on
0 pays you 2 and the column player 1; matching on 1 pays you 1 and the column
player 2; not matching pays both 0.

The column player opens with 1. From the second round on it looks only at YOUR
FIRST move of the game: with probability 0.8 it plays that move, otherwise the
other one. (This is MLGym-Bench's column player.)
"""

import random

FOLLOW = 0.8
"""Probability that the column player plays the row player's first move."""


def column_strategy(history: list[tuple[int, int]], rng) -> int:
    """The column player's move, given the (your move, its move) pairs so far;
    ``rng`` is the source of its randomness (``random`` or a ``random.Random``)."""
    if not history:
        return 1
    first = history[0][0]
    return first if rng.random() < FOLLOW else 1 - first


def target_column_strategy(history: list[tuple[int, int]]) -> int:
    """MLGym's entry point: the column player drawing from the global ``random``."""
    return column_strategy(history, random)


def new_opponent(rng: random.Random):
    """One game's column player, drawing its randomness from ``rng`` (the scorer's)."""
    return lambda history: column_strategy(history, rng)
