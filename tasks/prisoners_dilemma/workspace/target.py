"""The column player you face (a copy of the one the scorer uses).

Iterated prisoner's dilemma: each round both players choose 0 (cooperate) or 1
(defect). Your payoff: 3 if both cooperate, 1 if both defect, 5 if you defect while
the column player cooperates, 0 if you cooperate while it defects.

The column player is a mix of the eleven strategies below (MLGym-Bench's): EVERY
ROUND it draws one of them uniformly at random and plays what that one would play
given the history so far.
"""

import random

History = list[tuple[int, int]]  # (your move, column player's move) per round


def noisy_reply(history: History, rng) -> int:
    """Defects first; then cooperates (p 0.3333), defects (p 0.1667), repeats its
    own last move (p 0.4) or plays the opposite of your last move (p 0.1)."""
    if not history:
        return 1
    yours, its = history[-1]
    draw = rng.random()
    if draw < 0.3333:
        return 0
    if draw < 0.5:
        return 1
    if draw < 0.9:
        return its
    return 1 - yours


def tit_for_tat(history: History, rng) -> int:
    """Cooperates first, then repeats your last move."""
    return history[-1][0] if history else 0


def always_cooperate(history: History, rng) -> int:
    return 0


def always_defect(history: History, rng) -> int:
    return 1


def coin_flip(history: History, rng) -> int:
    return rng.choice([0, 1])


def grim_trigger(history: History, rng) -> int:
    """Cooperates until you have defected once, then defects."""
    return 1 if any(yours == 1 for yours, _ in history) else 0


def pavlov(history: History, rng) -> int:
    """Cooperates first, and after a round where both moved alike; else defects."""
    if not history:
        return 0
    yours, its = history[-1]
    return 0 if yours == its else 1


def tit_for_two_tats(history: History, rng) -> int:
    """Defects only right after you defected twice in a row."""
    return 1 if len(history) >= 2 and history[-1][0] == history[-2][0] == 1 else 0


def suspicious_tit_for_tat(history: History, rng) -> int:
    """Defects first, then repeats your last move."""
    return history[-1][0] if history else 1


def even_odds(history: History, rng) -> int:
    """Cooperates with probability 0.5."""
    return 0 if rng.random() < 0.5 else 1


def forgiving_tit_for_tat(history: History, rng) -> int:
    """Tit for tat, except that it cooperates after two defections of yours in a row."""
    if not history:
        return 0
    if len(history) >= 2 and history[-1][0] == history[-2][0] == 1:
        return 0
    return history[-1][0]


STRATEGIES = [
    noisy_reply,
    tit_for_tat,
    always_cooperate,
    always_defect,
    coin_flip,
    grim_trigger,
    pavlov,
    tit_for_two_tats,
    suspicious_tit_for_tat,
    even_odds,
    forgiving_tit_for_tat,
]


def column_strategy(history: History, rng) -> int:
    """This round's move: one of STRATEGIES drawn afresh, applied to the history."""
    return rng.choice(STRATEGIES)(history, rng)


def target_column_strategy(history: History) -> int:
    """MLGym's entry point: the column player drawing from the global ``random``."""
    return column_strategy(history, random)


def new_opponent(rng: random.Random):
    """One game's column player, drawing its randomness from ``rng`` (the scorer's)."""
    return lambda history: column_strategy(history, rng)
