"""Plain-language findings for the report's first screen, and flat tables of results.

The findings read the documented JSON keys of each method's result (see
``docs/forensics.md``); a method that did not run, or that does not apply, gives its note
instead of a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pollwatch.forensics.registry import get_method
from pollwatch.forensics.report.text import fmt_int, fmt_num, fmt_pct, text

if TYPE_CHECKING:
    from pollwatch.forensics.battery import ForensicsReport

__all__ = [
    "HONEST_FLAGS",
    "HONEST_RUNS",
    "Finding",
    "findings",
    "how_sure",
    "key_figures",
    "overview",
    "result_rows",
    "summary_findings",
    "summary_p",
]

_SKIP = {"method", "reference"}


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


def summary_p(x: Any, lang: str) -> str:
    """A p- or q-value as the report prints it after "p": ``= 0.0123`` or ``< 0.0001``."""
    return _p(x, lang)


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


def _flat(prefix: str, value: Any, rows: list[tuple[str, str, bool]], lang: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, rows, lang)
    elif isinstance(value, list):
        if len(value) <= 4 and all(_num(v) is not None or v is None for v in value):
            shown = "[" + ", ".join(_fmt_value(v, lang) for v in value) + "]"
            rows.append((prefix, shown, False))
        else:
            rows.append((prefix, f"[{len(value)}]", False))
    else:
        rows.append((prefix, _fmt_value(value, lang), isinstance(value, (str, bool))))


def _fmt_value(v: Any, lang: str) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return fmt_int(v, lang)
    if isinstance(v, float):
        return fmt_num(v, lang, 4) if abs(v) < 1000 else fmt_int(v, lang)
    return str(v)


def result_rows(result: dict[str, Any], lang: str) -> list[tuple[str, str, bool]]:
    """A method's JSON result flattened to ``(key, formatted value, is_text)`` rows.

    The report shows them in its collapsed "all figures" block: keys are the JSON's,
    text values (notes, names) are the library's own words and are shown as code, lists
    longer than four are given by their length only (the JSON has them).
    """
    rows: list[tuple[str, str, bool]] = []
    for key, value in result.items():
        if key in _SKIP:
            continue
        _flat(key, value, rows, lang)
    return rows


HONEST_RUNS = 120
"""Honest (fraud-free) synthetic elections of 20,000 stations behind :data:`HONEST_FLAGS`:
40 clean, 40 with honest heterogeneity that fools a national reference, 40 with a 0.7 %
candidate (docs/validation.md, "Honest elections")."""

HONEST_FLAGS: dict[str, int] = {
    "integer_percentages.p_value": 5,
    "shpilkin.interval": 2,
    "klimek.f_i_interval": 0,
    "klimek.f_e_interval": 0,
    "digits.second_digit_mean_p_value": 8,
    "digits.last_digit_p_value": 6,
    "spikes.p_value": 4,
    "identical_protocols.p_identical": 1,
}
"""How many of :data:`HONEST_RUNS` honest simulated elections raised each flag the report
shows (p < 0.05, or an interval that leaves out zero): the "total" column of the table
"Honest elections: how often each flag the report shows fired" in docs/validation.md,
printed by ``bench/validation.py``; ``tests/forensics/test_report.py`` holds the two equal.
The report prints these beside each finding so that a reader sees how often honesty alone
raises it."""


UNSTABLE_F_I = 0.05
UNSTABLE_F_E = 0.005
"""Klimek's fit is shown as unstable (a description, not a sign) when its independent fits
(``klimek.seed_spread``) disagree by more than this on f_i or f_e: the fingerprint then
fits mild stuffing of many stations and heavy stuffing of a few about equally well. This
can only take a flag away, never raise one."""


@dataclass(frozen=True)
class Finding:
    """One line of the report's first screen: what a method found and how sure it is."""

    method: str
    level: str
    """``strong``, ``some`` (weak), ``none`` or ``info`` (a description, not a test)."""
    text: str
    sure: str


def _level_p(p: float | None) -> str:
    if p is None:
        return "info"
    return "strong" if p < 1e-3 else "some" if p < 0.05 else "none"


def how_sure(name: str, r: dict[str, Any], lang: str) -> tuple[str, str]:
    """``(level, how-sure sentence)`` of one applicable method's JSON result.

    ``level`` is ``strong``, ``some``, ``none`` or ``info`` (a description, not a test).
    """
    tx = text(lang)
    runs = HONEST_RUNS
    if name == "integer_percentages":
        p = _num(r.get("p_value"))
        k = HONEST_FLAGS["integer_percentages.p_value"]
        return _level_p(p), tx["sure_p"].format(p=_p(p, lang), runs=runs, k=k)
    if name == "identical_protocols":
        p = _num(r.get("p_identical"))
        k = HONEST_FLAGS["identical_protocols.p_identical"]
        return _level_p(p), tx["sure_p"].format(p=_p(p, lang), runs=runs, k=k)
    if name == "shpilkin":
        lo, hi = _interval(r.get("interval"))
        level = "none" if lo is None or lo <= 0 else "strong"
        return level, tx["sure_shpilkin"].format(
            lo=fmt_int(lo, lang),
            hi=fmt_int(hi, lang),
            runs=runs,
            k=HONEST_FLAGS["shpilkin.interval"],
        )
    if name == "klimek":
        fi_lo, fi_hi = _interval(r.get("f_i_interval"))
        fe_lo, fe_hi = _interval(r.get("f_e_interval"))
        above = [x is not None and x > 0 for x in (fi_lo, fe_lo)]
        spread = r.get("seed_spread") or {}
        si_lo, si_hi = _interval(spread.get("f_i"))
        se_lo, se_hi = _interval(spread.get("f_e"))
        if None not in (si_lo, si_hi, se_lo, se_hi) and (
            si_hi - si_lo > UNSTABLE_F_I or se_hi - se_lo > UNSTABLE_F_E  # type: ignore[operator]
        ):
            return "info", tx["sure_klimek_unstable"].format(
                si_lo=fmt_pct(si_lo, lang),
                si_hi=fmt_pct(si_hi, lang),
                se_lo=fmt_pct(se_lo, lang, 2),
                se_hi=fmt_pct(se_hi, lang, 2),
            )
        return "some" if any(above) else "none", tx["sure_klimek"].format(
            fi_lo=fmt_pct(fi_lo, lang),
            fi_hi=fmt_pct(fi_hi, lang),
            fe_lo=fmt_pct(fe_lo, lang),
            fe_hi=fmt_pct(fe_hi, lang),
            runs=runs,
            k_i=HONEST_FLAGS["klimek.f_i_interval"],
            k_e=HONEST_FLAGS["klimek.f_e_interval"],
        )
    if name == "digits":
        p_mean = _num(r.get("second_digit_mean_p_value"))
        p_last = _num(r.get("last_digit_p_value"))
        ps = [p for p in (p_mean, p_last) if p is not None]
        return _level_p(min(ps) if ps else None), tx["sure_digits"].format(
            p_mean=_p(p_mean, lang),
            p=_p(p_last, lang),
            runs=runs,
            k_mean=HONEST_FLAGS["digits.second_digit_mean_p_value"],
            k_last=HONEST_FLAGS["digits.last_digit_p_value"],
        )
    if name == "spikes":
        p = _num(r.get("p_value"))
        lo = _num(r.get("excess_low"))
        level = _level_p(p) if lo is not None and lo > 0 else "none"
        return level, tx["sure_spikes"].format(
            lo=fmt_pct(lo, lang, 2),
            hi=fmt_pct(r.get("excess_high"), lang, 2),
            p=_p(p, lang),
            runs=runs,
            k=HONEST_FLAGS["spikes.p_value"],
        )
    return "info", tx["sure_relations"] if name == "relations" else ""


def summary_findings(report: ForensicsReport, lang: str) -> list[Finding]:
    """The first screen: one :class:`Finding` per method with a headline number."""
    tx = text(lang)
    out = []
    for name, result in report.results.items():
        if not result.applicable:
            title, _ = get_method(name).text(lang)
            note = tx["not_applicable"].format(title=title, note=result.note)
            out.append(Finding(name, "info", note, ""))
            continue
        r = result.to_dict()
        line = _finding(name, r, lang)
        if line is not None:
            level, sure = how_sure(name, r, lang)
            out.append(Finding(name, level, line, sure))
    return out


def _obs_exp(count: Any, lang: str) -> str:
    if not isinstance(count, dict):
        return "—"
    return f"{fmt_int(count.get('observed'), lang)} / {fmt_num(count.get('expected'), lang, 1)}"


def _range(lo: Any, hi: Any, fmt: Any) -> str:
    return f"{fmt(lo)} – {fmt(hi)}"


def key_figures(name: str, r: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """The few figures of one method that matter, with human labels, for its section."""
    tx = text(lang)

    def i(x: Any) -> str:
        return fmt_int(x, lang)

    def pct(x: Any, digits: int = 1) -> str:
        return fmt_pct(x, lang, digits)

    rows: list[tuple[str, str]] = []
    if name == "fingerprint":
        rows = [
            ("kf_stations_used", i(r.get("n_used"))),
            ("kf_registered", i(r.get("registered_voters"))),
            ("kf_turnout", pct(r.get("turnout"))),
            ("kf_share", pct(r.get("share"))),
        ]
    elif name == "integer_percentages":
        counts = r.get("counts") or {}
        excess = r.get("excess") or {}
        at_100 = r.get("at_100") or {}
        left_out = ("n_small", "n_empty", "n_inconsistent", "n_above_99")
        left = sum(int(r.get(k) or 0) for k in left_out)
        rows = [
            ("kf_tested", i(r.get("n_used"))),
            ("kf_round_turnout", _obs_exp(counts.get("turnout"), lang)),
            ("kf_round_share", _obs_exp(counts.get("leader"), lang)),
            ("kf_round_either", _obs_exp(counts.get("either"), lang)),
            ("kf_excess", i(excess.get("either") if isinstance(excess, dict) else None)),
            ("kf_z", fmt_num(r.get("z"), lang, 1)),
            ("kf_p", _p(r.get("p_value"), lang).lstrip("= ")),
            ("kf_at_100", i(at_100.get("either") if isinstance(at_100, dict) else None)),
            ("kf_left_out", i(left)),
        ]
    elif name == "shpilkin":
        lo, hi = _interval(r.get("interval"))
        rows = [
            ("kf_anomalous", i(r.get("anomalous_votes"))),
            ("kf_interval", _range(lo, hi, i)),
            ("kf_anomalous_share", pct(r.get("anomalous_fraction"))),
            ("kf_reference_turnout", pct(r.get("reference_turnout"))),
            ("kf_reference_share", pct(r.get("reference_share"))),
            ("kf_corrected", f"{pct(r.get('corrected_turnout'))}, {pct(r.get('corrected_share'))}"),
        ]
    elif name == "klimek":
        fi_lo, fi_hi = _interval(r.get("f_i_interval"))
        fe_lo, fe_hi = _interval(r.get("f_e_interval"))
        rows = [
            ("kf_f_i", f"{pct(r.get('f_i'))} ({_range(fi_lo, fi_hi, pct)})"),
            ("kf_f_e", f"{pct(r.get('f_e'), 2)} ({_range(fe_lo, fe_hi, lambda x: pct(x, 2))})"),
            ("kf_clean_cloud", f"{pct(r.get('clean_turnout'))}, {pct(r.get('clean_share'))}"),
            ("kf_model_added", i(r.get("model_added_votes"))),
        ]
    elif name == "digits":
        rows = [
            ("kf_candidate", str(r.get("candidate", "—"))),
            (
                "kf_second_mean",
                f"{fmt_num(r.get('second_digit_mean'), lang, 3)} / "
                f"{fmt_num(r.get('second_digit_expected_mean'), lang, 3)}",
            ),
            ("kf_p", _p(r.get("second_digit_mean_p_value"), lang).lstrip("= ")),
            ("kf_counts_used", i(r.get("second_digit_n"))),
            ("kf_last_p", _p(r.get("last_digit_p_value"), lang).lstrip("= ")),
            (
                "kf_zero_five",
                f"{pct(r.get('zero_five_share'))} "
                f"({_p(r.get('zero_five_p_value'), lang).lstrip('= ')})",
            ),
        ]
    elif name == "relations":
        national = r.get("national") or {}
        rows = [
            ("kf_correlation", fmt_num(r.get("correlation"), lang, 2)),
            (
                "kf_slopes",
                f"{fmt_num(national.get('slope_leader'), lang, 2)}, "
                f"{fmt_num(national.get('slope_others'), lang, 2)}",
            ),
            ("kf_regions_tested", i(r.get("regions_tested"))),
            ("kf_regions_above_share", i(r.get("regions_above_share"))),
        ]
    elif name == "spikes":
        rows = [
            (
                "kf_spike_share",
                f"{pct(r.get('excess_share'), 2)} "
                f"({_range(r.get('excess_low'), r.get('excess_high'), lambda x: pct(x, 2))})",
            ),
            ("kf_p", _p(r.get("p_value"), lang).lstrip("= ")),
            ("kf_spike_points", i(len(r.get("spikes") or ()))),
        ]
    elif name == "identical_protocols":
        rows = [
            ("kf_eligible", i(r.get("n_eligible"))),
            ("kf_identical", f"{i(r.get('identical_groups'))}, {i(r.get('identical_stations'))}"),
            (
                "kf_identical_pairs",
                f"{i(r.get('identical_pairs'))} "
                f"({fmt_num(r.get('expected_identical_pairs'), lang, 1)})",
            ),
            ("kf_p", _p(r.get("p_identical"), lang).lstrip("= ")),
            (
                "kf_near_pairs",
                f"{i(r.get('near_pairs'))} ({fmt_num(r.get('expected_near_pairs'), lang, 1)})",
            ),
        ]
    return [(tx[key], value) for key, value in rows]
