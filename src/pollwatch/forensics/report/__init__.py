"""The forensics report: one self-contained HTML page (en/ru) and its figures.

Names are imported on first use (PEP 562): the command line's summary needs only
:mod:`~pollwatch.forensics.report.summary`, and the HTML and figures pull in matplotlib
(about a second), which a run that writes only JSON should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pollwatch.forensics.report.html import render_html, write_html
    from pollwatch.forensics.report.plots import PLOTS, Plot, write_plots
    from pollwatch.forensics.report.text import LANGS

__all__ = ["LANGS", "PLOTS", "Plot", "render_html", "write_html", "write_plots"]

_WHERE = {
    "LANGS": "text",
    "PLOTS": "plots",
    "Plot": "plots",
    "render_html": "html",
    "write_html": "html",
    "write_plots": "plots",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
