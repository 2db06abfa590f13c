"""The performance-profile figure: ρ(τ) of every model, best attempt and best submission.

Drawn on a bare matplotlib ``Figure`` (no pyplot), so it never touches a global
backend or another caller's figures. matplotlib comes with the ``plots`` extra.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import HarnessError
from harness.study.metrics import BASELINE, Profiles

INSTALL_HINT = "pip install 'harness[plots]'"
_STYLES = ["-", "--", "-.", ":"]


def require_matplotlib() -> None:
    """Fail with one line saying how to install matplotlib when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise HarnessError(f"plotting needs matplotlib, which is not installed: {INSTALL_HINT}") from None


def check_target(path: str | os.PathLike[str]) -> None:
    """Fail early (before any output) on a plot path matplotlib could not write."""
    require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    kinds = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lstrip(".").lower() not in kinds:
        raise HarnessError(f"cannot plot to {path}: unknown image format {path.suffix or '(none)'!r}; "
                           f"end the name in .png, .svg or .pdf")
    if not path.parent.is_dir():
        raise HarnessError(f"cannot plot to {path}: no directory {path.parent}")


def plot_profiles(p: Profiles, path: str | os.PathLike[str]) -> Path:
    """Write the profile figure to ``path`` (format from its suffix: .png, .svg, .pdf)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    path = Path(path)
    panels = [("Best Attempt profile", p.best, p.aup_best)]
    if p.last is not None and p.aup_last is not None:
        panels.append(("Best Submission profile", p.last, p.aup_last))
    fig = Figure(figsize=(6.0 * len(panels), 4.8), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    palette = [f"C{i}" for i in range(10)]
    for ax, (title, rhos, aups) in zip(axes, panels, strict=True):
        models = [m for m in rhos if m != BASELINE]
        for i, model in enumerate(models):
            ax.step(p.taus, rhos[model], where="post", color=palette[i % 10],
                    linestyle=_STYLES[(i // 10) % len(_STYLES)], linewidth=1.6,
                    label=f"{model} ({aups[model]:.3f})")
        if BASELINE in rhos:
            ax.step(p.taus, rhos[BASELINE], where="post", color="black", linestyle=":",
                    linewidth=1.6, label=f"{BASELINE} ({aups[BASELINE]:.3f})")
        ax.set_title(title)
        ax.set_xlabel("τ (log10 of the performance ratio)")
        ax.set_xlim(0, p.tau_max)
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.4)
        ax.legend(title="model (AUP)", fontsize="small", loc="lower right")
    axes[0].set_ylabel("ρ(τ): share of tasks within 10^τ of the best")
    try:
        fig.savefig(path, dpi=150)
    except (OSError, ValueError) as err:
        raise HarnessError(f"cannot write the plot to {path}: {err}") from None
    return path
