"""Score a mountain car submission: mean return of its policy over hidden test episodes.

Run by the harness in the scorer's sandbox: ``python score.py SUBMISSION_DIR``. The
policy is rebuilt by the task's own policy.py from the checkpoint's numbers alone, and
played by its own evaluate.py, on seeds the agent never sees. These are the files
the agent's workspace shows read-only, as shipped in the task directory (never the
agent's copies), so the validation score and the test score come from the same code.
"""

from pathlib import Path

from harness_scoring import SubmissionError, run, task_workspace

task_workspace()  # makes the task's own evaluate.py and policy.py importable
from evaluate import episode_returns  # noqa: E402
from policy import CheckpointError, load_policy  # noqa: E402

TEST_SEEDS = list(range(52_000, 52_128))


def score(submission_dir: Path) -> dict[str, float]:
    try:
        policy = load_policy(submission_dir / "checkpoints" / "policy.pt")
        returns = episode_returns(policy, TEST_SEEDS)
    except CheckpointError as err:
        raise SubmissionError(str(err)) from None
    return {"mean_return": float(returns.mean())}


if __name__ == "__main__":
    run(score)
