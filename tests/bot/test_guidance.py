"""Voter guidance in Telegram: the guide's date-aware cards and its guidance page, as
Telegram HTML within 4,096 characters, in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from tests.asyncrun import run_async
from tests.bot.harness import ELECTION, callback_update, running_bot

from pollwatch.bot.guidance import (
    card_lines,
    sections,
    telegram_html,
    telegram_messages,
)
from pollwatch.bot.i18n import translator
from pollwatch.guide.markdown import render_markdown
from pollwatch.store.elections import set_registration_deadline
from pollwatch.store.guidance import set_guidance

TELEGRAM_TAGS = {"b", "i", "code", "pre", "a", "blockquote"}


class _Tags(HTMLParser):
    """Every tag used, and whether each closes in order."""

    def __init__(self) -> None:
        super().__init__()
        self.used: set[str] = set()
        self.stack: list[str] = []
        self.balanced = True

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.used.add(tag)
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.balanced = False


def _check(text: str) -> None:
    tags = _Tags()
    tags.feed(text)
    tags.close()
    assert tags.used <= TELEGRAM_TAGS, tags.used
    assert tags.balanced and not tags.stack, text[:200]
    assert len(text) <= 4096


HOSTILE = """# Before you vote

Bring **your passport** and the *invitation*; see [the consulate](https://example.org/?a=1&b=2).

<script>alert(1)</script> <b onclick="x()">raw</b> & < > "quotes"

[bad](javascript:alert(1))

## Where

1. Find the station
2. Check the queue

- a `code <i>` span
- **bold _nested_**

| day | hours |
|-----|-------|
| Sun | 8-20 |

```
pre <b>formatted</b>
```
"""


def test_the_page_becomes_telegram_html_with_only_its_tags() -> None:
    blocks = telegram_html(render_markdown(HOSTILE))
    for _kind, block in blocks:
        _check(block)
    text = "\n".join(b for _, b in blocks)
    assert "<b>your passport</b>" in text and "<i>invitation</i>" in text
    assert '<a href="https://example.org/?a=1&amp;b=2">the consulate</a>' in text
    assert "&lt;script&gt;" in text and "javascript" not in text.replace("[bad](javascript", "")
    assert "1. Find the station" in text and "2. Check the queue" in text
    assert "Sun | 8-20" in text and "<pre>pre &lt;b&gt;formatted&lt;/b&gt;" in text
    parts = sections(blocks)
    assert [s.title for s in parts] == ["Before you vote", "Where"]


def test_a_long_page_is_cut_into_balanced_messages() -> None:
    paragraph = "**Bold** text with a [link](https://example.org) & more words. " * 20
    page = "\n\n".join(f"## Part {i}\n\n{paragraph}" for i in range(9))
    huge = "x&" * 3000  # one block longer than a message: sent in plain pieces
    blocks = [b for _, b in telegram_html(render_markdown(page + "\n\n" + huge))]
    messages = telegram_messages(blocks)
    assert len(messages) > 3
    for message in messages:
        _check(message)
    assert sum(m.count("x&amp;") for m in messages) == 3000  # nothing lost


def test_the_cards_in_the_readers_language() -> None:
    cards = {
        "cards": [
            {"kind": "register-by", "at": "2026-03-01 23:59", "zone": "Europe/Moscow",
             "days_left": 3, "urgent": True},
            {"kind": "voting-days", "zone": "Europe/Belgrade", "days": ["2026-03-15 07:00-20:00"]},
            {"kind": "something-new"},
        ]
    }  # fmt: skip
    english = card_lines(cards, translator("en", "guidance"))
    assert english[0] == "‼️ <b>Register by 2026-03-01 23:59 (Europe/Moscow).</b> Days left: 3."
    russian = card_lines(cards, translator("ru", "guidance"))
    assert "Зарегистрируйтесь до 2026-03-01 23:59" in russian[0]
    assert "2026-03-15 07:00-20:00" in russian[1] and russian[2] == "<b>something-new</b>"


def test_guide_in_telegram_cards_sections_and_the_page(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path, public_url="https://observe.example.org") as h:
            soon = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d 23:59")
            set_registration_deadline(h.engine, ELECTION, soon, "Europe/Belgrade", actor="c")
            set_guidance(h.engine, ELECTION, "ru", HOSTILE.replace("Where", "Где"), actor="c")
            long_en = "## Documents\n\n" + ("Bring your passport. " * 400) + "\n\n## Queue\n\nq"
            set_guidance(h.engine, ELECTION, "en", long_en, actor="c")
            # Russian: the Russian page, the card in Russian, the sections as buttons
            ru = await h.say(801, "/guide", lang="ru")
            assert ru.params.get("parse_mode") == "HTML"
            assert "Зарегистрируйтесь до " + soon in ru.text
            assert "https://observe.example.org/guide/e-2026/info" in ru.text
            labels = [label for label, _ in ru.buttons()]
            assert labels == ["Before you vote", "Где", "Вся справка"]
            _check(ru.text)
            section = await h.tap(801, ru.buttons()[1][1], lang="ru")
            assert "Find the station" in section.text and "Where" not in section.text
            _check(section.text)
            # Serbian: no Serbian page, the English one, said so; the whole page split
            sr = await h.say(802, "/guide", lang="sr")
            assert "Registrujte se do " + soon in sr.text
            assert "nije napisano na vašem jeziku" in sr.text
            before = await h.send(callback_update(802, "g:all", "sr"))
            parts = await h.replies(802, before, 3)
            for part in parts:
                _check(part.text)
            assert parts[0].text.startswith("<b>Documents</b>")
            assert "observe.example.org" in parts[-1].text
            # a button from an older page, or forged
            stale = await h.tap(803, "g:99", lang="en")
            assert "send /guide again" in stale.text
            forged = await h.tap(803, "g:" + "9" * 50, lang="en")
            assert "send /guide again" in forged.text

    run_async(scenario())


def test_guide_without_an_election_or_a_page(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            empty = await h.say(804, "/guide")
            assert "No voter guidance has been written" in empty.text and not empty.buttons()
        async with running_bot(db_url, tmp_path, election=None, prepare=False) as h:
            off = await h.say(805, "/guide")
            assert "not set up" in off.text

    run_async(scenario())


def test_the_welcome_names_guide_in_every_language(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            for chat, lang, words in (
                (811, "en", "how to register"),
                (812, "ru", "как зарегистрироваться"),
                (813, "sr", "kako da se registrujete"),
            ):
                welcome = await h.say(chat, "/start", lang=lang)
                assert "/guide" in welcome.text and words in welcome.text

    run_async(scenario())
