"""Your strategy for repeated Colonel Blotto: you are the row player.

The scorer imports this file on its own (keep it self-contained: the standard
library and numpy only) and calls row_strategy once per round.
"""

import random

BATTLEFIELDS = 6
SOLDIERS = 120


def row_strategy(history):
    """Your allocation this round: 6 whole numbers >= 0 that sum to at most 120.
    Keep this name and signature.

    history holds one (your allocation, column player's allocation) tuple per round
    played so far in the current game; it is empty in the first round.
    """
    # Baseline (MLGym-Bench's): pick 1 to 6 times a battlefield (repeats allowed) and
    # add 10 to 30 soldiers to it; give each battlefield still empty, in order, a
    # random part of what is left; scale the whole to 120 (rounding down) and put the
    # soldiers lost to rounding on one battlefield drawn at random.
    allocation = [0] * BATTLEFIELDS
    for _ in range(random.randint(1, BATTLEFIELDS)):
        allocation[random.randint(0, BATTLEFIELDS - 1)] += random.randint(10, 30)
    left = SOLDIERS - sum(allocation)
    if left > 0:
        for field in range(BATTLEFIELDS):
            if allocation[field] == 0:
                allocation[field] = random.randint(0, left)
                left -= allocation[field]
    total = sum(allocation)
    scaled = [int(soldiers * SOLDIERS / total) for soldiers in allocation]
    while sum(scaled) != SOLDIERS:
        scaled[random.randint(0, BATTLEFIELDS - 1)] += SOLDIERS - sum(scaled)
    return scaled
