"""Score a language model: mean cross-entropy (nats per token) on hidden FineWeb tokens.

Run by the harness in the scorer's sandbox: ``python score.py SUBMISSION_DIR``. The
submission is MLGym-Bench's: ``model.pt`` (state dict), ``model_config.pt`` (pickled
config) and ``baseline.py`` (whose ``Model`` class MLGym's evaluate.py imports). Loading
them runs the agent's code, so that happens only in a child sandbox
(``harness_submitted``) that sees neither this directory nor the test tokens nor
anything writable: there the task's own evaluate.py rebuilds the model as MLGym does and
turns it into a torch.export program (operations and weights, no Python), sent back
here in chunks. A submission with ``model.pt2`` (such a program) and no model.pt skips
that step. This process runs the program on the test tokens (``test.bin`` in
``$HARNESS_TASK_DATA``) in sequences of 1,024 tokens with evaluate.py's code, each token
after the first predicted from the ones before it; a model whose predictions change when
later tokens change is refused: it would be reading the answers.
"""

import io
import re
from pathlib import Path

from harness_scoring import SubmissionError, run, task_data, task_workspace
from harness_submitted import SubmittedCode

HERE = Path(__file__).resolve().parent
WORKSPACE = task_workspace()  # the task's own evaluate.py, never the agent's copy
import evaluate  # noqa: E402

LOAD_TIMEOUT, EXPORT_TIMEOUT, CHUNK_TIMEOUT = 120.0, 900.0, 60.0
_PREFIX = re.compile(r"^evaluate\.py: export_submission raised (SubmissionError: )?")
_SUFFIX = re.compile(r" \(evaluate\.py line \d+\)$")


def exported_program(submission: Path):
    """The submission's model as a torch.export program, made in the child sandbox."""
    for name in ("model.pt", "model_config.pt", "baseline.py"):
        if not (submission / name).is_file():
            raise SubmissionError(
                f"{name} not found: {evaluate.FIX} (the scorer imports Model from baseline.py)"
            )
    hidden = [HERE, task_data()]
    with SubmittedCode(WORKSPACE / "evaluate.py", hide=hidden, timeout=LOAD_TIMEOUT) as code:
        try:
            chunks = code.call("export_submission", str(submission), timeout=EXPORT_TIMEOUT)
            if not isinstance(chunks, int) or chunks < 1:
                raise SubmissionError("the model export returned no program")
            blob = io.BytesIO()
            for i in range(chunks):
                blob.write(_decode(code.call("export_chunk", i, timeout=CHUNK_TIMEOUT)))
        except SubmissionError as err:
            raise SubmissionError(_SUFFIX.sub("", _PREFIX.sub("", str(err)))) from None
    blob.seek(0)
    return evaluate.load_program(blob, "the exported model")


def _decode(text) -> bytes:
    import base64

    if not isinstance(text, str):
        raise SubmissionError("the model export sent something that is not a program")
    return base64.b64decode(text)


def score(submission_dir: Path) -> dict[str, float]:
    submission = submission_dir.resolve()
    try:
        if (submission / "model.pt").is_file() or not (submission / "model.pt2").is_file():
            (model, batch), name = exported_program(submission), "the model"
        else:
            (model, batch), name = evaluate.load_program(submission / "model.pt2"), "model.pt2"
        tokens = evaluate.load_tokens(task_data() / "test.bin")
        return {"val_loss": evaluate.mean_loss(model, batch, tokens, name)}
    except evaluate.SubmissionError as err:
        raise SubmissionError(str(err)) from None


if __name__ == "__main__":
    run(score)
