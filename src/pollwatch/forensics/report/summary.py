"""Plain-language findings for the report's first screen, and flat tables of results.

The findings read the documented JSON keys of each method's result (see
``docs/forensics.md``); a method that did not run, or that does not apply, gives its note
instead of a number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pollwatch.forensics.registry import get_method
from pollwatch.forensics.report.text import fmt_int, fmt_num, fmt_pct, text

if TYPE_CHECKING:
    from pollwatch.forensics.battery import ForensicsReport

__all__ = ["findings", "overview", "result_rows"]

_SKIP = {"method", "reference", "n_stations", "applicable", "note", "seed"}


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


def _interval(x: Any) -> tuple[float | None, float | None]:
    if isinstance(x, (list, tuple)) and len(x) == 2:
        return _num(x[0]), _num(x[1])
    if isinstance(x, dict):
        return _num(x.get("low", x.get("lo"))), _num(x.get("high", x.get("hi")))
    return None, None


def overview(report: ForensicsReport, lang: str) -> str:
    """One sentence: what was analysed, the leader's share and turnout."""
    tx = text(lang)
    d = report.arrays
    cast = int(d.cast.sum())
    reg = int(d.registered.sum())
    return tx["overview"].format(
        stations_used=fmt_int(report.stations_used, lang),
        stations_total=fmt_int(report.stations_total, lang),
        excluded=fmt_int(len(report.excluded), lang),
        abroad=fmt_int(report.election.get("stations_abroad", 0), lang),
        leader=report.leader,
        share=fmt_pct(int(d.leader.sum()) / cast if cast else float("nan"), lang),
        turnout=fmt_pct(int(d.issued.sum()) / reg if reg else float("nan"), lang),
    )


def _p(x: Any, lang: str) -> str:
    v = _num(x)
    if v is None:
        return "= —"
    if v < 1e-4:
        return "< 0,0001" if lang == "ru" else "< 0.0001"
    return "= " + fmt_num(v, lang, 4)


def _finding(name: str, r: dict[str, Any], lang: str) -> str | None:
    tx = text(lang)
    if name == "integer_percentages":
        excess = r.get("excess")
        either = excess.get("either") if isinstance(excess, dict) else None
        counts = r.get("counts")
        count = counts.get("either") if isinstance(counts, dict) else None
        obs_either = count.get("observed") if isinstance(count, dict) else None
        if _num(either) is not None and _num(obs_either) is not None:
            return tx["find_integer"].format(
                observed=fmt_int(obs_either, lang),
                excess=fmt_int(either, lang),
                z=fmt_num(r.get("z"), lang, 1),
                p=_p(r.get("p_value"), lang),
            )
        return tx["find_integer_plain"].format(
            z=fmt_num(r.get("z"), lang, 1), p=_p(r.get("p_value"), lang)
        )
    if name == "shpilkin":
        lo, hi = _interval(r.get("interval"))
        return tx["find_shpilkin"].format(
            votes=fmt_int(r.get("anomalous_votes"), lang),
            lo=fmt_int(lo, lang),
            hi=fmt_int(hi, lang),
            ref_t=fmt_pct(r.get("reference_turnout"), lang),
            ref_s=fmt_pct(r.get("reference_share"), lang),
        )
    if name == "klimek":
        return tx["find_klimek"].format(
            f_i=fmt_pct(r.get("f_i"), lang), f_e=fmt_pct(r.get("f_e"), lang)
        )
    if name == "digits":
        return tx["find_digits"].format(
            mean=fmt_num(r.get("second_digit_mean"), lang, 3),
            expected=fmt_num(r.get("second_digit_expected_mean"), lang, 3),
            p_mean=_p(r.get("second_digit_mean_p_value"), lang),
            p=_p(r.get("last_digit_p_value"), lang),
        )
    if name == "identical_protocols" and _num(r.get("identical_pairs")) is not None:
        return tx["find_identical"].format(
            stations=fmt_int(r.get("identical_stations"), lang),
            groups=fmt_int(r.get("identical_groups"), lang),
            pairs=fmt_int(r.get("identical_pairs"), lang),
            expected=fmt_num(r.get("expected_identical_pairs"), lang, 1),
            p=_p(r.get("p_identical"), lang),
        )
    if name == "relations" and _num(r.get("correlation")) is not None:
        return tx["find_relations"].format(r=fmt_num(r.get("correlation"), lang, 2))
    if name == "spikes":
        return tx["find_spikes"].format(share=fmt_pct(r.get("excess_share"), lang, 2))
    return None


def findings(report: ForensicsReport, lang: str) -> list[str]:
    """One plain sentence per method that has a headline number (or its note)."""
    tx = text(lang)
    out = []
    for name, result in report.results.items():
        r = result.to_dict()
        if not result.applicable:
            title, _ = get_method(name).text(lang)
            out.append(tx["not_applicable"].format(title=title, note=result.note))
            continue
        line = _finding(name, r, lang)
        if line is not None:
            out.append(line)
    return out


def _flat(prefix: str, value: Any, rows: list[tuple[str, str]], lang: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, rows, lang)
    elif isinstance(value, list):
        if len(value) <= 4 and all(_num(v) is not None or v is None for v in value):
            rows.append((prefix, "[" + ", ".join(_fmt_value(v, lang) for v in value) + "]"))
        else:
            rows.append((prefix, f"[{len(value)} values]"))
    else:
        rows.append((prefix, _fmt_value(value, lang)))


def _fmt_value(v: Any, lang: str) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return text(lang)["yes"] if v else text(lang)["no"]
    if isinstance(v, int):
        return fmt_int(v, lang)
    if isinstance(v, float):
        return fmt_num(v, lang, 4) if abs(v) < 1000 else fmt_int(v, lang)
    return str(v)


def result_rows(result: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """A method's JSON result flattened to ``(key, formatted value)`` rows for a table."""
    rows: list[tuple[str, str]] = []
    for key, value in result.items():
        if key in _SKIP:
            continue
        _flat(key, value, rows, lang)
    return rows
