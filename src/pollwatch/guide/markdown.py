"""Coordinators' guidance pages: Markdown in, safe HTML out.

Coordinators write what voters need (registration deadlines and steps, documents, what to do
if refused) as Markdown in the coordinator interface; the public sees it rendered. The text
is trusted to be *meant* well, not to be safe: an account can be taken over, and a pasted
snippet can carry a script. So rendering is two steps, each by a maintained library:

1. markdown-it-py in CommonMark mode with raw HTML *off* (``html=False``): tags typed into
   the Markdown come out as text.
2. nh3 (Ammonia) cleans the result against an allow-list of tags and attributes, and only
   ``http``, ``https`` and ``mailto`` links survive (no ``javascript:``, no ``data:``), each
   with ``rel="noopener noreferrer nofollow"``. Images are not allowed: they would load from
   third parties and tell them who reads the page.

Limits: :data:`MAX_MARKDOWN` characters, so that one page cannot be made heavy for a crowd
on phones.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

from pollwatch.errors import InputError

__all__ = ["ALLOWED_TAGS", "MAX_MARKDOWN", "render_markdown"]

MAX_MARKDOWN = 20_000

ALLOWED_TAGS = frozenset(
    {
        "a", "p", "br", "hr", "strong", "em", "code", "pre", "blockquote",
        "ul", "ol", "li", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
"""No ``h1`` (the page has its own), no images, no forms, no scripts, no styles."""

_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> str:
    """Safe HTML for a guidance page written in Markdown; InputError if too long.

    >>> render_markdown("**Bring** your passport <script>x()</script>")
    '<p><strong>Bring</strong> your passport &lt;script&gt;x()&lt;/script&gt;</p>\\n'
    >>> render_markdown("[consulate](javascript:alert(1))")
    '<p>[consulate](javascript:alert(1))</p>\\n'
    """
    if len(text) > MAX_MARKDOWN:
        raise InputError(
            f"a guidance page must be at most {MAX_MARKDOWN:,} characters", column="markdown"
        )
    tokens = _PARSER.parse(text.replace("\x00", ""))
    for token in tokens:  # the page has its h1: a "# Title" becomes a section heading
        if token.type in ("heading_open", "heading_close") and token.tag == "h1":
            token.tag = "h2"
    html = _PARSER.renderer.render(tokens, _PARSER.options, {})
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
