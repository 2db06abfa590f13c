"""``validate`` and ``submit``: scoring the current submission with the task's scorer."""

from __future__ import annotations

import json

from aci.context import ScoreFailure, ToolContext
from aci.registry import tool

SUBMITTED = "submitted"


def _metrics(metrics: dict | None) -> str:
    return json.dumps(metrics or {}, sort_keys=False)


def _score(ctx: ToolContext, kind: str):
    try:
        result = ctx.score()
    except Exception as err:  # noqa: BLE001 - a scorer crash is shown, not raised
        result = ScoreFailure(ctx.hide_host_paths(f"the scorer failed: {type(err).__name__}: {err}"))
    return result, ctx.record_score(kind, result)


@tool
def validate(ctx: ToolContext) -> str:
    """Score your current submission on the test set and show the metrics (the same scoring as submit, without ending the episode). Use it to check your progress; every validate counts as an attempt."""
    if ctx.score is None:
        return "This task has no scorer, so validate is not available."
    _result, record = _score(ctx, "validate")
    if record.error:
        return f"Validation failed: {record.error}\nFix the submission and validate again."
    lines = ["Your code produced a valid submission artefact."]
    if ctx.baseline:
        lines.append(f"Baseline Score: {_metrics(ctx.baseline)}")
    lines.append(f"Evaluation Score: {_metrics(record.metrics)}")
    return "\n".join(lines)


@tool
def submit(ctx: ToolContext) -> str:
    """Submit your current solution: it is scored and the episode ends. Only submit when you are done."""
    if ctx.score is None:
        ctx.finish(SUBMITTED, None)
        return "Submitted. The episode is over."
    _result, record = _score(ctx, "submit")
    if record.error and ctx.mlgym_exits:  # MLGym ends the episode on every submit
        status = ctx.mlgym_status("submit", record)
        ctx.finish(status, None)
        return f"The submission could not be scored: {record.error}\nThe episode is over ({status})."
    if record.error:
        return (f"The submission could not be scored: {record.error}\n"
                "The episode continues: fix the submission (validate checks it) and submit again.")
    ctx.finish(SUBMITTED, record.metrics)
    return f"Submitted. Final score: {_metrics(record.metrics)}"
