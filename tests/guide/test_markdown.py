"""Guidance pages: coordinators' Markdown rendered with no way to run a script or call out."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollwatch.errors import InputError
from pollwatch.guide.markdown import MAX_MARKDOWN, render_markdown

MARKUP = "<>[]()!*#`'\"=:/ ajvscrptonlemgf\x00&;"

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD4=)",
    "[click](vbscript:msgbox(1))",
    '<a href="https://x.example" onclick="steal()">x</a>',
    "![tracker](https://tracker.example/pixel.gif)",
    "<iframe src=https://evil.example></iframe>",
    "<style>body{display:none}</style>",
    '<svg onload="alert(1)">',
    "<!-- comment --><b>bold</b>",
    '[x](https://ok.example "title" onmouseover=alert(1))',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_active_survives(text: str) -> None:
    html = render_markdown(text)
    assert not re.search(r"<(script|img|iframe|style|svg|object|embed|form)\b", html, re.I)
    for tag in re.findall(r"<[a-zA-Z][^>]*>", html):  # real tags; escaped text is harmless
        assert not re.search(r"\son\w+\s*=", tag, re.I), f"event handler in {tag}"
        assert not re.search(r"href=\"(?!https?://|mailto:)", tag), f"bad link in {tag}"


def test_what_coordinators_write_is_kept() -> None:
    html = render_markdown(
        "# Registration\n\n**Bring** your passport.\n\n1. Apply by *10 March*\n2. Go\n\n"
        "[Consulate](https://rs.mid.ru/) · <mailto:help@example.org>\n\n"
        "| day | hours |\n|---|---|\n| 15 March | 08-20 |"
    )
    assert "<h2>Registration</h2>" in html, "the page's own h1 stays the only one"
    assert "<strong>Bring</strong>" in html and "<ol>" in html and "<table>" in html
    assert '<a href="https://rs.mid.ru/" rel="noopener noreferrer nofollow">Consulate</a>' in html
    assert "mailto:help@example.org" in html


def test_text_in_any_script_is_kept_as_text() -> None:
    html = render_markdown("Паспорт **обязателен** — pasoš je obavezan <b>")
    assert "<strong>обязателен</strong>" in html and "&lt;b&gt;" in html


def test_oversized_page_is_refused_naming_the_field() -> None:
    render_markdown("x" * MAX_MARKDOWN)
    with pytest.raises(InputError) as caught:
        render_markdown("x" * (MAX_MARKDOWN + 1))
    assert caught.value.column == "markdown"


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("<>[]()!*#`'\"=:/ ajvscrptonlemgf\x00&;")), max_size=80)
)
def test_random_markup_never_yields_a_tag_outside_the_allow_list(text: str) -> None:
    html = render_markdown(text)
    tags = {t.lower() for t in re.findall(r"</?([a-zA-Z0-9]+)", html)}
    assert tags <= {
        "p",
        "strong",
        "em",
        "code",
        "pre",
        "a",
        "br",
        "h2",
        "h3",
        "h4",
        "ul",
        "ol",
        "li",
        "blockquote",
        "hr",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
