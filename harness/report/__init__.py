"""`harness report`: one HTML page about a study, its figures, and a transcript per episode.

``build_report(study_dir)`` reads ``episodes/<task>/<model>/run-<i>/`` (finished or
not), computes the benchmark's tables and profiles with :mod:`harness.study.metrics`,
draws the figures with matplotlib (the ``plots`` extra) and writes
``report/index.html``, ``report/figures/*.png|svg`` and ``report/transcripts/``.
"""

from __future__ import annotations

from harness.report.build import Report, build_report

__all__ = ["Report", "build_report"]
