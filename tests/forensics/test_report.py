"""The HTML report: self-contained, both languages, inline SVG, excluded rows, figures."""

from __future__ import annotations

import dataclasses
import re
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from pollwatch.errors import InputError
from pollwatch.forensics.battery import ForensicsReport, run_battery
from pollwatch.forensics.registry import METHODS
from pollwatch.forensics.report import PLOTS, render_html, write_plots
from pollwatch.forensics.report.text import TEXT, fmt_int, fmt_num
from pollwatch.forensics.synthetic import synthetic_election
from pollwatch.results.schema import EXCLUDED_COLUMNS

EXTERNAL = re.compile(r"""(?:src|href|action|poster)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def report() -> ForensicsReport:
    res = synthetic_election(2_000, seed=8, incremental=0.1, rounding=0.05).results
    excluded = pd.DataFrame(
        {
            "file": "x.csv",
            "row": range(2, 252),
            "region": "R",
            "station": [str(i) for i in range(250)],
            "column": "registered",
            "reason": "no registered voters",
        },
        columns=list(EXCLUDED_COLUMNS),
    )
    res = dataclasses.replace(res, excluded=excluded)
    return run_battery(res, resamples=200, seed=0)


@pytest.fixture(scope="module")
def pages(report: ForensicsReport) -> dict[str, str]:
    return {lang: render_html(report, lang) for lang in ("en", "ru")}


def test_languages_have_the_same_keys() -> None:
    assert set(TEXT["en"]) == set(TEXT["ru"])


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_self_contained(pages: dict[str, str], lang: str) -> None:
    html = pages[lang]
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "@import" not in html and "<script" not in html and "<link" not in html
    assert html.count("<svg") >= len(PLOTS)
    assert "<!DOCTYPE svg" not in html and "<?xml" not in html


def test_titles_in_each_language(pages: dict[str, str]) -> None:
    for lang, html in pages.items():
        tx = TEXT[lang]
        assert f'<html lang="{lang}">' in html
        for key in ("title", "found", "what_not_prove", "regions", "stations", "excluded"):
            assert tx[key] in html
        for m in METHODS:
            assert m.title[lang] in html.replace("&#34;", '"').replace("&#39;", "'")
    assert TEXT["ru"]["title"] not in pages["en"]


def test_summary_comes_first(pages: dict[str, str]) -> None:
    html = pages["en"]
    assert html.index("What was found") < html.index('id="recipes"') < html.index('id="methods"')
    assert "polling stations analysed out of 2,250 rows" in html  # 2,000 loaded + 250 excluded


def test_excluded_rows_capped_at_200_with_note(pages: dict[str, str]) -> None:
    section = pages["en"].split('id="excluded"')[1].split("</section>")[0]
    assert section.count("<tr><td>x.csv</td>") == 200
    assert "first 200 of 250" in section


def test_write_plots(report: ForensicsReport, tmp_path: Path) -> None:
    pngs = write_plots(report, tmp_path / "png", "png")
    assert {p.stem for p in pngs} == {p.name for p in PLOTS}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    svgs = write_plots(report, tmp_path / "svg", "svg", lang="ru")
    assert all("<svg" in p.read_text(encoding="utf-8") for p in svgs)
    with pytest.raises(InputError, match="'png' or 'svg'"):
        write_plots(report, tmp_path, "gif")


def test_unknown_language(report: ForensicsReport) -> None:
    with pytest.raises(InputError, match="unknown report language"):
        render_html(report, "fr")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_recipes_side_by_side_with_what_each_assumes(
    report: ForensicsReport, pages: dict[str, str], lang: str
) -> None:
    html = pages[lang]
    tables = re.findall(r'<table class="recipes">(.*?)</table>', html, re.S)
    assert len(tables) == 1  # one table: Shpilkin's and Klimek's recipes beside our headline
    (table,) = tables
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    for name in ("shpilkin", "regional", "hybrid", "pnas"):
        assert any(f"<code>{name}</code>" in row for row in rows), name
    shpilkin_rows = [r for r in rows if "<code>shpilkin</code>" in r]
    assert TEXT[lang]["recipe_shpilkin_shpilkin"] in unescape(shpilkin_rows[0])
    shpilkin_recipe = report.results["shpilkin"].recipes[0]  # type: ignore[attr-defined]
    assert fmt_int(shpilkin_recipe.anomalous_votes, lang) in shpilkin_rows[0]
    # the headline is marked, once for each method
    assert table.count('class="headline"') == 2
    assert TEXT[lang]["headline_mark"] in table


def test_digits_sentence_compares_with_the_model_not_benford(
    report: ForensicsReport, pages: dict[str, str]
) -> None:
    digits = report.results["digits"].to_dict()
    en = unescape(pages["en"])
    assert "Benford expects" not in en and "4.19" not in en.split('id="methods"')[0]
    expected = fmt_num(digits["second_digit_expected_mean"], "en", 3)
    assert f"against {expected} expected by the counts' own binomial model" in en
    # the regressions cannot flag ballots added for the leader: no count of flagged regions
    assert "regions are flagged" not in en and "выделяют" not in pages["ru"]


_ALLOWED_LATIN = {"pollwatch", "JSON", "log", "docs", "validation", "md"}
"""Latin words a Russian reader may see: the program's name, the file format, the symbols
f_i / f_e / z / p / q / r (single letters pass anyway) and the path of the validation page."""


def _interface_text(html: str, report: ForensicsReport) -> str:
    """The words of a page a reader sees as its interface: no styles, no code (JSON keys),
    no reference titles, and no data (names of the election, regions, stations, candidates,
    files and columns, which are the source's own)."""
    html = re.sub(r"<(style|metadata)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<code>.*?</code>", " ", html, flags=re.S)
    html = re.sub(r'<p class="note ref">.*?</p>', " ", html, flags=re.S)
    words = unescape(re.sub(r"<[^>]+>", " ", html))
    data = {
        str(report.election.get("name", "")),
        *map(str, report.arrays.region_names),
        *map(str, report.arrays.candidates),
        *(str(v) for col in ("file", "region", "station", "column") for v in report.excluded[col]),
        *(str(s["station"]) for s in report.stations),
    }
    for value in sorted(data, key=len, reverse=True):
        if value:
            words = words.replace(value, " ")
    return words


def test_no_english_in_the_russian_report(report: ForensicsReport, pages: dict[str, str]) -> None:
    words = set(re.findall(r"[A-Za-z]{2,}", _interface_text(pages["ru"], report)))
    assert words <= _ALLOWED_LATIN, sorted(words - _ALLOWED_LATIN)


def test_no_russian_in_the_english_report(report: ForensicsReport, pages: dict[str, str]) -> None:
    cyrillic = re.findall(r"[\u0400-\u04ff]+", _interface_text(pages["en"], report))
    assert not cyrillic, cyrillic[:20]


def test_the_leak_check_sees_a_leak(report: ForensicsReport, pages: dict[str, str]) -> None:
    """The language checks above can fail: an English note in the Russian page is caught."""
    leaked = pages["ru"].replace("</body>", "<p>stations left out</p></body>")
    assert {"stations", "left", "out"} <= set(
        re.findall(r"[A-Za-z]{2,}", _interface_text(leaked, report))
    )


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_each_method_reads_plain_first_with_raw_keys_collapsed(
    pages: dict[str, str], lang: str
) -> None:
    html = pages[lang]
    tx = TEXT[lang]
    section = html.split('id="methods"')[1].split("</section>")[0]
    articles = re.findall(r'<article id="method-(\w+)">(.*?)</article>', section, re.S)
    assert {name for name, _ in articles} == {m.name for m in METHODS}
    for name, body in articles:
        # raw JSON keys only inside the collapsed block
        outside = re.sub(r"<details.*?</details>", "", body, flags=re.S)
        assert "<code>" not in outside, name
        assert "counts.turnout_5" not in outside and "mc_p_value" not in outside
        assert '<details class="all-figures">' in body
        assert unescape(tx[f"limits_{name}"]) in unescape(body), name
        if name != "fingerprint":
            assert "level-" in body, name  # how sure, in words
        assert tx["key_figures"] in body
    integer = dict(articles)["integer_percentages"]
    assert "counts.turnout_5.mc_p_value" in integer  # in the collapsed block, as in the JSON


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_findings_say_how_often_honesty_raises_each_flag(pages: dict[str, str], lang: str) -> None:
    summary = unescape(pages[lang].split('id="summary"')[1].split("</section>")[0])
    assert summary.count(TEXT[lang]["how_sure"]) >= 6
    assert unescape(TEXT[lang]["calibration_note"]) in summary


def test_regions_ranked_with_reasons_and_small_multiples(
    report: ForensicsReport, pages: dict[str, str]
) -> None:
    section = pages["en"].split('id="rankings"')[1].split("</section>")[0]
    assert "<svg" in section  # the small multiples
    assert unescape(TEXT["en"]["plot_regions"]) in unescape(section)
    first = report.regions[0]
    rows = re.findall(r'<table class="regions">.*?<tbody>(.*?)</tbody>', section, re.S)
    top = re.findall(r"<tr>(.*?)</tr>", rows[0], re.S)
    assert len(top) == min(15, len(report.regions))
    assert f"<td>{first['region']}</td>" in top[0]
    reasons = re.findall(r'<td class="why">(.*?)</td>', section, re.S)
    assert len(reasons) == len(report.regions) and all(reasons)
    if len(report.regions) > 15:
        assert "<details><summary>The other" in section


def test_an_unstable_klimek_fit_is_a_description_not_a_sign() -> None:
    """Fits that disagree (seed_spread) take Klimek's flag away; they never raise one."""
    from pollwatch.forensics.report.summary import how_sure

    stable = {
        "f_i_interval": [0.1, 0.3],
        "f_e_interval": [0.0, 0.01],
        "seed_spread": {"f_i": [0.19, 0.21], "f_e": [0.0, 0.001]},
    }
    unstable = dict(stable, seed_spread={"f_i": [0.0, 0.32], "f_e": [0.0, 0.02]})
    assert how_sure("klimek", stable, "en")[0] == "some"
    level, sentence = how_sure("klimek", unstable, "ru")
    assert level == "info" and sentence.startswith("Неустойчиво")


def test_honest_flag_counts_are_those_of_docs_validation() -> None:
    """The report's "on N honest simulated elections it fired k times" comes from
    docs/validation.md's honest-elections table (bench/validation.py prints it)."""
    from pollwatch.forensics.report.summary import HONEST_FLAGS, HONEST_RUNS

    doc = (Path(__file__).parents[2] / "docs" / "validation.md").read_text(encoding="utf-8")
    table = doc.split("### Honest elections: how often each flag the report shows fired")[1]
    rows = dict(re.findall(r"^\| `?([\w.]+)`? \|.*\| (\d+) \|$", table.split("\n\n#")[0], re.M))
    assert int(rows.pop("replicates")) == HONEST_RUNS
    assert {k: int(v) for k, v in rows.items()} == HONEST_FLAGS
