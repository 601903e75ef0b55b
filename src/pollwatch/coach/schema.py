"""The knowledge-base schema: what a curator may write in an argument or sources file.

Pydantic models, strict: unknown keys are rejected (a typo such as ``paraphrase:`` must not
silently drop a field), every text is non-empty, every language is present. The format is
described for curators in ``docs/coach.md``; :mod:`pollwatch.coach.loader` reads the files
and names the file and field of any error.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from pollwatch.coach.questions import closed_question_reason
from pollwatch.coach.text import Lang

__all__ = [
    "ARCHIVE_HOSTS",
    "MIN_PARAPHRASES",
    "ROLES",
    "SLUG_PATTERN",
    "TOPICS",
    "Argument",
    "Examples",
    "LangList",
    "LangText",
    "Law",
    "LawsFile",
    "LegalRisk",
    "Paraphrases",
    "Practice",
    "PracticeLines",
    "Questions",
    "Reactions",
    "Responses",
    "Role",
    "SafetyNote",
    "Source",
    "SourceRef",
    "SourcesFile",
    "Status",
    "Step",
    "Variants",
    "is_home_page",
]

#: Topics an argument may belong to (a fixed list so that interfaces can translate them).
TOPICS: tuple[str, ...] = (
    "elections",
    "leadership",
    "war",
    "nato-west",
    "history",
    "media",
    "economy",
    "emigration",
    "protest",
    "politics",
)
#: Paraphrases required per language (how relatives actually say it).
MIN_PARAPHRASES = 15
#: ASCII slug: lowercase letters and digits, words joined by single hyphens.
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Status = Literal["draft", "reviewed", "retired"]
Topic = Literal[
    "elections",
    "leadership",
    "war",
    "nato-west",
    "history",
    "media",
    "economy",
    "emigration",
    "protest",
    "politics",
]
#: Who writes and reviews content: roles, never names (authors may be at risk).
ROLES: tuple[str, ...] = (
    "economist",
    "editor",
    "fact-checker",
    "historian",
    "international lawyer",
    "journalist",
    "lawyer",
    "political scientist",
    "psychologist",
    "sociologist",
    "statistician",
)
Role = Literal[
    "economist",
    "editor",
    "fact-checker",
    "historian",
    "international lawyer",
    "journalist",
    "lawyer",
    "political scientist",
    "psychologist",
    "sociologist",
    "statistician",
]
Step = Literal["bridge", "counterargument", "question"]
#: Web archives whose copies a source's ``archived_url`` may point to.
ARCHIVE_HOSTS: tuple[str, ...] = ("web.archive.org", "archive.ph", "archive.today", "archive.is")
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# An absolute http(s) URL with a dotted host name, no spaces, no user info, no fragment-only
# link: the format a reviewer without internet access can still check.
_URL_PATTERN = r"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?(/[^\s#]*)?(#\S*)?$"
Url = Annotated[str, StringConstraints(pattern=_URL_PATTERN, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class LangText(_Strict):
    """One text per language."""

    ru: Text
    en: Text


class LangList(_Strict):
    """A non-empty list of texts per language."""

    ru: list[Text] = Field(min_length=1)
    en: list[Text] = Field(min_length=1)


class Paraphrases(_Strict):
    """How relatives say the claim: at least :data:`MIN_PARAPHRASES` per language."""

    ru: list[Text] = Field(min_length=MIN_PARAPHRASES)
    en: list[Text] = Field(min_length=MIN_PARAPHRASES)


class NearMisses(_Strict):
    """Texts on a similar topic that must not match the argument: 3 or more per language."""

    ru: list[Text] = Field(min_length=3)
    en: list[Text] = Field(min_length=3)


class Variants(_Strict):
    """Response variants: 2 or more per language, so that answers can vary."""

    ru: list[Text] = Field(min_length=2)
    en: list[Text] = Field(min_length=2)


class Questions(Variants):
    """Open, searching questions: each ends with "?" and is not a yes/no question."""

    @field_validator("ru", "en")
    @classmethod
    def _open(cls, value: list[str], info: ValidationInfo) -> list[str]:
        lang: Lang = "ru" if info.field_name == "ru" else "en"
        for q in value:
            reason = closed_question_reason(q, lang)
            if reason:
                raise ValueError(f"{q!r}: {reason}")
        return value


class Responses(_Strict):
    """The three steps of an answer."""

    bridge: Variants
    counterargument: Variants
    question: Questions


class PracticeLines(_Strict):
    """What the simulated relative says in one language."""

    opening: Text
    empathic: list[Text] = Field(min_length=2)
    hostile: list[Text] = Field(min_length=2)
    closing: Text


class Practice(_Strict):
    """The simulated relative in both languages."""

    ru: PracticeLines
    en: PracticeLines


class Examples(_Strict):
    """Example replies a user might give (for the feedback rubric and suggestions)."""

    good: LangList
    bad: LangList


class LegalRisk(_Strict):
    """The legal risk, in Russia, of saying or sharing some response variants of an argument.

    A risk note follows the *statement*, whatever its sources: disputing the official account
    of the war is what has been prosecuted, not citing a particular outlet. ``variants`` are
    indices into each listed step's variants (both languages); ``None`` means all of them.
    """

    law: Slug
    steps: list[Step] = Field(min_length=1)
    variants: list[Annotated[int, Field(ge=0)]] | None = None
    note: LangText
    source: Slug

    def covers(self, step: str, variant: int) -> bool:
        """True when this note applies to ``variant`` of ``step``."""
        return step in self.steps and (self.variants is None or variant in self.variants)


class Law(_Strict):
    """A statute that has been used against what people say (``kb/laws.yaml``)."""

    id: Slug
    concerns: Literal["army", "authorities", "elections", "protest", "organisations", "territory"]
    title: LangText
    penalty: LangText
    source: Slug


class LawsFile(_Strict):
    """The shared ``laws.yaml``."""

    laws: list[Law] = Field(min_length=1)


class SafetyNote(_Strict):
    """The general safety note (``kb/safety.yaml``), one tap away from every answer."""

    title: LangText
    points: list[LangText] = Field(min_length=3)
    sources: list[Slug] = Field(default_factory=list)
    reviewed_by: list[Role] = Field(min_length=1)
    review_date: dt.date


class Reactions(_Strict):
    """How the simulated relative reacts to a kind of reply, whatever the argument
    (``kb/reactions.yaml``); ``other_argument`` may name the other claim as ``{claim}``."""

    agreeing: LangText
    sarcastic: LangText
    facts: LangText
    other_argument: LangText


class SourceRef(_Strict):
    """A reference to ``sources.yaml`` and the step it supports."""

    id: Slug
    supports: Literal["bridge", "counterargument", "question"]


class Argument(_Strict):
    """One argument a relative may make, with everything the coach needs to answer it."""

    id: Slug
    status: Status
    topics: list[Topic] = Field(min_length=1)
    claim: LangText
    paraphrases: Paraphrases
    keywords: LangList
    near_misses: NearMisses
    responses: Responses
    practice: Practice
    examples: Examples
    sources: list[SourceRef] = Field(default_factory=list)
    legal_risks: list[LegalRisk]
    authors: list[Role] = Field(min_length=1)
    reviewed_by: list[Role] = Field(min_length=1)
    review_date: dt.date
    licence: Text

    @field_validator("topics")
    @classmethod
    def _unique_topics(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("topics are repeated")
        return value


class Source(_Strict):
    """A publication a response relies on."""

    id: Slug
    type: Literal["survey", "academic", "fact-check", "journalism", "official", "reference"]
    title: Text
    publisher: Text
    url: Url
    #: False when only the site or a section is known: a reviewer online should replace it.
    url_is_exact: bool = True
    date: dt.date
    archived_url: Url | None = None
    quote: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    risk: LangText | None = None

    @field_validator("archived_url")
    @classmethod
    def _archive(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).hostname not in ARCHIVE_HOSTS:
            raise ValueError(f"archived copy must be on {', '.join(ARCHIVE_HOSTS)}")
        return value


class SourcesFile(_Strict):
    """The shared ``sources.yaml``."""

    sources: list[Source]

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, value: list[Source]) -> list[Source]:
        seen: set[str] = set()
        for s in value:
            if s.id in seen:
                raise ValueError(f"source id {s.id!r} appears twice")
            seen.add(s.id)
        return value


def is_home_page(url: str) -> bool:
    """True when ``url`` names only a site (no path beyond "/", no query): a reviewer online
    should replace it with the exact page."""
    parts = urlsplit(url)
    segments = [seg for seg in parts.path.split("/") if seg]
    # "/en/" or "/ru" is still the home page, in a language
    return not parts.query and all(len(seg) == 2 and seg.isalpha() for seg in segments)
