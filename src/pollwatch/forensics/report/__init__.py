"""The forensics report: one self-contained HTML page (en/ru) and its figures."""

from __future__ import annotations

from pollwatch.forensics.report.html import render_html, write_html
from pollwatch.forensics.report.plots import PLOTS, Plot, write_plots
from pollwatch.forensics.report.text import LANGS

__all__ = ["LANGS", "PLOTS", "Plot", "render_html", "write_html", "write_plots"]
