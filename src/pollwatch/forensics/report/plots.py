"""The report's figures, drawn with matplotlib (no pyplot state, Agg/SVG only).

Each plot is a function ``(report, lang) -> Figure`` drawn from the station arrays the
methods saw, with the methods' estimates overlaid where they exist (e.g. Shpilkin's clean
reference turnout). Figures are embedded in the HTML as inline SVG (text kept as text, so
Cyrillic renders with the reader's fonts) and can be written to files with
:func:`write_plots`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from pollwatch.forensics.params import check_choice
from pollwatch.forensics.report.text import text

if TYPE_CHECKING:
    from pollwatch.forensics.battery import ForensicsReport

__all__ = ["PLOTS", "TOP_REGIONS", "Plot", "draw", "figure_bytes", "figure_svg", "write_plots"]

_RC: Any = {
    "svg.fonttype": "none",
    "svg.hashsalt": "pollwatch",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_LEADER = "#c0392b"
_OTHER = "#2c3e50"
_EXPECTED = "#7f8c8d"
_COMET = LinearSegmentedColormap.from_list("comet", ["#ffffff", "#fde0c5", "#e67e22", "#7b241c"])


def _fig(width: float = 7.0, height: float = 3.2) -> Figure:
    return Figure(figsize=(width, height), layout="tight")


def _smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average, the smooth expectation spikes are measured against."""
    kernel = np.ones(width) / width
    return np.asarray(np.convolve(y, kernel, mode="same"), dtype=float)


def _get(result: Any, name: str) -> Any:
    value = getattr(result, name, None) if result is not None else None
    return value if getattr(result, "applicable", False) else None


def plot_fingerprint(report: ForensicsReport, lang: str) -> Figure:
    """Klimek et al.'s fingerprint: a 2-D histogram of turnout × leader share, log colour."""
    tx = text(lang)
    d = report.arrays
    edges = np.linspace(0, 100, 201)
    h, _, _ = np.histogram2d(
        np.clip(100 * d.turnout, 0, 100), np.clip(100 * d.share, 0, 100), bins=(edges, edges)
    )
    fig = _fig(5.2, 4.4)
    ax = fig.add_subplot()
    im = ax.imshow(
        np.log10(1 + h.T),
        origin="lower",
        extent=(0, 100, 0, 100),
        cmap=_COMET,
        aspect="equal",
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, label=tx["legend_log_stations"], shrink=0.8)
    ax.set_xlabel(tx["axis_turnout"])
    ax.set_ylabel(tx["axis_share"])
    ax.set_title(tx["plot_fingerprint"])
    return fig


def plot_integer(report: ForensicsReport, lang: str) -> Figure:
    """Histograms of turnout and share at 0.1 % with a smooth expectation: integer spikes."""
    tx = text(lang)
    d = report.arrays
    edges = np.linspace(0, 100.1, 1002) - 0.05
    fig = _fig(7.0, 4.4)
    axes = fig.subplots(2, 1, sharex=True)
    result = report.results.get("integer_percentages")
    for ax, values, label, expected in (
        (axes[0], 100 * d.turnout, tx["axis_turnout"], _get(result, "turnout_expected_at_integer")),
        (axes[1], 100 * d.share, tx["axis_share"], _get(result, "leader_expected_at_integer")),
    ):
        counts, _ = np.histogram(values[np.isfinite(values)], bins=edges)
        centres = (edges[:-1] + edges[1:]) / 2
        ax.plot(centres, counts, color=_OTHER, lw=0.6, label=tx["legend_observed"])
        if expected is not None and len(expected) == 101:
            ax.plot(
                np.arange(101),
                np.asarray(expected, dtype=float),
                "o",
                ms=2.2,
                color=_LEADER,
                label=tx["legend_expected_integer"],
            )
        else:
            ax.plot(
                centres,
                _smooth(counts, 11),
                color=_EXPECTED,
                lw=1.2,
                ls="--",
                label=tx["legend_expected"],
            )
        ax.set_ylabel(tx["axis_stations"])
        ax.set_xlabel(label)
        ax.set_xlim(0, 100)
    axes[0].legend(frameon=False, loc="upper left")
    axes[0].set_title(tx["plot_integer"])
    return fig


def plot_shpilkin(report: ForensicsReport, lang: str) -> Figure:
    """Each candidate's votes summed by station turnout (0.5 % bins), reference marked."""
    tx = text(lang)
    d = report.arrays
    edges = np.linspace(0, 100, 201)
    t = np.clip(100 * d.turnout, 0, 100)
    fig = _fig()
    ax = fig.add_subplot()
    centres = (edges[:-1] + edges[1:]) / 2
    order = np.argsort(-d.votes.sum(axis=0))
    for rank, j in enumerate(order[:6]):
        votes, _ = np.histogram(t, bins=edges, weights=d.votes[:, j])
        is_leader = d.candidates[j] == d.leader_name
        ax.plot(
            centres,
            votes,
            lw=1.4 if is_leader else 0.9,
            color=_LEADER if is_leader else f"C{rank}",
            label=_short(d.candidates[j]),
        )
    ref = _get(report.results.get("shpilkin"), "reference_turnout")
    if isinstance(ref, (int, float)) and np.isfinite(ref):
        ax.axvline(100 * ref, color=_EXPECTED, ls="--", lw=1, label=tx["legend_reference"])
    ax.set_xlabel(tx["axis_turnout"])
    ax.set_ylabel(tx["axis_votes"])
    ax.set_xlim(0, 100)
    ax.legend(frameon=False, fontsize=7)
    ax.set_title(tx["plot_shpilkin"])
    return fig


def _short(name: str) -> str:
    return name if len(name) <= 28 else name[:27] + "…"


_BENFORD2 = np.array([sum(np.log10(1 + 1 / (10 * k + d)) for k in range(1, 10)) for d in range(10)])


def _digits(counts: np.ndarray, position: str) -> np.ndarray:
    c = counts[counts >= (10 if position == "second" else 100)]
    if position == "last":
        digits = c % 10
    else:
        n = np.floor(np.log10(c)).astype(np.int64)
        digits = (c // 10 ** (n - 1)) % 10
    freq = np.bincount(digits.astype(np.int64), minlength=10)[:10].astype(float)
    return np.asarray(freq / max(1.0, float(freq.sum())), dtype=float)


def plot_digits(report: ForensicsReport, lang: str) -> Figure:
    """Second digits against the counts' binomial model (the leader's); last digits, uniform."""
    tx = text(lang)
    d = report.arrays
    fig = _fig()
    ax1, ax2 = fig.subplots(1, 2)
    x = np.arange(10)
    others = (d.cast - d.leader).astype(np.int64)
    model = _get(report.results.get("digits"), "second_digit_expected")
    second = (
        (np.asarray(model, dtype=float), tx["legend_model"])
        if model is not None and len(model) == 10
        else (_BENFORD2, tx["legend_benford"])
    )
    for ax, pos, expected, exp_label, title in (
        (ax1, "second", second[0], second[1], tx["second_digit_title"]),
        (ax2, "last", np.full(10, 0.1), tx["legend_uniform"], tx["last_digit_title"]),
    ):
        ax.bar(x - 0.2, _digits(d.leader, pos), width=0.4, color=_LEADER, label=tx["legend_leader"])
        ax.bar(x + 0.2, _digits(others, pos), width=0.4, color=_OTHER, label=tx["legend_others"])
        ax.plot(x, expected, "o--", color=_EXPECTED, ms=3, lw=1, label=exp_label)
        ax.set_xticks(x)
        ax.set_xlabel(tx["axis_digit"])
        ax.set_ylabel(tx["axis_frequency"])
        ax.set_title(title)
        ax.legend(frameon=False, fontsize=7)
    return fig


def plot_spikes(report: ForensicsReport, lang: str) -> Figure:
    """Density of the leader's share (stations with ≥ 100 ballots) at 0.2 % resolution."""
    tx = text(lang)
    d = report.arrays
    s = 100 * d.share[d.cast >= 100]
    edges = np.linspace(0, 100, 501)
    dens, _ = np.histogram(s[np.isfinite(s)], bins=edges, density=True)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = _fig()
    ax = fig.add_subplot()
    ax.fill_between(centres, dens, step="mid", color=_LEADER, alpha=0.35, lw=0)
    ax.plot(
        centres, dens, color=_LEADER, lw=0.6, drawstyle="steps-mid", label=tx["legend_observed"]
    )
    ax.plot(
        centres, _smooth(dens, 15), color=_EXPECTED, ls="--", lw=1.2, label=tx["legend_expected"]
    )
    ax.set_xlabel(tx["axis_share"])
    ax.set_ylabel(tx["axis_density"])
    ax.set_xlim(0, 100)
    ax.legend(frameon=False)
    ax.set_title(tx["plot_spikes"])
    return fig


def plot_relations(report: ForensicsReport, lang: str) -> Figure:
    """Mean leader and others' votes per registered voter in turnout bins."""
    tx = text(lang)
    d = report.arrays
    edges = np.linspace(0, 100, 101)
    t = np.clip(100 * d.turnout, 0, 100)
    reg, _ = np.histogram(t, bins=edges, weights=d.registered)
    lead, _ = np.histogram(t, bins=edges, weights=d.leader)
    oth, _ = np.histogram(t, bins=edges, weights=d.cast - d.leader)
    ok = reg > 0
    centres = ((edges[:-1] + edges[1:]) / 2)[ok]
    fig = _fig()
    ax = fig.add_subplot()
    ax.plot(centres, lead[ok] / reg[ok], color=_LEADER, label=tx["legend_leader"])
    ax.plot(centres, oth[ok] / reg[ok], color=_OTHER, label=tx["legend_others"])
    ax.set_xlabel(tx["axis_turnout"])
    ax.set_ylabel(tx["axis_per_registered"])
    ax.set_xlim(0, 100)
    ax.legend(frameon=False)
    ax.set_title(tx["plot_relations"])
    return fig


TOP_REGIONS = 7
"""Regions drawn as small multiples beside the whole country (the top of the ranking)."""


def plot_regions(report: ForensicsReport, lang: str) -> Figure:
    """Small multiples: the fingerprint of the whole country and of the top-ranked regions.

    Each panel is a 2-D histogram of that region's stations (1 % bins, log colour, one
    colour scale per panel); ``+`` marks the national clean reference of the ``shpilkin``
    recipe, so a region whose cloud sits far above and right of it stands out at a glance.
    """
    tx = text(lang)
    d = report.arrays
    names = list(d.region_names)
    top = [str(r["region"]) for r in report.regions[:TOP_REGIONS]]
    panels: list[tuple[str, np.ndarray]] = [(tx["region_all"], np.ones(d.n, dtype=bool))]
    for name in top:
        if name in names:
            panels.append((name, d.region == names.index(name)))
    reference = None
    shp = report.results.get("shpilkin")
    for recipe in getattr(shp, "recipes", ()) if getattr(shp, "applicable", False) else ():
        if recipe.name == "shpilkin":
            reference = (100 * recipe.reference_turnout, 100 * recipe.reference_share)
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig = _fig(8.0, 2.2 * rows + 0.3)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
    edges = np.linspace(0, 100, 101)
    for ax, (title, mask) in zip(axes, panels, strict=False):
        h, _, _ = np.histogram2d(
            np.clip(100 * d.turnout[mask], 0, 100),
            np.clip(100 * d.share[mask], 0, 100),
            bins=(edges, edges),
        )
        ax.imshow(
            np.log10(1 + h.T),
            origin="lower",
            extent=(0, 100, 0, 100),
            cmap=_COMET,
            aspect="equal",
            interpolation="nearest",
        )
        if reference is not None:
            ax.plot(*reference, "+", color=_OTHER, ms=7, mew=1.2)
        ax.set_title(_short(title), fontsize=7.5)
        ax.set_xticks([0, 50, 100])
        ax.set_yticks([0, 50, 100])
        ax.tick_params(labelsize=7)
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    fig.supxlabel(tx["axis_turnout"], fontsize=8)
    fig.supylabel(tx["axis_share"], fontsize=8)
    return fig


@dataclass(frozen=True)
class Plot:
    """One figure: file name, the method it illustrates, and the drawing function."""

    name: str
    method: str
    """The method whose section shows it, or ``"rankings"`` (the region ranking)."""
    draw: Callable[[ForensicsReport, str], Figure]


PLOTS: tuple[Plot, ...] = (
    Plot("fingerprint", "fingerprint", plot_fingerprint),
    Plot("integer-percentages", "integer_percentages", plot_integer),
    Plot("shpilkin", "shpilkin", plot_shpilkin),
    Plot("relations", "relations", plot_relations),
    Plot("digits", "digits", plot_digits),
    Plot("spikes", "spikes", plot_spikes),
    Plot("regions", "rankings", plot_regions),
)
"""Every figure, in report order."""

_FORMATS = ("png", "svg")
"""Image formats the figures are written in."""

_SVG_HEAD = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as ``png`` or ``svg`` bytes."""
    check_choice("figure_bytes", "fmt", fmt, _FORMATS)
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def figure_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element for inline HTML (XML prolog and DOCTYPE removed)."""
    return _SVG_HEAD.sub("", figure_bytes(fig, "svg").decode("utf-8"), count=1)


def draw(plot: Plot, report: ForensicsReport, lang: str) -> Figure | None:
    """Draw one plot, or ``None`` when the method did not run or there are no stations."""
    if report.arrays.n == 0 or (plot.method not in report.results and plot.method != "rankings"):
        return None
    with matplotlib.rc_context(_RC):
        return plot.draw(report, lang)


def write_plots(
    report: ForensicsReport, folder: str | Path, fmt: str = "png", *, lang: str = "en"
) -> list[Path]:
    """Write every figure of ``report`` into ``folder`` as ``<name>.<fmt>``; return the paths."""
    check_choice("write_plots", "fmt", fmt, _FORMATS)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for plot in PLOTS:
        fig = draw(plot, report, lang)
        if fig is None:
            continue
        path = out / f"{plot.name}.{fmt}"
        path.write_bytes(figure_bytes(fig, fmt))
        paths.append(path)
    return paths
