"""Score a Battle of the Sexes strategy: ``python score.py SUBMISSION_DIR``.

MLGym-Bench's protocol: the submitted row_strategy (run isolated from this
directory) plays the task's own column player (workspace/target.py as shipped,
never the agent's copy) for GAMES games of ROUNDS rounds; the score is the mean
payoff per round (every game has ROUNDS rounds, so this is also MLGym's mean of
the games' means). MLGym draws fresh randomness on every run; here the seeds are
fixed and unseen by the agent, so a strategy scores the same every time.
"""

from pathlib import Path

from harness_scoring import run, task_workspace
from harness_submitted import SubmittedCode, play_repeated

task_workspace()  # the task's own target.py: the one the agent's evaluate.py plays
import target  # noqa: E402

HERE = Path(__file__).resolve().parent
GAMES, ROUNDS = 10_000, 10
SEED = 70_417_113
PAYOFF = {(0, 0): 2, (1, 1): 1}


def check(move) -> str | None:
    return None if type(move) is int and move in (0, 1) else "a move is 0 or 1"


def score(submission_dir: Path) -> dict[str, float]:
    with SubmittedCode(submission_dir / "strategy.py", hide=[HERE], seed=SEED) as code:
        value = play_repeated(
            code,
            "row_strategy",
            new_opponent=target.new_opponent,
            payoff=lambda mine, theirs: PAYOFF.get((mine, theirs), 0),
            check=check,
            games=GAMES,
            rounds=ROUNDS,
            seed=SEED,
        )
    return {"score": value}


if __name__ == "__main__":
    run(score)
