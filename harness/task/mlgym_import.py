"""``harness task import-mlgym``: harness tasks from a user's MLGym checkout.

MLGym describes a task in ``configs/tasks/<name>.yaml`` (id, description, starter
code, baseline, evaluation script, published baseline scores) and its data in
``configs/datasets/*.yaml``. For each task this writes a task directory:

- ``workspace/``: the starter code, and the dataset's public files under ``data/``
  (MLGym copies the dataset to ``data/`` of the agent's workspace too);
- ``scoring/hidden/``: what the agent must not see, at the paths MLGym's workspace
  has them: the evaluation script(s) and the answers (files named like
  ``answer.csv``, ``ground_truth.csv``, ``test_labels.*``, or named by ``--hide``);
- ``scoring/score.py`` (:mod:`harness.task.mlgym_score`, copied unchanged) and
  ``scoring/mlgym.json``: run MLGym's evaluation script unchanged on the submission;
- ``task.yaml`` with the metrics of ``baseline_scores`` and an ``mlgym:`` block;
- ``DATA.md``: where it came from, what moved where, what is unsupported.

Metric direction: MLGym states it only for the MLGym-Bench tasks, in
``mlgym/evaluation/utils.py`` (each task's priority metric and whether it is
maximised); :data:`BENCH_PRIMARY` holds those facts. Other metrics are minimised
when their name says loss, error, time, rmse/mse/mae, perplexity or incorrect, else
maximised; ``--direction NAME=minimize`` overrides, and so does editing task.yaml.

What the importer cannot do becomes a one-line note, not a crash: datasets on the
Hugging Face Hub (MLGym downloads them; the harness's tasks prepare data with
``harness task prepare``), datasets not in the checkout, language-model tasks
(``torchrun`` on GPUs), GPU requirements. A malformed config is one line naming
the file and the field.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from harness.errors import TaskError

SCORE_TEMPLATE = Path(__file__).resolve().with_name("mlgym_score.py")
MLGYM_WORKSPACE = "/home/agent/workspace"

BENCH_PRIMARY: dict[str, tuple[str, str]] = {
    "regressionKaggleHousePrice": ("r2", "maximize"),
    "3SATTime": ("Time", "minimize"),
    "imageClassificationCifar10": ("accuracy", "maximize"),
    "imageClassificationFMnist": ("accuracy", "maximize"),
    "imageCaptioningCOCO": ("BLEU Score", "maximize"),
    "languageModelingFineWeb": ("val_loss", "minimize"),
    "naturalLanguageInferenceMNLI": ("validation_accuracy", "maximize"),
    "battleOfSexes": ("Score", "maximize"),
    "prisonersDilemma": ("Score", "maximize"),
    "blotto": ("Score", "maximize"),
    "rlBreakoutMinAtar": ("Reward Mean", "maximize"),
    "rlMetaMazeMisc": ("Reward Mean", "maximize"),
    "rlMountainCarContinuous": ("Reward Mean", "maximize"),
}
"""MLGym-Bench task id -> (the metric it is ranked by, its direction), as MLGym's
evaluation code states them."""

_LOWER_IS_BETTER = re.compile(r"loss|error|time|rmse|mse|mae|perplexity|incorrect|latency|regret", re.I)
_ANSWER_NAME = re.compile(
    r"answer|ground_?truth|solution|test_?labels?|labels?_test|secret|hidden", re.I
)
_ENTRYPOINTS = ("CSVSubmissionTasks", "PythonSubmissionTasks", "ModelSubmissionTasks", "LMSubmissionTasks")
_PIP_NAMES = {
    "numpy": "numpy", "pandas": "pandas", "sklearn": "scikit-learn", "scipy": "scipy",
    "torch": "torch", "torchvision": "torchvision", "transformers": "transformers",
    "datasets": "datasets", "xgboost": "xgboost", "lightgbm": "lightgbm", "yaml": "pyyaml",
    "PIL": "pillow", "nltk": "nltk", "tqdm": "tqdm", "matplotlib": "matplotlib",
    "jax": "jax", "flax": "flax", "optax": "optax", "gymnax": "gymnax", "catboost": "catboost",
}


@dataclass
class Imported:
    """What importing one MLGym task config gave."""

    config: str
    """The config file, relative to the checkout (``configs/tasks/blotto.yaml``)."""
    mlgym_id: str = ""
    task_dir: Path | None = None
    """The task written (None when skipped or failed)."""
    notes: list[str] = field(default_factory=list)
    """One line each: what was hidden, what is unsupported, what was guessed."""
    error: str | None = None
    """One line: why the config could not be imported."""


class _Skip(Exception):
    """The task cannot be imported here (a one-line note, not a failure)."""


def import_mlgym(root: str | Path, out: str | Path, *, only: Sequence[str] = (),
                 directions: dict[str, str] | None = None, hide: Iterable[str] = (),
                 force: bool = False) -> list[Imported]:
    """Import the task configs of the MLGym checkout ``root`` into ``out``.

    ``only``: MLGym task ids or config names to import (default all);
    ``directions``: metric name (MLGym's or ours) -> ``maximize``/``minimize``;
    ``hide``: more file names to keep out of the agent's workspace.
    Raises TaskError (one line) when ``root`` is no MLGym checkout or an ``only``
    name matches no config.
    """
    root = Path(root)
    configs = root / "configs" / "tasks"
    if not configs.is_dir():
        raise TaskError(f"{root}: no configs/tasks/ here: give the root of an MLGym checkout")
    files = sorted(configs.glob("*.yaml"))
    wanted = set(only)
    results: list[Imported] = []
    taken: set[str] = set()
    matched: set[str] = set()
    for path in files:
        shown = path.relative_to(root).as_posix()
        result = Imported(shown)
        try:
            try:
                raw = _load_yaml(path, shown)
            except TaskError:
                if wanted and path.stem not in wanted:
                    continue  # a broken config the user did not ask for
                matched.add(path.stem)
                raise
            result.mlgym_id = str(raw.get("id") or "")
            if wanted:
                hit = wanted & {path.stem, result.mlgym_id}
                if not hit:
                    continue
                matched |= hit
            result.task_dir, result.notes = _import_one(
                root, raw, shown, Path(out), taken, path.stem, directions or {}, set(hide), force
            )
        except _Skip as skip:
            result.notes.append(f"skipped: {skip}")
        except TaskError as err:
            result.error = str(err)
        results.append(result)
    missing = sorted(wanted - matched - {r.mlgym_id for r in results})
    if missing:
        raise TaskError(f"{configs}: no task config with id or name {', '.join(missing)}")
    return results


# -- one config -----------------------------------------------------------------------


def _load_yaml(path: Path, shown: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise TaskError(f"{shown}: not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TaskError(f"{shown}: cannot read it ({err})") from None
    if not isinstance(raw, dict):
        raise TaskError(f"{shown}: must be a mapping of fields (id, name, description, ...)")
    return raw


def _field(raw: dict, name: str, kind: type, shown: str, required: bool = False) -> Any:
    value = raw.get(name)
    if value is None:
        if required:
            raise TaskError(f"{shown}: field '{name}' is missing")
        return kind()
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise TaskError(f"{shown}: field '{name}' must be a {'list' if kind is list else 'non-empty string'}")
    return value


def _relative(value: Any, shown: str, name: str) -> PurePosixPath:
    path = PurePosixPath(str(value))
    if not isinstance(value, str) or path.is_absolute() or ".." in path.parts or not value.strip():
        raise TaskError(f"{shown}: field '{name}': {value!r} must be a relative path without '..'")
    return path


def _import_one(root: Path, raw: dict, shown: str, out: Path, taken: set[str], stem: str,
                directions: dict[str, str], hide: set[str], force: bool) -> tuple[Path, list[str]]:
    notes: list[str] = []
    mlgym_id = _field(raw, "id", str, shown, required=True)
    name = _field(raw, "name", str, shown, required=True)
    description = _field(raw, "description", str, shown, required=True)
    entry = raw.get("task_entrypoint", "CSVSubmissionTasks")
    if entry not in _ENTRYPOINTS:
        raise TaskError(f"{shown}: field 'task_entrypoint': {entry!r} is not one of {', '.join(_ENTRYPOINTS)}")
    if entry == "LMSubmissionTasks":
        raise _Skip("its evaluation runs torchrun on GPUs (LMSubmissionTasks), which the importer does not support")
    evaluation = [_relative(p, shown, "evaluation_paths") for p in _field(raw, "evaluation_paths", list, shown, True)]
    if not evaluation:
        raise TaskError(f"{shown}: field 'evaluation_paths' is empty: name the evaluation script")
    starter = [_relative(p, shown, "starter_code") for p in _field(raw, "starter_code", list, shown)]
    baseline_paths = [_relative(p, shown, "baseline_paths") for p in _field(raw, "baseline_paths", list, shown)]
    metrics = _metrics(mlgym_id, _field(raw, "baseline_scores", list, shown), shown, directions, notes)
    timeout = raw.get("training_timeout") or 1800
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise TaskError(f"{shown}: field 'training_timeout' must be a positive number of seconds")
    datasets = [_dataset(root, p, shown) for p in _field(raw, "dataset_configs", list, shown)]

    our_id = _our_id(mlgym_id, stem, taken)
    target = out / our_id
    if target.exists() and not force:
        raise TaskError(f"{target}: exists already: pass --force to replace it, or --out elsewhere")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{our_id}-", dir=out) as tmp:
        staging = Path(tmp) / our_id
        workspace, hidden = staging / "workspace", staging / "scoring" / "hidden"
        workspace.mkdir(parents=True)
        hidden.mkdir(parents=True)
        for rel in starter:
            source = root / rel
            if not source.exists():
                raise _Skip(f"starter file {rel} is not in this checkout")
            _copy(source, workspace / rel.name)
        moved = []
        for rel in evaluation:
            if not (workspace / rel).exists():
                raise TaskError(f"{shown}: field 'evaluation_paths': {rel} is not among the starter_code files")
            _copy(workspace / rel, hidden / rel)
            _remove(workspace / rel)
            moved.append(rel.as_posix())
        secret = []
        for dataset in datasets:
            secret += _copy_dataset(root, dataset, workspace / "data", hidden / "data", hide)
        for extra in sorted(hide):
            for found in sorted(workspace.rglob(extra)):
                rel = found.relative_to(workspace)
                _copy(found, hidden / rel)
                _remove(found)
                secret.append(rel.as_posix())
        notes.append(f"kept out of the agent's workspace: {', '.join(moved + sorted(set(secret)))}")
        if datasets and not secret and entry == "CSVSubmissionTasks":
            notes.append("no answer file recognised in the data: if the agent can see the test labels, "
                         "pass --hide NAME")
        submission, args, baseline_command = _interface(entry, raw, description, starter, evaluation,
                                                        baseline_paths, workspace, shown, notes)
        requirements, gpus = _requirements(root, raw, workspace, hidden, notes)
        spec = _spec(our_id, mlgym_id, name, description, datasets, metrics, timeout, baseline_command,
                     submission, requirements, gpus, (workspace / "data").is_dir())
        (staging / "task.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100),
                                           encoding="utf-8")
        shutil.copyfile(SCORE_TEMPLATE, staging / "scoring" / "score.py")
        config = {"entrypoint": entry, "evaluate": evaluation[0].as_posix(), "args": args,
                  "submission": submission, "timeout": timeout,
                  "metrics": {m["mlgym"]: m["name"] for m in metrics}}
        (staging / "scoring" / "mlgym.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (staging / "DATA.md").write_text(_data_md(root, shown, mlgym_id, moved, secret, notes), encoding="utf-8")
        from harness.task.spec import Task

        Task.load(staging)  # what was written must load; a TaskError here is one line
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target, notes


def _our_id(mlgym_id: str, stem: str, taken: set[str]) -> str:
    """battleOfSexes -> battle_of_sexes; a second config with the same id uses its file name."""
    for candidate in (mlgym_id, stem):
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", candidate)
        our = re.sub(r"[^a-z0-9_\-]+", "_", words.lower()).strip("_-") or "task"
        if not our[0].isalnum():
            our = "t" + our
        if our not in taken:
            taken.add(our)
            return our
    raise TaskError(f"two task configs both named {stem!r}")


def _metric_name(mlgym_name: str) -> str:
    """MLGym's 'Reward Mean' -> our 'reward_mean' (task.yaml names are identifiers)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", mlgym_name).strip("_").lower()
    return name if name and not name[0].isdigit() else f"m_{name}"


def _metrics(mlgym_id: str, scores: list, shown: str, directions: dict[str, str],
             notes: list[str]) -> list[dict]:
    if not scores:
        raise _Skip("no baseline_scores, so no metric names: add them to the config")
    first = scores[0]
    if not isinstance(first, dict) or not first:
        raise TaskError(f"{shown}: field 'baseline_scores[0]' must map metric names to numbers")
    if len(scores) > 1:
        notes.append(f"baseline_scores has {len(scores)} entries (one per dataset): the first is used")
    primary, primary_direction = BENCH_PRIMARY.get(mlgym_id, (None, None))
    metrics = []
    for theirs, value in first.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise TaskError(f"{shown}: field 'baseline_scores[0].{theirs}' must be a number (got {value!r})")
        ours = _metric_name(str(theirs))
        given = directions.get(str(theirs)) or directions.get(ours)
        if given is not None:
            direction, why = given, "as given"
        elif primary is not None and str(theirs).lower() == primary.lower():
            direction, why = primary_direction, "MLGym's evaluation code"
        else:
            lower = _LOWER_IS_BETTER.search(str(theirs))
            direction, why = ("minimize", "name") if lower else ("maximize", "default")
        metrics.append({"mlgym": str(theirs), "name": ours, "direction": direction, "value": float(value),
                        "primary": primary is not None and str(theirs).lower() == primary.lower(), "why": why})
    if not any(m["primary"] for m in metrics):
        metrics[0]["primary"] = True
    notes.append("metrics: " + ", ".join(
        f"{m['name']} {m['direction']} ({m['why']}{', primary' if m['primary'] else ''})" for m in metrics
    ) + "; fix a direction with --direction NAME=minimize or in task.yaml")
    return metrics


def _dataset(root: Path, rel: Any, shown: str) -> dict:
    path = root / "configs" / _relative(rel, shown, "dataset_configs")
    if not path.is_file():
        raise TaskError(f"{shown}: field 'dataset_configs': {rel} is not in configs/")
    inner = path.relative_to(root).as_posix()
    raw = _load_yaml(path, inner)
    for key in ("name", "data_path"):
        _field(raw, key, str, inner, required=True)
    if not raw.get("is_local", False):
        raise _Skip(f"dataset {raw['name']} ({raw['data_path']}) is downloaded from the Hugging Face Hub "
                    "by MLGym; the importer takes local datasets only")
    data = root / _relative(raw["data_path"], inner, "data_path")
    if not data.is_dir():
        raise _Skip(f"dataset {raw['name']}: {raw['data_path']} is not in this checkout (fetch it first)")
    return {"name": str(raw["name"]), "description": str(raw.get("description") or ""), "path": data}


def _copy_dataset(root: Path, dataset: dict, public: Path, hidden: Path, hide: set[str]) -> list[str]:
    """Copy the dataset to ``public``, answers to ``hidden``; the hidden paths."""
    secret = []
    for source in sorted(p for p in dataset["path"].rglob("*") if p.is_file()):
        rel = source.relative_to(dataset["path"])
        if _ANSWER_NAME.search(source.name) or source.name in hide:
            _copy(source, hidden / rel)
            secret.append(f"data/{rel.as_posix()}")
        else:
            _copy(source, public / rel)
    return secret


def _interface(entry: str, raw: dict, description: str, starter: list[PurePosixPath],
               evaluation: list[PurePosixPath], baseline_paths: list[PurePosixPath], workspace: Path,
               shown: str, notes: list[str]) -> tuple[list[str], list[str], str]:
    """What the agent submits, the evaluation's arguments and the baseline command,
    as MLGym's task class of ``entry`` has them."""
    runs_baseline = [p.as_posix() for p in baseline_paths if p not in evaluation]
    if entry == "CSVSubmissionTasks":
        submission, args = ["submission.csv"], ["--submission_file", f"{MLGYM_WORKSPACE}/submission.csv"]
    elif entry == "ModelSubmissionTasks":
        submission = ["checkpoints", "config.yaml"]
        args = ["--config_fname", f"{MLGYM_WORKSPACE}/config.yaml"]
        notes.append("submission: checkpoints/ and config.yaml (MLGym takes the first *.yaml it finds)")
    else:  # PythonSubmissionTasks: the evaluation imports the files the agent edits
        files = [p.name for p in starter if p.suffix == ".py" and p.name not in {e.name for e in evaluation}]
        named = [f for f in files if re.search(rf"(?<![\w.]){re.escape(f)}", description)]
        submission = named or files
        if not submission:
            raise TaskError(f"{shown}: a PythonSubmissionTasks task needs a starter .py file besides evaluation")
        args = []
        notes.append(f"submission: {', '.join(submission)} (starter files the description names; "
                     "edit 'submission' in task.yaml and scoring/mlgym.json to change)")
    if not baseline_paths:
        notes.append("no baseline_paths: `harness task check` has no baseline to run")
        command = "true"
    elif runs_baseline:
        if not (workspace / runs_baseline[0]).is_file():
            raise TaskError(f"{shown}: field 'baseline_paths': {runs_baseline[0]} is not among the starter files")
        command = f"python {runs_baseline[0]}"
    else:
        command = "true"  # the baseline is the starter submission, scored as it is
    return submission, args, command


def _imports(files: Iterable[Path]) -> set[str]:
    names: set[str] = set()
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def _requirements(root: Path, raw: dict, workspace: Path, hidden: Path, notes: list[str]) -> tuple[list[str], int]:
    """The task environment's packages: MLGym's requirements file when it has one,
    else the third-party packages its Python files import; and recommended GPUs."""
    from packaging.requirements import InvalidRequirement, Requirement

    listed = raw.get("requirements_path")
    wanted: list[str] = []
    if isinstance(listed, str) and (root / listed).is_file():
        for line in (root / listed).read_text(encoding="utf-8").splitlines():
            line = line.split("#")[0].strip()
            try:
                wanted.append(str(Requirement(line))) if line else None
            except InvalidRequirement:
                notes.append(f"requirement {line!r} in {listed} is not a pip requirement: left out")
    else:
        imported = _imports([*workspace.rglob("*.py"), *hidden.rglob("*.py")])
        wanted = sorted({_PIP_NAMES[n] for n in imported if n in _PIP_NAMES})
    gpus = 1 if any("cuda" in w.lower() for w in wanted) else 0
    if gpus:
        notes.append("its requirements ask for CUDA: it runs on CPU only slowly, if at all")
    return wanted, gpus


def _spec(our_id: str, mlgym_id: str, name: str, description: str, datasets: list[dict], metrics: list[dict],
          timeout: float, baseline_command: str, submission: list[str], requirements: list[str], gpus: int,
          has_data: bool) -> dict:
    docs = "".join(f"{d['name'].upper()}:\n{d['description']}\n\n" for d in datasets)
    text = description.replace("{dataset_docs}", docs).rstrip()
    text += ("\n\nThe evaluation script is not in your workspace here: use `validate` to score "
             "your current submission.\n")
    baseline = {m["name"]: m["value"] for m in metrics}
    return {
        "id": our_id,
        "name": name,
        "description": text,
        "metrics": [{"name": m["name"], "direction": m["direction"], "primary": m["primary"]} for m in metrics],
        "baseline": baseline,
        "published_baseline": dict(baseline),
        "baseline_source": "published",
        "baseline_command": baseline_command,
        "limits": {"max_steps": 50, "command_timeout": float(timeout), "score_timeout": float(timeout)},
        "requirements": requirements,
        "needs": {"gpus": 0, "network": False, "recommended_gpus": gpus},
        "submission": submission,
        "readonly": ["data"] if has_data else [],
        "mlgym": {
            "id": mlgym_id,
            "metrics": {m["mlgym"]: m["name"] for m in metrics if m["mlgym"].lower() != m["name"]},
            "same_scale": True,
        },
    }


def _data_md(root: Path, shown: str, mlgym_id: str, moved: list[str], secret: list[str], notes: list[str]) -> str:
    commit = _commit(root)
    lines = [
        f"# {mlgym_id} (imported from MLGym)",
        "",
        f"Written by `harness task import-mlgym` from `{shown}` of the MLGym checkout `{root.resolve()}`"
        + (f" (commit {commit})" if commit else "") + ".",
        "",
        "- `workspace/`: MLGym's starter code, and the dataset's public files in `data/`.",
        f"- `scoring/hidden/`: kept out of the agent's workspace: {', '.join(moved + secret)}.",
        "- `scoring/score.py` runs MLGym's evaluation script unchanged on a copy of MLGym's workspace "
        "(starter code, data, hidden files, then the submission) and reads the JSON it prints.",
        "- `baseline` is MLGym's published number (`baseline_scores` of the config).",
        "",
        "As in MLGym, code the agent submits runs inside the evaluation's own process.",
        "",
        "Notes:",
        "",
        *[f"- {note}" for note in notes],
        "",
    ]
    return "\n".join(lines)


def _commit(root: Path) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copyfile(source, target)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()

