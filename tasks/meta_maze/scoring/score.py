"""Score an RL submission as MLGym-Bench does, without running its code here.

Run by the harness in the scorer's sandbox: ``python score.py SUBMISSION_DIR``. The
submission is ``config.yaml``, ``checkpoints/config*.pkl`` (five) and ``src/`` (the
network code). Its code and pickles are loaded only in a child sandbox
(``harness_submitted``) that sees neither this directory nor anything writable: there
the task's own evaluate.py turns each checkpoint into a pure function (``jax.export``:
compiled operations, no Python) and a list of arrays. This process checks that
function (no host callbacks or custom calls, the expected inputs and outputs), reads
the arrays without pickle and plays the function in the environment with
evaluate.py's code: MLGym's seeds, environment count, step count and sampled actions.
So the agent's code chooses actions, as a policy does, and nothing else.

``HARNESS_RL_EVAL_ENVS`` (tests only; the harness's scorer sandbox never passes it)
plays fewer environments per seed.
"""

import os
import re
from pathlib import Path

import yaml
from harness_scoring import SubmissionError, run, task_workspace
from harness_submitted import SubmittedCode

HERE = Path(__file__).resolve().parent
WORKSPACE = task_workspace()  # the task's own evaluate.py, never the agent's copy
import evaluate  # noqa: E402
import numpy as np  # noqa: E402

CONFIG = "config.yaml"
NUM_ENVS = int(os.environ.get("HARNESS_RL_EVAL_ENVS", evaluate.NUM_ENVS))
LOAD_TIMEOUT = 120.0
EXPORT_TIMEOUT = 180.0
_PREFIX = re.compile(r"^evaluate\.py: export_policy raised (CheckpointError: )?")


def check_layout(submission: Path) -> list[Path]:
    """The five checkpoint files, after checking config.yaml and src/networks.py."""
    config = submission / CONFIG
    if not config.is_file():
        raise SubmissionError(
            "config.yaml not found: copy the config you trained with (e.g. src/config.yaml) "
            "to the workspace root"
        )
    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SubmissionError(f"config.yaml is not valid YAML ({first})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("train_config"), dict):
        raise SubmissionError("config.yaml must be a mapping with a 'train_config' mapping")
    if not (submission / "src" / "networks.py").is_file():
        raise SubmissionError("src/networks.py not found: the network code is part of the submission")
    try:
        return evaluate.find_checkpoints(submission, CONFIG)
    except evaluate.CheckpointError as err:
        raise SubmissionError(str(err)) from None


def check_policy(function, params: list, name: str) -> None:
    """Refuse an exported policy that is not a pure function of the expected shape."""
    where = f"checkpoints/{name}"
    if function.ordered_effects or function.unordered_effects or function.disabled_safety_checks:
        raise SubmissionError(f"{where}: the policy has side effects (callbacks): it must be pure")
    if "cpu" not in function.platforms:
        raise SubmissionError(f"{where}: the policy was not exported for the CPU")
    custom = sorted(set(re.findall(r"custom_call\s*@([\w.$-]+)", function.mlir_module())))
    if custom:
        raise SubmissionError(f"{where}: the policy calls custom code ({', '.join(custom)}): use JAX operations")
    expected = [(p.shape, p.dtype) for p in params]
    expected += [((NUM_ENVS, *evaluate.observation_shape()), np.dtype("float32")), ((2,), np.dtype("uint32"))]
    got = [(tuple(a.shape), np.dtype(a.dtype)) for a in function.in_avals]
    if got != expected:
        raise SubmissionError(f"{where}: the policy's inputs do not match its parameters and observations")
    outs = function.out_avals
    if len(outs) != 1 or tuple(outs[0].shape[:1]) != (NUM_ENVS,):
        shown = ", ".join(f"{a.dtype}{list(a.shape)}" for a in outs)
        raise SubmissionError(f"{where}: pi.sample gives {shown}: one action per environment wanted")


def exported_policy(code: SubmittedCode, submission: Path, name: str):
    """(function, params) of one checkpoint, made in the child and checked here."""
    try:
        data = code.call(
            "export_policy", str(submission.resolve()), CONFIG, name, NUM_ENVS, timeout=EXPORT_TIMEOUT
        )
    except SubmissionError as err:
        message = _PREFIX.sub("", str(err))
        if message.startswith("evaluate.py: "):  # the child failed otherwise (died, timed out)
            message = f"checkpoints/{name} (loaded with your src/): " + message[len("evaluate.py: "):]
        raise SubmissionError(message) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("policy", "params")):
        raise SubmissionError(f"checkpoints/{name}: the policy export returned no policy")
    try:
        function, params = evaluate.read_policy(data)
    except Exception as err:  # noqa: BLE001 - whatever the child sent is the submission's
        raise SubmissionError(f"checkpoints/{name}: unreadable policy export ({type(err).__name__})") from None
    check_policy(function, params, name)
    return function, params


def score(submission_dir: Path) -> dict[str, float]:
    submission = submission_dir.resolve()
    checkpoints = check_layout(submission)
    returns, compiled = [], {}
    with SubmittedCode(WORKSPACE / "evaluate.py", hide=[HERE], timeout=LOAD_TIMEOUT) as code:
        policies = [exported_policy(code, submission, c.name) for c in checkpoints]
    for (function, params), checkpoint in zip(policies, checkpoints, strict=True):
        key = function.mlir_module_serialized
        act = compiled.setdefault(key, function.call)
        try:
            returns += [evaluate.rollout_returns(act, params, s, NUM_ENVS) for s in evaluate.SEEDS]
        except Exception as err:  # noqa: BLE001 - a policy the environment cannot take
            first = (str(err).strip().splitlines() or [""])[0][:200]
            raise SubmissionError(
                f"checkpoints/{checkpoint.name}: its actions do not fit the environment "
                f"({type(err).__name__}: {first})"
            ) from None
    result = evaluate.metrics(returns)
    return {"reward_mean": result["Reward Mean"], "reward_std": result["Reward Std"]}


if __name__ == "__main__":
    run(score)
