"""Score a Colonel Blotto strategy: ``python score.py SUBMISSION_DIR``.

MLGym-Bench's protocol: the submitted row_strategy (run isolated from this
directory) plays the task's own column player (workspace/target.py as shipped,
never the agent's copy) for GAMES games of ROUNDS rounds; the score is the mean
payoff per round (1 for a won round, -1 for a lost one; every game has ROUNDS
rounds, so this is also MLGym's mean of the games' means). An allocation is 6
whole numbers >= 0 summing to at most 120, as MLGym checks it (MLGym does not check
the length; here it must be 6). MLGym draws fresh randomness on every run; here the
seeds are fixed and unseen by the agent, so a strategy scores the same every time.
"""

from pathlib import Path

from harness_scoring import run, task_workspace
from harness_submitted import SubmittedCode, play_repeated

task_workspace()  # the task's own target.py: the one the agent's evaluate.py plays
import target  # noqa: E402

HERE = Path(__file__).resolve().parent
GAMES, ROUNDS = 10_000, 10
SEED = 31_880_527
BATTLEFIELDS, SOLDIERS = target.BATTLEFIELDS, target.SOLDIERS


def check(allocation) -> str | None:
    if (
        isinstance(allocation, list)
        and len(allocation) == BATTLEFIELDS
        and all(type(v) is int and v >= 0 for v in allocation)
        and sum(allocation) <= SOLDIERS
    ):
        return None
    return (
        f"an allocation is a list of {BATTLEFIELDS} whole numbers >= 0 that sum to at most "
        f"{SOLDIERS}"
    )


def payoff(mine: list[int], theirs: list[int]) -> int:
    won = sum(a > b for a, b in zip(mine, theirs, strict=True))
    lost = sum(a < b for a, b in zip(mine, theirs, strict=True))
    return (won > lost) - (won < lost)


def score(submission_dir: Path) -> dict[str, float]:
    with SubmittedCode(submission_dir / "strategy.py", hide=[HERE], seed=SEED) as code:
        value = play_repeated(
            code,
            "row_strategy",
            new_opponent=target.new_opponent,
            payoff=payoff,
            check=check,
            games=GAMES,
            rounds=ROUNDS,
            seed=SEED,
        )
    return {"score": value}


if __name__ == "__main__":
    run(score)
