"""The example opening checklist: the coordinators' editor starts from it, the demo stores it.

One text, so that the checklist a coordinator is offered to start from and the demo's
SIMULATED opening checklist (``pollwatch demo-observe``) ask the same first questions in the
same words and cannot drift apart. Both are YAML as the editor shows it
(:func:`pollwatch.observe.checklists.parse_checklist` reads it).
"""

from __future__ import annotations

__all__ = ["EXAMPLE_CHECKLIST", "SEAL_QUESTIONS"]

SEAL_QUESTIONS = """\
  - id: box_sealed
    kind: yes_no
    text:
      en: Was the ballot box sealed before voting began?
      ru: Урна была опечатана до начала голосования?
      sr: Da li je glasačka kutija zapečaćena pre početka glasanja?
    flag: no
  - id: box_why
    kind: text
    text:
      en: If not, what happened?
      ru: Если нет, что произошло?
      sr: Ako nije, šta se desilo?
    when: {question: box_sealed, equals: no}
"""
"""Was the ballot box sealed, and if not what happened: items of a checklist's ``questions``
(YAML, indented for it), ``box_why`` last so that a checklist may add keys to it."""

EXAMPLE_CHECKLIST = f"""\
id: opening
title: {{en: Opening, ru: Открытие, sr: Otvaranje}}
questions:
{SEAL_QUESTIONS}"""
"""Shown in the editor's empty "new checklist" textarea as a starting point."""
