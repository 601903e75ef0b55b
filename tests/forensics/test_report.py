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
        for key in ("title", "what_numbers_say", "what_not_prove", "rankings", "excluded"):
            assert tx[key] in html
        for m in METHODS:
            assert m.title[lang] in html.replace("&#34;", '"').replace("&#39;", "'")
    assert TEXT["ru"]["title"] not in pages["en"]


def test_summary_comes_first(pages: dict[str, str]) -> None:
    html = pages["en"]
    assert html.index("What the numbers say") < html.index('id="methods"')
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
    assert len(tables) == 2  # shpilkin and klimek
    shpilkin_table, klimek_table = tables
    for name in ("shpilkin", "regional"):
        assert f"<code>{name}</code>" in shpilkin_table
        assert TEXT[lang][f"recipe_shpilkin_{name}"] in shpilkin_table.replace("&#39;", "'")
    for name in ("pnas", "regional"):
        assert f"<code>{name}</code>" in klimek_table
    shpilkin_recipe = report.results["shpilkin"].recipes[0]  # type: ignore[attr-defined]
    assert fmt_int(shpilkin_recipe.anomalous_votes, lang) in shpilkin_table


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
