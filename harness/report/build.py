"""Build the report of a study: read it, compute, draw, write the page and transcripts.

Each section says what it could not show (no finished episode, one model, no cost
recorded) rather than failing, so a half-run study still gets a useful page.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.report import figures as figs
from harness.report import html, transcripts
from harness.report.data import FORMAT_ERROR, INCOMPLETE, EpisodeRun, Study, load_study
from harness.report.html import Raw
from harness.report.scores import BEST, LAST, Scores, add_profiles, study_scores, with_published
from harness.study.metrics import BASELINE

INDEX = "index.html"
ACTION_TYPES_SHOWN = 12
FAILURE_KINDS = (INCOMPLETE, "interrupted", "exit_error", "no valid final score", "not started")
STATUS_COLORS = {
    "submitted": "#4caf6e", "autosubmission (max_steps)": "#5b8fd9", "autosubmission (cost)": "#9cc0ef",
    "autosubmission (exit_cost)": "#9cc0ef", "exit_context": "#9b6fd0", "exit_format": "#f0a040",
    "exit_error": "#d9534f", "exit_wall_time": "#a0704a", "interrupted": "#9aa1ad", INCOMPLETE: "#cdd1d8",
}
FAILURE_COLORS = {INCOMPLETE: "#9aa1ad", "interrupted": "#6d7480", "exit_error": "#d9534f",
                  "no valid final score": "#f0a040", "not started": "#cdd1d8"}


@dataclass
class Report:
    """Where the report went."""

    index: Path
    figures: list[Path] = field(default_factory=list)
    transcripts: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def build_report(study_dir: Path, out_dir: Path | None = None, *, with_published: bool = False,
                 include_unlike: bool = False, progress: Callable[[str], None] | None = None) -> Report:
    """Write ``index.html``, ``figures/`` and ``transcripts/`` of the study into ``out_dir``."""
    say = progress or (lambda text: None)
    study_dir = Path(study_dir)
    out = Path(out_dir) if out_dir else study_dir / "report"
    figs.require_matplotlib()  # before reading a large study
    study = load_study(study_dir, skip=out, progress=say)
    say("computing score tables and profiles")
    scores = study_scores(study)
    add_profiles(scores, [t for t in study.tasks if any(e.task == t for e in study.finished)])
    published = None
    if with_published:
        published = with_published_scores(scores, include_unlike)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise HarnessError(f"cannot write the report to {out}: {err.strerror or err}; pass --out "
                           "a writable directory") from None
    writer = figs.FigureWriter(out / "figures")
    links = _write_transcripts(study, out, say)
    builder = _Page(study, scores, published, writer, links, out, say)
    text = builder.render()
    index = out / INDEX
    index.write_text(text, encoding="utf-8")
    files = [f.png for f in writer.figures] + [f.svg for f in writer.figures]
    return Report(index, files, [out / p for p in links.values()], builder.notes)


def with_published_scores(scores: Scores, include_unlike: bool = False) -> Scores:
    """Beside the paper's models; profiled on the tasks on the benchmark's scale only,
    unless ``include_unlike``."""
    merged = with_published(scores, include_unlike)
    if merged.profile_tasks:
        add_profiles(merged, merged.profile_tasks, why="as not on the benchmark's scale (marked *)")
    else:
        merged.notes.append("No task is on the benchmark's scale, so no profiles against the published "
                            "models (--include-unlike draws them anyway).")
    return merged


def _write_transcripts(study: Study, out: Path, say: Callable[[str], None]) -> dict[Path, str]:
    """One transcript per episode; returns run dir -> link relative to the page."""
    links = {}
    for index, episode in enumerate(study.episodes, 1):
        say(f"writing transcript {index}/{len(study.episodes)}")
        try:
            relative = episode.path.resolve().relative_to(study.path.resolve())
            if relative.parts[0] == "episodes":
                relative = relative.relative_to("episodes")
        except ValueError:
            relative = Path(episode.task) / episode.path.name
        target = out / "transcripts" / relative.with_name(relative.name + ".html")
        back = os.path.relpath(out / INDEX, target.parent)
        transcripts.write(episode, target, back=back)
        links[episode.path] = target.relative_to(out).as_posix()
    return links


class _Page:
    """The sections of the page, each with its figure and tables."""

    def __init__(self, study: Study, scores: Scores, published: Scores | None, writer: figs.FigureWriter,
                 links: dict[Path, str], out: Path, say: Callable[[str], None]) -> None:
        self.study, self.scores, self.published = study, scores, published
        self.writer, self.links, self.out, self.say = writer, links, out, say
        self.notes: list[str] = []
        others = [m for m in published.best.models if m not in published.ours] if published else []
        self.colors = figs.palette([*study.models, *others, BASELINE], gray=[BASELINE], muted=others)
        if published is not None:
            for ours, renamed in zip(scores.best.models, published.ours, strict=False):
                self.colors[renamed] = self.colors.get(ours)

    def render(self) -> str:
        sections = [("scores", "Scores", self.scores_section()),
                    ("profiles", "Performance profiles", self.profiles_section(self.scores, "profiles")),
                    ("cost", "AUP vs cost", self.cost_section())]
        if self.published is not None:
            sections.append(("published", "Beside the published models", self.published_section()))
        sections += [("exits", "Termination", self.exit_section()),
                     ("failures", "Failed and incomplete runs", self.failures_section()),
                     ("actions", "Actions", self.actions_section()),
                     ("episodes", "Episodes", self.episodes_section())]
        title = f"Study {self.study.name}: report"
        return html.page(title, sections, self.header())

    # -- header ----------------------------------------------------------------------

    def header(self) -> str:
        study, config = self.study, self.study.config
        info = study.info or {}
        versions = info.get("versions") or info.get("harness") or {}
        episodes = study.episodes
        finished = len(study.finished)
        incomplete = sum(1 for e in episodes if not e.finished)
        missing = sum(study.not_started().values())
        planned = len(config.get("tasks") or []) * len(config.get("models") or []) * (config.get("runs") or 0)
        facts = [("study directory", str(study.path.resolve())),
                 ("created", info.get("created", "—")),
                 ("tasks", ", ".join(study.tasks)), ("models", ", ".join(study.models)),
                 ("runs per task and model (k)", config.get("runs", "—")),
                 ("seed", config.get("seed", "—")),
                 ("max steps", config.get("max_steps") or "each task's"),
                 ("cost limit (USD)", config.get("cost_limit") or "each task's"),
                 ("harness", f"{versions.get('harness', '—')} (commit {versions.get('git_commit') or 'unknown'})"),
                 ("episodes", f"{finished} finished, {incomplete} unfinished"
                              + (f", {missing} not started, of {planned} planned" if planned else ""))]
        if not study.info:
            facts.insert(1, ("note", "no study.json: a directory of runs, not a harness bench study"))
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
        notes = list(self.scores.notes)
        if incomplete:
            notes.append(f"{incomplete} episode(s) did not finish (no results.json, or interrupted): "
                         "they are counted under Failed and incomplete runs, not in the score tables.")
        if missing:
            notes.append(f"{missing} planned episode(s) have not started: run harness bench --resume "
                         f"--out {study.path} to complete the study.")
        if len(study.models) == 1:
            notes.append("One model only: the performance profiles and AUP compare it with the baseline alone.")
        self.notes = notes
        return f'<table class="facts">{rows}</table>' + html.note(notes, title="What is missing")

    # -- scores and profiles ---------------------------------------------------------------

    def scores_section(self) -> str:
        s = self.scores
        k = self.study.config.get("runs")
        suffix = f"@{k}" if k else "@k"
        key = ('<div class="key">★ marks the best model per task (ties all marked); grey: not better than the '
               'baseline; — : no valid score. The small n/m after a score: runs with a valid score / finished '
               'runs. Best Attempt is the best validate or submit score over the runs; Best Submission is the best '
               "final submission.</div>")
        wide = len(s.best.models) > max(len(s.best.tasks), 8)
        return (key + f"<h3>{BEST}{suffix}</h3>"
                + html.score_table(s.best, s.valid.get(BEST, {}), ours=s.ours, by_model=wide)
                + f"<h3>{LAST}{suffix}</h3>"
                + html.score_table(s.last, s.valid.get(LAST, {}), ours=s.ours, by_model=wide))

    def profiles_section(self, scores: Scores, name: str) -> str:
        p = scores.profiles
        if p is None:
            return html.note(["No profiles: no task has a valid score yet."])
        curves = {BEST: p.best}
        aup = {BEST: p.aup_best}
        if p.last is not None:
            curves[LAST], aup[LAST] = p.last, p.aup_last or {}
        dashed = [m for m in scores.best.models if m not in scores.ours] if scores.published else []
        self.say(f"drawing {name}")
        figure = figs.profiles(self.writer, p.taus, curves, aup, self.colors, dashed=dashed, name=name)
        rows = []
        order = sorted(p.aup_best, key=lambda m: (-round(p.aup_best[m], 3), -(p.aup_last or {}).get(m, 0)))
        for model in order:
            last = (p.aup_last or {}).get(model)
            label = f"{model} (ours)" if scores.published and model in scores.ours and "(ours)" not in model \
                else model
            rows.append((label, f"{p.aup_best[model]:.3f}", f"{last:.3f}" if last is not None else "—"))
        text = (f"<p>ρ(τ) is the share of tasks on which a model's score is within a factor 10<sup>τ</sup> of the "
                f"best model's; AUP is the area under it up to τ<sub>max</sub> = {p.tau_max:g} (higher is better). "
                f"Tasks: {html.escape(', '.join(scores.profile_tasks))}. AUP depends on the set of models "
                "compared: adding or removing a model changes every model's AUP.</p>")
        return (text + self._figure(figure, "Performance profiles: Best Attempt (left) and Best Submission (right)")
                + html.table(["model", "Best Attempt AUP", "Best Submission AUP"], rows))

    def published_section(self) -> str:
        s = self.published
        assert s is not None
        body = html.note(s.notes, title="Read with care")
        k = self.study.config.get("runs") or "k"
        body += ("<p>The published models' scores are @4 (four runs each); the study's models (blue headings) "
                 f"are @{k}. One row per model, so the study's models sit beside the paper's.</p>")
        body += f"<h3>{BEST}</h3>" + html.score_table(s.best, s.valid.get(BEST, {}), ours=s.ours,
                                                       names=s.task_names, by_model=True)
        body += f"<h3>{LAST}</h3>" + html.score_table(s.last, s.valid.get(LAST, {}), ours=s.ours,
                                                       names=s.task_names, by_model=True)
        body += "<p>In the profiles below, the published models are drawn dashed, the study's models solid.</p>"
        return body + self.profiles_section(s, "profiles_published")

    def cost_section(self) -> str:
        study, p = self.study, self.scores.profiles
        rows, mean_cost = [], {}
        for model in study.models:
            runs = [e for e in study.episodes if e.model == model]
            total = sum(e.cost for e in runs)
            mean_cost[model] = total / len(runs) if runs else 0.0
            tokens_in = sum((e.results or {}).get("tokens_in") or 0 for e in runs)
            tokens_out = sum((e.results or {}).get("tokens_out") or 0 for e in runs)
            walls = [(e.results or {}).get("wall_time_s") for e in runs if e.results]
            walls = [w for w in walls if isinstance(w, int | float)]
            rows.append((model, len(runs), html.usd(mean_cost[model]), html.usd(total),
                         f"{tokens_in:,}", f"{tokens_out:,}", f"{sum(walls) / len(walls):.1f} s" if walls else "—",
                         f"{p.aup_best[model]:.3f}" if p and model in p.aup_best else "—",
                         f"{p.aup_last[model]:.3f}" if p and p.aup_last and model in p.aup_last else "—"))
        body = ""
        if p is not None:
            self.say("drawing AUP vs cost")
            figure = figs.aup_vs_cost(self.writer, mean_cost, p.aup_best, p.aup_last, self.colors,
                                      tau_max=p.tau_max)
            body += self._figure(figure, "AUP against mean cost per episode")
        if not any(mean_cost.values()):
            body += html.note(["No model recorded any cost (local or demo models are free, or the models "
                               "file gives no prices): every point sits at $0."])
        return body + html.table(["model", "episodes", "mean USD / episode", "total USD", "tokens in",
                                  "tokens out", "mean wall time", "Best Attempt AUP", "Best Submission AUP"], rows)

    # -- how episodes ended ------------------------------------------------------------------

    def exit_section(self) -> str:
        study = self.study
        counts = {m: Counter(e.exit_status for e in study.episodes if e.model == m) for m in study.models}
        seen = Counter(e.exit_status for e in study.episodes)
        order = [s for s in STATUS_COLORS if s in seen] + sorted(s for s in seen if s not in STATUS_COLORS)
        colors = dict(STATUS_COLORS)
        extra = figs.palette([s for s in order if s not in STATUS_COLORS])
        colors.update(extra)
        self.say("drawing exit statuses")
        figure = figs.stacked_bars(self.writer, "exit_statuses", "Exit status per model", study.models, counts,
                                   order, colors, xlabel="episodes")
        rows = [[m, *[counts[m].get(s, 0) for s in order], sum(counts[m].values())] for m in study.models]
        rows.append(["all models", *[seen.get(s, 0) for s in order], sum(seen.values())])
        return (self._figure(figure, "How episodes ended, per model")
                + html.table(["model", *[html.status(s) for s in order], "episodes"], rows))

    def failures_section(self) -> str:
        study = self.study
        per_model = {m: Counter() for m in study.models}
        per_task = {t: Counter() for t in study.tasks}
        failed: list[EpisodeRun] = []
        for episode in study.episodes:
            problems = episode.problems
            if problems:
                failed.append(episode)
            for problem in problems:
                per_model[episode.model][problem] += 1
                per_task[episode.task][problem] += 1
        for (task, model), gap in study.not_started().items():
            per_model.setdefault(model, Counter())["not started"] += gap
            per_task.setdefault(task, Counter())["not started"] += gap
        kinds = [k for k in FAILURE_KINDS if any(c.get(k) for c in per_model.values())]
        if not kinds:
            return "<p>Every episode finished with a valid final score.</p>"
        self.say("drawing failures")
        figure = figs.failures(self.writer, per_model, per_task, kinds, FAILURE_COLORS)
        totals = {m: sum(1 for e in study.episodes if e.model == m) for m in per_model}
        task_totals = {t: sum(1 for e in study.episodes if e.task == t) for t in per_task}
        explain = ("<p>incomplete: no results.json (killed or still running); interrupted: stopped with Ctrl-C; "
                   "exit_error: the model or the harness failed mid-episode; no valid final score: the episode "
                   "ended without a submission the scorer accepted; not started: planned in study.json but no "
                   "run directory yet. One run can count under several kinds.</p>")
        body = explain + self._figure(figure, "Failed and incomplete runs per model and per task")
        body += "<h3>per model</h3>" + html.table(
            ["model", *kinds, "episodes found"], [[m, *[c.get(k, 0) for k in kinds], totals.get(m, 0)]
                                                  for m, c in per_model.items()])
        body += "<h3>per task</h3>" + html.table(
            ["task", *kinds, "episodes found"], [[t, *[c.get(k, 0) for k in kinds], task_totals.get(t, 0)]
                                                 for t, c in per_task.items()])
        if failed:
            errors = any((e.results or {}).get("error") for e in failed)
            rows = []
            for e in failed:
                row = [e.task, e.model, e.run if e.run is not None else "?", html.status(e.exit_status),
                       ", ".join(e.problems), e.steps]
                row += [_short((e.results or {}).get("error") or "")] if errors else []
                rows.append([*row, html.link(self.links[e.path], "transcript")])
            body += "<h3>the runs</h3>" + html.table(
                ["task", "model", "run", "exit status", "why", "steps", *(["error"] if errors else []),
                 "transcript"], rows, left=5)
        return body

    # -- actions -------------------------------------------------------------------------------

    def actions_section(self) -> str:
        study = self.study
        overall: Counter = Counter(a for e in study.episodes for _, a in e.actions)
        if not overall:
            return html.note(["No steps recorded yet: no action types to show."])
        order = figs.top_categories(overall, ACTION_TYPES_SHOWN)
        keep = [a for a in order if a != figs.OTHER]
        colors = figs.palette(order, gray=[figs.OTHER, FORMAT_ERROR])
        by_step: dict[int, Counter] = {}
        for episode in study.episodes:
            for number, action in episode.actions:
                by_step.setdefault(number, Counter())[action if action in keep else figs.OTHER] += 1
        self.say("drawing action types")
        mix = figs.action_mix(self.writer, figs.fold_other(overall, keep), by_step, order, colors)
        per_model = {m: figs.fold_other(Counter(a for e in study.episodes if e.model == m for _, a in e.actions),
                                        keep) for m in study.models}
        per_task = {t: figs.fold_other(Counter(a for e in study.episodes if e.task == t for _, a in e.actions),
                                       keep) for t in study.tasks}
        by_model = figs.stacked_bars(self.writer, "actions_by_model", "Action types per model", study.models,
                                     per_model, order, colors, xlabel="share of the model's steps", share=True)
        by_task = figs.stacked_bars(self.writer, "actions_by_task", "Action types per task", study.tasks,
                                    per_task, order, colors, xlabel="share of the task's steps", share=True)
        text = ("<p>An action's type is the first word of the command the agent sent (edit, python, validate, "
                f"ls…); {html.escape(FORMAT_ERROR)} is a reply with no command the interface could parse. "
                f"The {ACTION_TYPES_SHOWN - 1} most frequent types are shown; the rest are summed as "
                f"{figs.OTHER}.</p>")
        rows = [[a, overall[a], *[per_model[m].get(a, 0) for m in study.models]]
                for a in sorted(overall, key=lambda a: (-overall[a], a))]
        return (text + self._figure(mix, "Action types over all steps, and their shares at each step number")
                + self._figure(by_model, "Action types per model") + self._figure(by_task, "Action types per task")
                + "<h3>counts</h3>" + html.table(["action type", "all", *study.models], rows))

    def episodes_section(self) -> str:
        rows = []
        for e in self.study.episodes:
            rows.append([e.task, e.model, e.run if e.run is not None else "?", html.status(e.exit_status), e.steps,
                         e.score("best_validation"), e.score("final_metrics"), html.usd(e.cost),
                         _seconds((e.results or {}).get("wall_time_s")),
                         html.link(self.links[e.path], "transcript")])
        return ("<p>Scores are each task's primary metric. Transcripts show every step: thought, command, output.</p>"
                + html.table(["task", "model", "run", "exit status", "steps", "best attempt", "final submission",
                              "cost", "wall time", "transcript"], rows, left=4))

    def _figure(self, figure: figs.Figure, caption: str) -> Raw:
        files = [p.relative_to(self.out).as_posix() for p in (figure.png, figure.svg)]
        return Raw(html.figure(figure.svg_text, caption, files))


def _seconds(value: object) -> str:
    return f"{value:.1f} s" if isinstance(value, int | float) else "—"


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

