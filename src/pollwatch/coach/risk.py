"""Legal risk by statement: which responses dispute the official account of the war.

In Russia what has been prosecuted since March 2022 is the *statement*, not the outlet it
came from: "discrediting" the army (Code of Administrative Offences Art. 20.3.3, then
Criminal Code Art. 280.3 within a year) and "knowingly false information" about it
(Criminal Code Art. 207.3) have been applied to placards, posts, school drawings and private
remarks reported by acquaintances. So every response variant that disputes the official
account of the war must carry a risk note naming such a statute (``legal_risks`` in the
argument file), whatever its sources say about themselves.

The check is deliberately broad and lexical: a variant "disputes the account" when its
lemmas contain a phrase of the lexicon's ``war_statements`` list (war, army, invasion,
mobilisation, Bucha, NATO, denazification, annexation ...). A false alarm costs a curator one
risk note; a miss could cost a reader a fine or a prison term.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pollwatch.coach.lexicon import find_phrases, load_lexicon
from pollwatch.coach.schema import Argument, Law
from pollwatch.coach.text import Lang, lemmas

__all__ = ["STEPS", "unflagged_war_statements", "war_words"]

STEPS = ("bridge", "counterargument", "question")


def war_words(text: str, lang: Lang) -> tuple[str, ...]:
    """The ``war_statements`` phrases found in ``text`` (empty: not about the war)."""
    return find_phrases(lemmas(text, translit=lang == "ru"), load_lexicon(lang).war_statements)


def unflagged_war_statements(
    argument: Argument, laws: Mapping[str, Law]
) -> Iterator[tuple[str, int, Lang, str]]:
    """``(step, variant, lang, words)`` for each variant about the war that no risk note
    about the army statutes covers. With no laws loaded, any risk note counts."""
    army = [
        r
        for r in argument.legal_risks
        if not laws or (r.law in laws and laws[r.law].concerns == "army")
    ]
    for step in STEPS:
        for lang in ("ru", "en"):
            for i, text in enumerate(getattr(getattr(argument.responses, step), lang)):
                found = war_words(text, lang)
                if found and not any(r.covers(step, i) for r in army):
                    yield step, i, lang, ", ".join(found)
