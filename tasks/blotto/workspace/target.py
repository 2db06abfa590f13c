"""The column player you face (a copy of the one the scorer uses).

Colonel Blotto: each round both players split their soldiers (at most 120) over 6
battlefields at the same time. A battlefield goes to whoever sent more soldiers
(nobody on a tie); you get 1 for winning more battlefields than the column player,
-1 for fewer and 0 otherwise.

This column player (MLGym-Bench's) ignores the history: every round it draws a
whole number from 0 to 120 for each battlefield, scales the six to 120 soldiers
(rounding down) and adds the soldiers lost to rounding to one battlefield drawn at
random.
"""

import random

BATTLEFIELDS = 6
SOLDIERS = 120


def column_strategy(history, rng) -> list[int]:
    """The column player's allocation; ``rng`` is the source of its randomness
    (``random`` or a ``random.Random``)."""
    weights = [rng.randint(0, SOLDIERS) for _ in range(BATTLEFIELDS)]
    while sum(weights) == 0:  # all six zero: about once in 3e12 rounds; draw again
        weights = [rng.randint(0, SOLDIERS) for _ in range(BATTLEFIELDS)]
    total = sum(weights)
    allocation = [int(weight * SOLDIERS / total) for weight in weights]
    allocation[rng.randint(0, BATTLEFIELDS - 1)] += SOLDIERS - sum(allocation)
    return allocation


def target_column_strategy(history) -> list[int]:
    """MLGym's entry point: the column player drawing from the global ``random``."""
    return column_strategy(history, random)


def new_opponent(rng: random.Random):
    """One game's column player, drawing its randomness from ``rng`` (the scorer's)."""
    return lambda history: column_strategy(history, rng)
