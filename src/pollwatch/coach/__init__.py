"""The dialogue coach: what to say to a loved one who repeats propaganda, and practice.

The core is independent of any interface (CLI, web page, Telegram bot)::

    from pollwatch.coach import Coach, PracticeSession, score_reply

    coach = Coach()                       # the shipped knowledge base
    result = coach.ask("esli ne putin to kto")
    result.status                         # "confident" | "choose" | "none"
    result.answer.bridge, result.answer.question

Content is data: ``coach/kb/arguments/<id>.yaml`` and ``coach/kb/sources.yaml`` (see
``docs/coach.md``). The starter content is a sample for organisations to review and extend.
"""

from __future__ import annotations

from pollwatch.coach.answer import TELEGRAM_LIMIT, Answer, SourceView, TopicGroup, render_answer
from pollwatch.coach.feedback import DimensionScore, Feedback, find_toxic, score_reply
from pollwatch.coach.loader import (
    KBProblem,
    KnowledgeBase,
    check_knowledge_base,
    load_knowledge_base,
)
from pollwatch.coach.matching import AskResult, Coach, Match, Thresholds, default_coach
from pollwatch.coach.practice import PracticeSession, PracticeState, PracticeTurn
from pollwatch.coach.schema import Argument, Source

__all__ = [
    "TELEGRAM_LIMIT",
    "Answer",
    "Argument",
    "AskResult",
    "Coach",
    "DimensionScore",
    "Feedback",
    "KBProblem",
    "KnowledgeBase",
    "Match",
    "PracticeSession",
    "PracticeState",
    "PracticeTurn",
    "Source",
    "SourceView",
    "Thresholds",
    "TopicGroup",
    "check_knowledge_base",
    "default_coach",
    "find_toxic",
    "load_knowledge_base",
    "render_answer",
    "score_reply",
]
