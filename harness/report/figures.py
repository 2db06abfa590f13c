"""The report's figures, drawn with matplotlib and written as PNG and SVG.

Each function takes plain numbers (no study objects), draws one figure and hands it
to :class:`FigureWriter`, which saves both files and keeps the SVG text so the HTML
page can embed it inline (text stays text: ``svg.fonttype = none``).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

OTHER = "other"
_REFERENCE = re.compile(r'(\bid="|href="#|url\(#)')


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the non-interactive backend, or one line saying what to install."""
    try:
        import matplotlib
    except ImportError:
        raise HarnessError("the report's plots need matplotlib: pip install 'harness[plots]'") from None
    matplotlib.use("Agg", force=True)
    # Labels hold agent text (action types): a pair of $ in one would be parsed as
    # mathtext, and a formula matplotlib cannot parse stops the whole report. No figure
    # uses mathtext, so text is drawn as it is.
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


@dataclass
class Figure:
    name: str
    title: str
    png: Path
    svg: Path
    svg_text: str


class FigureWriter:
    """Saves figures as ``NAME.png`` and ``NAME.svg`` in one directory."""

    def __init__(self, out_dir: Path) -> None:
        self.plt = require_matplotlib()
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.figures: list[Figure] = []

    def save(self, fig: Any, name: str, title: str) -> Figure:
        import matplotlib

        png, svg = self.out_dir / f"{name}.png", self.out_dir / f"{name}.svg"
        fig.savefig(png, dpi=110, bbox_inches="tight")
        # A salt per figure keeps the ids of several inline SVGs on one page distinct.
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", bbox_inches="tight")
        self.plt.close(fig)
        text = buffer.getvalue()
        svg.write_text(text, encoding="utf-8")
        figure = Figure(name, title, png, svg, _inline(text, name))
        self.figures.append(figure)
        return figure


def _inline(svg: str, name: str) -> str:
    """The ``<svg>`` element alone (no XML prolog), with ids made unique to the figure."""
    start = svg.find("<svg")
    body = svg[start:] if start >= 0 else svg
    # Element ids (clip paths, glyphs) repeat between figures; prefix them and their uses.
    return _REFERENCE.sub(lambda m: f"{m.group(1)}{name}-", body)


def palette(names: Sequence[str], *, gray: Sequence[str] = (), muted: Sequence[str] = ()) -> dict[str, Any]:
    """A color per name, stable across figures.

    Strong colors (tab10 without its gray, so gray stays free for ``gray`` names) go
    to the names in order; ``muted`` names (the published models) take the softer
    tab20b/tab20c colors, so the study's own models stand out beside them.
    """
    import matplotlib

    strong = [c for i, c in enumerate(matplotlib.colormaps["tab10"].colors) if i != 7]
    strong += list(matplotlib.colormaps["Dark2"].colors)
    soft = list(matplotlib.colormaps["tab20b"].colors) + list(matplotlib.colormaps["tab20c"].colors)
    colors: dict[str, Any] = {}
    plain = [n for n in names if n not in gray and n not in muted]
    for i, name in enumerate(plain):
        colors[name] = strong[i % len(strong)]
    for i, name in enumerate(n for n in names if n in muted and n not in gray):
        colors[name] = soft[(i * 4 + i // 5) % len(soft)]
    grays = ["#555b66", "#9aa1ad", "#c3c8d0", "#777e8a"]
    for i, name in enumerate(n for n in names if n in gray):
        colors[name] = grays[i % len(grays)]
    return colors


def profiles(writer: FigureWriter, taus: Sequence[float], curves: Mapping[str, Mapping[str, Sequence[float]]],
             aup: Mapping[str, Mapping[str, float]], colors: Mapping[str, Any], *,
             dashed: Sequence[str] = (), name: str = "profiles", baseline: str = "baseline") -> Figure:
    """ρ(τ) step curves, one panel per table (``curves``: panel title -> model -> ρ).

    ``dashed``: models drawn dashed (the published ones); ``baseline`` is drawn dotted.
    """
    plt = writer.plt
    panels = list(curves)
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), sharey=True, squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for model, rho in curves[panel].items():
            value = aup[panel].get(model)
            label = f"{model} (AUP {value:.3f})" if value is not None else model
            style = ":" if model == baseline else "--" if model in dashed else "-"
            ax.step(taus, rho, where="post", label=label, color=colors.get(model), linestyle=style,
                    linewidth=2.2 if style == "-" else 1.4)
        ax.set_title(panel)
        ax.set_xlabel("τ (log10 of the performance ratio)")
        ax.set_xlim(0, max(taus) if taus else 1)
        ax.set_ylim(-0.02, 1.04)
        ax.grid(alpha=0.3)
        ax.set_axisbelow(True)
        if len(curves[panel]) <= 5:
            ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    axes[0][0].set_ylabel("ρ(τ): share of tasks within τ of the best")
    fig.tight_layout()
    many = max(len(c) for c in curves.values()) > 5
    if many:  # one legend per panel, below it, where it hides no curve
        for ax in axes[0]:
            ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return writer.save(fig, name, "Performance profiles")


def aup_vs_cost(writer: FigureWriter, cost: Mapping[str, float], aup_best: Mapping[str, float],
                aup_last: Mapping[str, float] | None, colors: Mapping[str, Any], *, tau_max: float) -> Figure:
    """AUP (best attempt filled, best submission hollow) against mean USD per episode.

    The AUP axis spans its whole range, 0 to τmax, so small differences look small.
    """
    plt = writer.plt
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    models = [m for m in aup_best if m in cost]
    for model in models:
        color = colors.get(model)
        ax.scatter(cost[model], aup_best[model], s=70, color=color, label=model, zorder=3)
        if aup_last and model in aup_last:
            ax.scatter(cost[model], aup_last[model], s=70, facecolors="none", edgecolors=[color], zorder=3)
            ax.plot([cost[model]] * 2, [aup_best[model], aup_last[model]], color=color, alpha=0.4, zorder=2)
        ax.annotate(model, (cost[model], aup_best[model]), textcoords="offset points", xytext=(6, 4),
                    fontsize=8)
    spread = max(cost.values(), default=0.0)
    ax.set_xlim(-0.05 * (spread or 1), 1.15 * (spread or 1))
    ax.set_ylim(0, tau_max * 1.04)
    ax.set_axisbelow(True)
    ax.set_xlabel("mean cost per episode (USD)")
    ax.set_ylabel(f"AUP (at most τmax = {tau_max:g})")
    ax.set_title("AUP vs cost (filled: best attempt, hollow: best submission)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return writer.save(fig, "aup_vs_cost", "AUP vs cost")


def stacked_bars(writer: FigureWriter, name: str, title: str, rows: Sequence[str],
                 counts: Mapping[str, Mapping[str, float]], order: Sequence[str], colors: Mapping[str, Any], *,
                 xlabel: str, share: bool = False) -> Figure:
    """One horizontal bar per row, stacked by category (``share``: as fractions of the row)."""
    plt = writer.plt
    fig, ax = plt.subplots(figsize=(9.5, 0.9 + 0.42 * max(len(rows), 2)))
    left = [0.0] * len(rows)
    for category in order:
        values = []
        for row in rows:
            total = sum(counts[row].values()) or 1
            value = counts[row].get(category, 0)
            values.append(value / total if share else value)
        if not any(values):
            continue
        ax.barh(rows, values, left=left, color=colors.get(category), label=category, edgecolor="white",
                linewidth=0.5)
        for i, value in enumerate(values):
            if value and (value >= (0.06 if share else max(left[i] + value, 1) * 0.06)):
                text = f"{value:.0%}" if share else f"{value:g}"
                ax.text(left[i] + value / 2, i, text, ha="center", va="center", fontsize=7.5, color="black")
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_axisbelow(True)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.set_xlim(0, 1.0 if share else max(max(left, default=0) * 1.03, 1))
    if not share:
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return writer.save(fig, name, title)


def failures(writer: FigureWriter, per_model: Mapping[str, Counter], per_task: Mapping[str, Counter],
             kinds: Sequence[str], colors: Mapping[str, Any]) -> Figure:
    """Failed and incomplete runs by kind, per model (left) and per task (right)."""
    plt = writer.plt
    height = 1.2 + 0.45 * max(len(per_model), len(per_task), 2)
    fig, axes = plt.subplots(1, 2, figsize=(11, height))
    for ax, (label, data) in zip(axes, (("per model", per_model), ("per task", per_task)), strict=True):
        rows = list(data)
        width = 0.8 / max(len(kinds), 1)
        for k, kind in enumerate(kinds):
            ys = [i - 0.4 + width * (k + 0.5) for i in range(len(rows))]
            values = [data[row].get(kind, 0) for row in rows]
            ax.barh(ys, values, height=width, color=colors.get(kind), label=kind)
            for y, value in zip(ys, values, strict=True):
                if value:
                    ax.text(value, y, f" {value}", va="center", fontsize=7.5)
        ax.set_yticks(range(len(rows)), rows)
        ax.invert_yaxis()
        ax.set_title(f"failed and incomplete runs {label}")
        ax.set_xlabel("runs")
        ax.xaxis.get_major_locator().set_params(integer=True)
        top = max((v for row in rows for v in data[row].values()), default=0)
        ax.set_xlim(0, max(top * 1.2, 1))
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, min(0.45 / height, 0.3), 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(kinds), fontsize=8.5, frameon=False)
    return writer.save(fig, "failures", "Failed and incomplete runs")


def action_mix(writer: FigureWriter, overall: Counter, by_step: Mapping[int, Counter], order: Sequence[str],
               colors: Mapping[str, Any]) -> Figure:
    """Action types overall (bars) and by step number (shares, with episodes per step)."""
    plt = writer.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.6]})
    shown = [a for a in order if overall.get(a)]
    left.barh(shown, [overall[a] for a in shown], color=[colors.get(a) for a in shown])
    for i, a in enumerate(shown):
        left.text(overall[a], i, f" {overall[a]}", va="center", fontsize=7.5)
    left.invert_yaxis()
    left.set_xlim(0, max(overall.values(), default=1) * 1.18)
    left.set_title("action types, all steps")
    left.set_xlabel("steps")
    left.grid(axis="x", alpha=0.3)
    left.set_axisbelow(True)
    steps = sorted(by_step)
    # Filled step bands (one artist per action type, not one bar per step and type).
    edges = [s + d for s in steps for d in (-0.5, 0.5)]
    bottom = [0.0] * len(steps)
    for a in shown:
        shares = [by_step[s].get(a, 0) / (sum(by_step[s].values()) or 1) for s in steps]
        top = [b + v for b, v in zip(bottom, shares, strict=True)]
        right.fill_between(edges, [b for b in bottom for _ in (0, 1)], [t for t in top for _ in (0, 1)],
                           color=colors.get(a), label=a, linewidth=0)
        bottom = top
    right.set_xlim(min(steps, default=1) - 0.5, max(steps, default=1) + 0.5)
    right.set_ylim(0, 1)
    right.set_title("action types by step number")
    right.set_xlabel("step")
    right.set_ylabel("share of the steps taken at this number")
    twin = right.twinx()
    twin.plot(steps, [sum(by_step[s].values()) for s in steps], color="black", linewidth=1, marker=".",
              label="episodes at this step")
    twin.set_ylabel("episodes reaching the step")
    twin.set_ylim(0, max((sum(c.values()) for c in by_step.values()), default=1) * 1.1)
    twin.yaxis.get_major_locator().set_params(integer=True)
    handles, labels = right.get_legend_handles_labels()
    extra_h, extra_l = twin.get_legend_handles_labels()
    right.legend(handles + extra_h, labels + extra_l, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.1, 1.0),
                 frameon=False)
    if len(steps) > 30:
        right.xaxis.get_major_locator().set_params(integer=True)
    else:
        right.set_xticks(steps)
    fig.tight_layout()
    return writer.save(fig, "actions", "Action types overall and by step")


def top_categories(counter: Counter, limit: int) -> list[str]:
    """The ``limit`` most frequent keys (ties by name), then ``other`` if any are left."""
    ranked = sorted(counter, key=lambda k: (-counter[k], k))
    if len(ranked) <= limit:
        return ranked
    return ranked[: limit - 1] + [OTHER]


def fold_other(counter: Counter, keep: Sequence[str]) -> Counter:
    """``counter`` with every key not in ``keep`` summed under ``other``."""
    out: Counter = Counter()
    for key, value in counter.items():
        out[key if key in keep else OTHER] += value
    return out

