"""One self-contained HTML file per report: no CDN, no external request, plots as inline SVG.

The page opens with a one-screen summary a journalist can read (what the numbers say and
what they do not prove), then each method with its figure and result table, the rankings
of regions and stations, the rows kept out, and the methods explained with references.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from pollwatch.forensics.registry import get_method
from pollwatch.forensics.report.plots import PLOTS, draw, figure_svg
from pollwatch.forensics.report.summary import (
    key_figures,
    overview,
    result_rows,
    summary_findings,
    summary_p,
)
from pollwatch.forensics.report.text import fmt_int, fmt_num, fmt_pct, reason_text, text

if TYPE_CHECKING:
    from pollwatch.forensics.battery import ForensicsReport

__all__ = ["content_security_policy", "render_html", "write_html"]

_TEMPLATES = Path(__file__).parent / "templates"

REGIONS_SHOWN = 15
"""Regions listed openly; the rest of the ranking is one click away (``<details>``)."""


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _methods(report: ForensicsReport, lang: str) -> list[dict[str, Any]]:
    """Each method's section: finding, key figures, figure, limits, then all figures."""
    tx = text(lang)
    found = {f.method: f for f in summary_findings(report, lang)}
    out = []
    for name, result in report.results.items():
        method = get_method(name)
        title, detects = method.text(lang)
        figures = []
        for plot in PLOTS:
            if plot.method == name:
                fig = draw(plot, report, lang)
                if fig is not None:
                    figures.append(figure_svg(fig))
        data = result.to_dict()
        finding = found.get(name)
        out.append(
            {
                "name": name,
                "title": title,
                "detects": detects,
                "applicable": result.applicable,
                "finding": finding,
                "level": tx[f"level_{finding.level}"] if finding is not None else "",
                "key_figures": key_figures(name, data, lang) if result.applicable else [],
                "limits": tx.get(f"limits_{name}", ""),
                "reference": data.get("reference") or method.reference,
                "rows": result_rows(data, lang),
                "figures": figures,
                "run_time": tx["run_time"].format(
                    seconds=fmt_num(report.timings.get(name, 0.0), lang, 2)
                ),
            }
        )
    return out


def _recipes(report: ForensicsReport, lang: str) -> list[dict[str, Any]]:
    """The published recipes of Shpilkin and Klimek beside our headline, one row each."""
    tx = text(lang)
    rows: list[dict[str, Any]] = []
    for name in ("shpilkin", "klimek"):
        result = report.results.get(name)
        if result is None or not result.applicable:
            continue
        data = result.to_dict()
        title, _ = get_method(name).text(lang)
        headline = "regional" if data.get("by_region") else None
        for recipe in data.get("recipes") or ():
            if name == "shpilkin":
                low, high = recipe["interval"]
                estimate = fmt_int(recipe["anomalous_votes"], lang)
                interval = f"{fmt_int(low, lang)} – {fmt_int(high, lang)}"
            else:
                estimate = (
                    f"f_i {fmt_pct(recipe['f_i'], lang)}, f_e {fmt_pct(recipe['f_e'], lang, 2)}"
                )
                interval = ", ".join(
                    f"{key} {fmt_pct(lo, lang, 1 if key == 'f_i' else 2)} – "
                    f"{fmt_pct(hi, lang, 1 if key == 'f_i' else 2)}"
                    for key, (lo, hi) in recipe["interval"].items()
                )
            rows.append(
                {
                    "method": title,
                    "name": recipe["name"],
                    "label": tx.get(f"recipe_label_{name}_{recipe['name']}", recipe["name"]),
                    "headline": recipe["name"] == headline,
                    "estimate": estimate,
                    "interval": interval,
                    "assumes": tx[f"recipe_{name}_{recipe['name']}"],
                }
            )
        if name == "shpilkin" and report.regions and report.regions[0].get("reference"):
            total = sum(int(r.get("anomalous_votes") or 0) for r in report.regions)
            rows.append(
                {
                    "method": title,
                    "name": "hybrid",
                    "label": tx["recipe_label_shpilkin_hybrid"],
                    "headline": False,
                    "estimate": fmt_int(total, lang),
                    "interval": "—",
                    "assumes": tx["recipe_shpilkin_hybrid"],
                }
            )
    return rows


def _national_reference(report: ForensicsReport) -> tuple[float, float] | None:
    shp = report.results.get("shpilkin")
    for recipe in getattr(shp, "recipes", ()) if getattr(shp, "applicable", False) else ():
        if recipe.name == "shpilkin":
            return float(recipe.reference_turnout), float(recipe.reference_share)
    return None


def _reasons(r: dict[str, Any], lang: str) -> list[str]:
    """Why a region stands where it does: which clean reference, and the checks it failed."""
    tx = text(lang)
    out = []
    if r.get("reference") == "own":
        out.append(tx["why_own"])
    for code in r.get("checks_failed") or ():
        if code == "round_numbers":
            out.append(
                tx["why_round_numbers"].format(
                    obs=fmt_int(r["integer_observed"], lang),
                    exp=fmt_num(r["integer_expected"], lang, 1),
                    q=summary_p(r.get("integer_q"), lang),
                )
            )
        elif code == "at_100":
            out.append(tx["why_at_100"].format(n=fmt_int(r["at_100"], lang)))
        elif code == "own_peak_high":
            out.append(tx["why_own_peak_high"])
    return out


def _regions_national(report: ForensicsReport, lang: str) -> str:
    national = _national_reference(report)
    if national is None:
        return ""
    return text(lang)["regions_national"].format(
        t0=fmt_pct(national[0], lang), s0=fmt_pct(national[1], lang)
    )


def _regions(report: ForensicsReport, lang: str) -> list[dict[str, Any]]:
    tx = text(lang)
    return [
        {
            "rank": rank,
            "region": str(r["region"]),
            "stations": fmt_int(r["stations"], lang),
            "turnout": fmt_pct(r["turnout"], lang),
            "leader_share": fmt_pct(r["leader_share"], lang),
            "integer": f"{fmt_int(r['integer_observed'], lang)} / "
            f"{fmt_num(r['integer_expected'], lang, 1)}",
            "integer_z": fmt_num(r["integer_z"], lang, 1),
            "anomalous_votes": fmt_int(r["anomalous_votes"], lang),
            "anomalous_share": fmt_pct(r["anomalous_share"], lang),
            "reference": tx[f"ref_{r['reference']}"] if r.get("reference") else "—",
            "reasons": _reasons(r, lang),
        }
        for rank, r in enumerate(report.regions, start=1)
    ]


def _stations(report: ForensicsReport, lang: str) -> list[dict[str, str]]:
    tx = text(lang)
    rows = []
    for s in report.stations:
        flags = [
            label
            for flag, label in (
                ("round_turnout", tx["col_turnout"]),
                ("round_share", tx["col_share"]),
            )
            if s[flag]
        ]
        rows.append(
            {
                "region": str(s["region"]),
                "station": str(s["station"]),
                "registered": fmt_int(s["registered"], lang),
                "turnout": fmt_pct(s["turnout"], lang),
                "leader_share": fmt_pct(s["leader_share"], lang),
                "corner": fmt_num(s["corner"], lang, 3),
                "round": ", ".join(flags) or "—",
                "identical_group": fmt_int(s["identical_group"], lang)
                if s["identical_group"] > 1
                else "—",
                "score": fmt_num(s["score"], lang, 2),
            }
        )
    return rows


def _aggregates(report: ForensicsReport, lang: str) -> str | None:
    agg = report.aggregates
    if not agg:
        return None
    return text(lang)["aggregates_text"].format(
        rows=fmt_int(agg.get("rows"), lang),
        leader_votes=fmt_int(agg.get("leader_votes"), lang),
        leader_share=fmt_pct(agg.get("leader_share"), lang),
    )


def render_html(report: ForensicsReport, lang: str = "en") -> str:
    """The whole report as one self-contained HTML page in ``lang`` (``en`` or ``ru``).

    No external resource is loaded: styles are inline, figures are inline SVG, references
    are plain text.
    """
    tx = text(lang)
    from pollwatch.forensics.battery import EXCLUDED_ROWS_SHOWN

    excluded = report.excluded
    reasons = "; ".join(
        f"{reason_text(str(reason), lang)} ({fmt_int(n, lang)})"
        for reason, n in excluded["reason"].value_counts().items()
    )
    shown = excluded.head(EXCLUDED_ROWS_SHOWN).copy()
    shown["reason"] = [reason_text(str(x), lang) for x in shown["reason"]]
    regions_plot = next((p for p in PLOTS if p.method == "rankings"), None)
    regions_fig = draw(regions_plot, report, lang) if regions_plot and report.regions else None
    context = {
        "lang": lang,
        "tx": tx,
        "election": report.election,
        "generated": tx["generated"].format(
            resamples=fmt_int(report.resamples, lang), seed=report.seed
        ),
        "overview": overview(report, lang),
        "findings": summary_findings(report, lang),
        "aggregates": _aggregates(report, lang),
        "recipes": _recipes(report, lang),
        "methods": _methods(report, lang),
        "regions": _regions(report, lang),
        "regions_shown": REGIONS_SHOWN,
        "regions_national": _regions_national(report, lang),
        "regions_figure": figure_svg(regions_fig) if regions_fig is not None else None,
        "stations": _stations(report, lang),
        "stations_note": tx["stations_note"].format(n=len(report.stations)),
        "excluded_count": len(excluded),
        "excluded_text": tx["excluded_text"].format(
            count=fmt_int(len(excluded), lang), reasons=reasons
        ),
        "excluded_note": tx["excluded_note"].format(
            shown=len(shown), count=fmt_int(len(excluded), lang)
        )
        if len(excluded) > len(shown)
        else "",
        "excluded": shown.to_dict(orient="records"),
    }
    return _environment().get_template("report.html.j2").render(**context)


_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S | re.I)
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"', re.I)


_NONE = "'none'"


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def content_security_policy(page: str) -> str:
    """The Content-Security-Policy under which a report ``page`` looks exactly as its file.

    Why: a web server's usual policy (styles from its own files only) blocks the report's
    inline ``<style>`` and the figures' ``style`` attributes, and the served report loses
    its layout and its plots. This policy allows exactly those styles, by their SHA-256
    hashes (``'unsafe-hashes'`` for the attributes), and nothing else: no script, no
    request, no frame, no form. Any style injected into the page would not match a hash.
    """
    elements = sorted({_sha256(body) for body in _STYLE_ELEMENT.findall(page)})
    attributes = sorted({_sha256(html.unescape(v)) for v in _STYLE_ATTRIBUTE.findall(page)})
    by_hash = ["'unsafe-hashes'", *attributes] if attributes else []
    return "; ".join(
        [
            "default-src 'none'",
            "img-src data:",
            "script-src 'none'",
            f"style-src {' '.join([*elements, *by_hash]) or _NONE}",  # browsers without -elem
            f"style-src-elem {' '.join(elements) or _NONE}",
            f"style-src-attr {' '.join(by_hash) or _NONE}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def write_html(report: ForensicsReport, path: str | Path, lang: str = "en") -> Path:
    """Render the report and write it to ``path`` (UTF-8); return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(report, lang), encoding="utf-8")
    return p
