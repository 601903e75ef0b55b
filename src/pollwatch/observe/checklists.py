"""Checklists: an election's observation forms as data, one schema, answers checked against it.

Coordinators write a checklist (opening, voting, closing and count, or their own) as YAML or
JSON; :func:`parse_checklist` is the only door for it, as :func:`~pollwatch.observe.reports.
parse_report` is for reports: it checks every field once and names it in the error
(``questions[3].options: …``), and returns a frozen :class:`Checklist`. The same document,
as the coordinators' page shows it for editing::

    id: opening
    title: {en: Opening, ru: Открытие, sr: Otvaranje}
    questions:
      - id: box_sealed
        kind: yes_no
        text:
          en: Was the ballot box sealed?
          ru: Урна опечатана?
          sr: Da li je kutija zapečaćena?
        flag: no                     # this answer is an irregularity
      - id: box_why
        kind: text
        text: {en: "If not, why?"}
        when: {question: box_sealed, equals: no}
      - id: layout
        kind: choice
        text: {en: "Can voters mark their ballot in secret?"}
        options:
          - {id: secret, text: {en: "Yes, in booths"}}
          - {id: "open", text: {en: "No"}}
        flag: ["open"]
      - id: staff
        kind: number
        text: {en: "Commission members present"}
        min: 0
        max: 50
        flag: {below: 3}
      - id: protocol_photo
        kind: photo
        text: {en: "Photo of the posted protocol"}

Question kinds (:data:`QUESTION_KINDS`) and their answers in a report:

=========  ===========================  ==============================================
kind       answer                       ``flag`` (the answers that are irregularities)
=========  ===========================  ==============================================
yes_no     ``true`` / ``false``         ``yes`` or ``no`` (YAML's booleans)
choice     an option's id               a list of option ids
number     a whole number in min..max   ``{below: n}`` and/or ``{above: n}`` (strict)
text       text, at most 2,000 chars    —
photo      ``true`` (photo attached)    —
=========  ===========================  ==============================================

``when`` makes a question conditional ("if no, why"): it is asked only when an earlier
yes/no, choice or number question was answered with ``equals`` (one value) or one of ``in``
(a list). An answer to a question that was not asked is refused; so is a missing answer to
a required question that was asked. Questions are ``required`` by default except text and
photo. Texts are ``{en, ru, sr}``, English required (the others fall back to it), or one
string for every language.

Versions: the store numbers each changed definition (1, 2, …) and keeps every version; a
report names the checklist and the version it answered, and is checked against that
version (:func:`check_answers`), so a form edited at noon never makes the morning's reports
invalid. :func:`tally_checklist` turns the reports into the results coordinators read: per
question the distribution of answers (each station's newest report), the stations with
flagged answers (any report) and the stations that have not sent the checklist yet.

Why the limits
--------------
* The source is at most :data:`MAX_SOURCE_BYTES` (it travels in a form under the web
  service's 64 KB body cap; 100 questions in three languages take about 30 KB). YAML
  aliases are refused: they are never needed in a form and are how "billion laughs"
  documents blow up.
* At most :data:`MAX_QUESTIONS` questions, :data:`MAX_OPTIONS` options, texts of at most
  :data:`QUESTION_TEXT_LIMIT` characters: a form longer than that is not filled in at a
  polling station. Ids are short lowercase words, so they are safe in URLs, CSS selectors
  and CSV headers.
* Numbers are whole numbers within ±:data:`NUMBER_LIMIT` (people, ballots, minutes).
* At most one photo question: a report carries one photo (``POST /api/v1/reports/{id}/photo``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeAlias

import yaml

from pollwatch.errors import InputError

__all__ = [
    "ANSWER_TEXT_LIMIT",
    "CHECKLIST_ID_PATTERN",
    "LANGUAGES",
    "MAX_OPTIONS",
    "MAX_QUESTIONS",
    "MAX_SOURCE_BYTES",
    "NUMBER_LIMIT",
    "QUESTION_KINDS",
    "QUESTION_TEXT_LIMIT",
    "Answer",
    "Checklist",
    "ChecklistResults",
    "Condition",
    "NumberFlag",
    "Option",
    "Question",
    "QuestionResult",
    "SubmittedChecklist",
    "check_answer_value",
    "check_answers",
    "check_checklist_id",
    "checklist_to_yaml",
    "parse_checklist",
    "tally_checklist",
]

QUESTION_KINDS: tuple[str, ...] = ("yes_no", "choice", "number", "text", "photo")
"""The kinds of question a checklist may ask."""

LANGUAGES: tuple[str, ...] = ("en", "ru", "sr")
"""Languages of question texts; English is required, the others fall back to it."""

MAX_SOURCE_BYTES = 48 * 1024
"""Largest checklist document (YAML or JSON), in UTF-8 bytes."""

MAX_QUESTIONS = 100
"""Most questions in one checklist."""

MAX_OPTIONS = 30
"""Most options of one choice question."""

QUESTION_TEXT_LIMIT = 500
"""Longest title, question or option text, in characters."""

ANSWER_TEXT_LIMIT = 2_000
"""Longest text answer, in characters."""

NUMBER_LIMIT = 1_000_000
"""Largest magnitude of a number answer (no polling station counts more)."""

CHECKLIST_ID_PATTERN = r"[a-z0-9][a-z0-9_-]{0,39}"
"""A checklist, question or option id: a short lowercase word (match it in full)."""

_ID = re.compile(CHECKLIST_ID_PATTERN)

Answer: TypeAlias = bool | int | str
"""One answer: a yes/no, an option id or a text, a number."""

_TOP_FIELDS = ("id", "title", "questions")
_QUESTION_FIELDS = ("id", "kind", "text", "required", "options", "min", "max", "flag", "when")
_KIND_ONLY = {"options": ("choice",), "min": ("number",), "max": ("number",)}


# --- the frozen objects -----------------------------------------------------------------------


def _texts(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Option:
    """One option of a choice question: an id (what the report carries) and its texts."""

    id: str
    text: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": dict(self.text)}


@dataclass(frozen=True)
class NumberFlag:
    """A number answer is flagged below ``below`` or above ``above`` (strictly)."""

    below: int | None = None
    above: int | None = None

    def flags(self, value: int) -> bool:
        return (self.below is not None and value < self.below) or (
            self.above is not None and value > self.above
        )

    def to_dict(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.below is not None:
            out["below"] = self.below
        if self.above is not None:
            out["above"] = self.above
        return out


@dataclass(frozen=True)
class Condition:
    """Ask the question only when ``question`` was answered with one of ``values``."""

    question: str
    values: tuple[Answer, ...]

    def holds(self, answers: Mapping[str, Answer]) -> bool:
        if self.question not in answers:
            return False
        given = answers[self.question]
        # True == 1 in Python: compare types too, so yes/no never matches a number.
        return any(type(given) is type(v) and given == v for v in self.values)

    def to_dict(self) -> dict[str, Any]:
        if len(self.values) == 1:
            return {"question": self.question, "equals": self.values[0]}
        return {"question": self.question, "in": list(self.values)}


@dataclass(frozen=True)
class Question:
    """One question: its id, kind, texts and, by kind, options, bounds, flags, condition."""

    id: str
    kind: str
    text: Mapping[str, str]
    required: bool
    options: tuple[Option, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    flag_values: tuple[Answer, ...] = ()
    flag_range: NumberFlag | None = None
    when: Condition | None = None

    def is_flagged(self, value: Answer) -> bool:
        """Whether this answer is an irregularity."""
        if self.kind == "number":
            return (
                self.flag_range is not None
                and isinstance(value, int)
                and not isinstance(value, bool)
                and self.flag_range.flags(value)
            )
        return any(type(value) is type(v) and value == v for v in self.flag_values)

    def to_dict(self) -> dict[str, Any]:
        """The question as a document entry (what :func:`parse_checklist` reads back)."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "text": dict(self.text)}
        if self.required != _default_required(self.kind):
            out["required"] = self.required
        if self.options:
            out["options"] = [o.to_dict() for o in self.options]
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if self.kind == "yes_no" and self.flag_values:
            out["flag"] = self.flag_values[0]
        elif self.kind == "choice" and self.flag_values:
            out["flag"] = list(self.flag_values)
        elif self.flag_range is not None:
            out["flag"] = self.flag_range.to_dict()
        if self.when is not None:
            out["when"] = self.when.to_dict()
        return out


@dataclass(frozen=True)
class Checklist:
    """A validated checklist: id, titles and questions in order (version kept by the store)."""

    id: str
    title: Mapping[str, str]
    questions: tuple[Question, ...]

    def question(self, question_id: str) -> Question | None:
        """The question with this id, or ``None``."""
        for q in self.questions:
            if q.id == question_id:
                return q
        return None

    def flagged(self, answers: Mapping[str, Answer]) -> tuple[str, ...]:
        """Ids of the questions whose answer is flagged, in question order."""
        return tuple(
            q.id for q in self.questions if q.id in answers and q.is_flagged(answers[q.id])
        )

    def to_dict(self) -> dict[str, Any]:
        """The checklist as a document (JSON-ready); :func:`parse_checklist` reads it back."""
        return {
            "id": self.id,
            "title": dict(self.title),
            "questions": [q.to_dict() for q in self.questions],
        }


def checklist_to_yaml(checklist: Checklist) -> str:
    """The checklist as the YAML document coordinators edit (keys in the schema's order)."""
    return str(
        yaml.safe_dump(
            checklist.to_dict(), allow_unicode=True, sort_keys=False, width=100, indent=2
        )
    )


# --- parsing ----------------------------------------------------------------------------------


class _NoAliases(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (a form never needs them; bombs do)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a checklist", event.start_mark
            )
        return super().compose_node(parent, index)


def _fail(path: str, message: str) -> InputError:
    return InputError(f"{path}: {message}", column=path)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_string(value: Any, path: str, limit: int) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"must be text; got {_describe(value)} instead")
    if "\x00" in value:
        raise _fail(path, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(path, "is not valid Unicode (lone surrogate)") from None
    if len(value) > limit:
        raise _fail(path, f"must be at most {limit} characters; got {len(value)}")
    return value


def check_checklist_id(value: Any, path: str = "id") -> str:
    """A checklist (question, option) id, or :class:`InputError` naming ``path``."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _fail(
            path,
            "must be a short lowercase id (letters a-z, digits, '_' or '-', at most 40, "
            f"starting with a letter or digit); got {_describe(value)} instead",
        )
    return value


def _parse_texts(value: Any, path: str) -> Mapping[str, str]:
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be text or {{en: …, ru: …, sr: …}}; got {_describe(value)}")
    out: dict[str, str] = {}
    for lang, text in value.items():
        if lang not in LANGUAGES:
            raise _fail(path, f"unknown language {_describe(lang)}; use {', '.join(LANGUAGES)}")
        cleaned = _clean_string(text, f"{path}.{lang}", QUESTION_TEXT_LIMIT).strip()
        if cleaned:
            out[lang] = cleaned
    if "en" not in out:
        raise _fail(f"{path}.en", "the English text is required")
    return _texts({lang: out[lang] for lang in LANGUAGES if lang in out})


def _check_keys(value: Mapping[Any, Any], allowed: tuple[str, ...], path: str) -> None:
    for key in value:
        if key not in allowed:
            raise _fail(
                path, f"unknown field {_describe(key)}; allowed fields are {', '.join(allowed)}"
            )


def _whole(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"must be a whole number; got {_describe(value)} instead")
    if abs(value) > NUMBER_LIMIT:
        raise _fail(path, f"must be between {-NUMBER_LIMIT} and {NUMBER_LIMIT}; got {value}")
    return value


def _default_required(kind: str) -> bool:
    return kind not in ("text", "photo")


def _parse_options(value: Any, path: str) -> tuple[Option, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, f"a choice question needs a list of options; got {_describe(value)}")
    if len(value) > MAX_OPTIONS:
        raise _fail(path, f"at most {MAX_OPTIONS} options; got {len(value)}")
    options: list[Option] = []
    for i, raw in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(raw, Mapping):
            raise _fail(where, f"must be {{id: …, text: …}}; got {_describe(raw)}")
        _check_keys(raw, ("id", "text"), where)
        if "id" not in raw:
            raise _fail(f"{where}.id", "is required")
        option_id = check_checklist_id(raw["id"], f"{where}.id")
        if any(o.id == option_id for o in options):
            raise _fail(f"{where}.id", f"the option id {option_id!r} is used twice")
        options.append(Option(option_id, _parse_texts(raw.get("text"), f"{where}.text")))
    return tuple(options)


def _parse_flag(
    raw: Any, kind: str, path: str, options: tuple[Option, ...]
) -> tuple[tuple[Answer, ...], NumberFlag | None]:
    if raw is None:
        return (), None
    if kind == "yes_no":
        if not isinstance(raw, bool):
            raise _fail(path, f"must be yes or no (the flagged answer); got {_describe(raw)}")
        return (raw,), None
    if kind == "choice":
        values = raw if isinstance(raw, list) else [raw]
        ids = {o.id for o in options}
        for i, v in enumerate(values):
            if not isinstance(v, str) or v not in ids:
                raise _fail(
                    f"{path}[{i}]" if isinstance(raw, list) else path,
                    f"must name options of this question ({', '.join(sorted(ids))}); "
                    f"got {_describe(v)}",
                )
        return tuple(dict.fromkeys(values)), None
    if kind == "number":
        if not isinstance(raw, Mapping) or not raw:
            raise _fail(path, f"must be {{below: n}} and/or {{above: n}}; got {_describe(raw)}")
        _check_keys(raw, ("below", "above"), path)
        below = _whole(raw["below"], f"{path}.below") if "below" in raw else None
        above = _whole(raw["above"], f"{path}.above") if "above" in raw else None
        return (), NumberFlag(below, above)
    raise _fail(path, f"a {kind} question cannot flag an answer")


def _condition_value(value: Any, target: Question, path: str) -> Answer:
    if target.kind == "yes_no" and isinstance(value, bool):
        return value
    if target.kind == "choice" and isinstance(value, str):
        if value not in {o.id for o in target.options}:
            raise _fail(path, f"{value!r} is not an option of {target.id!r}")
        return value
    if target.kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return _whole(value, path)
    raise _fail(path, f"{_describe(value)} is not a possible answer to {target.id!r}")


def _parse_when(raw: Any, path: str, earlier: Mapping[str, Question]) -> Condition:
    if not isinstance(raw, Mapping):
        raise _fail(path, f"must be {{question: …, equals: …}}; got {_describe(raw)}")
    _check_keys(raw, ("question", "equals", "in"), path)
    if "question" not in raw:
        raise _fail(f"{path}.question", "is required")
    ref = raw["question"]
    if not isinstance(ref, str) or ref not in earlier:
        raise _fail(
            f"{path}.question",
            f"must name an earlier question; got {_describe(ref)}",
        )
    target = earlier[ref]
    if target.kind not in ("yes_no", "choice", "number"):
        raise _fail(f"{path}.question", f"a condition cannot depend on a {target.kind} question")
    if ("equals" in raw) == ("in" in raw):
        raise _fail(path, "give exactly one of 'equals' (one answer) or 'in' (a list)")
    if "equals" in raw:
        values: tuple[Answer, ...] = (_condition_value(raw["equals"], target, f"{path}.equals"),)
    else:
        listed = raw["in"]
        if not isinstance(listed, list) or not listed:
            raise _fail(f"{path}.in", f"must be a non-empty list; got {_describe(listed)}")
        values = tuple(_condition_value(v, target, f"{path}.in[{i}]") for i, v in enumerate(listed))
    return Condition(ref, values)


def _parse_question(raw: Any, path: str, earlier: Mapping[str, Question]) -> Question:
    if not isinstance(raw, Mapping):
        raise _fail(path, f"must be a question {{id, kind, text, …}}; got {_describe(raw)}")
    _check_keys(raw, _QUESTION_FIELDS, path)
    for name in ("id", "kind", "text"):
        if name not in raw:
            raise _fail(f"{path}.{name}", "is required")
    question_id = check_checklist_id(raw["id"], f"{path}.id")
    if question_id in earlier:
        raise _fail(f"{path}.id", f"the question id {question_id!r} is used twice")
    kind = raw["kind"]
    if kind not in QUESTION_KINDS:
        raise _fail(f"{path}.kind", f"must be one of {', '.join(QUESTION_KINDS)}; got {kind!r}")
    for name, kinds in _KIND_ONLY.items():
        if name in raw and kind not in kinds:
            raise _fail(f"{path}.{name}", f"only a {' or '.join(kinds)} question has {name!r}")
    required = raw.get("required", _default_required(kind))
    if not isinstance(required, bool):
        raise _fail(f"{path}.required", f"must be true or false; got {_describe(required)}")
    options = _parse_options(raw.get("options"), f"{path}.options") if kind == "choice" else ()
    minimum = _whole(raw["min"], f"{path}.min") if raw.get("min") is not None else None
    maximum = _whole(raw["max"], f"{path}.max") if raw.get("max") is not None else None
    if minimum is not None and maximum is not None and minimum > maximum:
        raise _fail(f"{path}.max", f"must not be below min ({minimum}); got {maximum}")
    flag_values, flag_range = _parse_flag(raw.get("flag"), kind, f"{path}.flag", options)
    when = _parse_when(raw["when"], f"{path}.when", earlier) if raw.get("when") else None
    return Question(
        id=question_id,
        kind=kind,
        text=_parse_texts(raw["text"], f"{path}.text"),
        required=required,
        options=options,
        minimum=minimum,
        maximum=maximum,
        flag_values=flag_values,
        flag_range=flag_range,
        when=when,
    )


def _load(source: str | bytes) -> Any:
    raw = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    if len(raw) > MAX_SOURCE_BYTES:
        raise _fail("body", f"a checklist must be at most {MAX_SOURCE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("body", "a checklist must be UTF-8 text") from None
    if "\x00" in text:
        raise _fail("body", "a checklist must not contain NUL characters")
    try:
        return yaml.load(text, Loader=_NoAliases)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        hint = " (put a text that holds ? : # , [ ] { } in quotes)" if mark else ""
        raise _fail("body", f"not valid YAML or JSON{where}: {problem}{hint}"[:300]) from None
    except RecursionError:
        raise _fail("body", "the document is nested too deeply") from None


def parse_checklist(source: str | bytes | Mapping[str, Any]) -> Checklist:
    """Validate a checklist document (YAML or JSON text, or the decoded mapping).

    Returns the frozen :class:`Checklist`. Raises :class:`InputError` for anything else, its
    ``column`` the path of the offending field (``questions[3].options``; ``body`` for a
    document that is not YAML at all) and its message starting with that path. Nothing
    else is raised, whatever the input.

    >>> c = parse_checklist("id: opening\\ntitle: Opening\\nquestions:\\n"
    ...     "  - {id: sealed, kind: yes_no, text: Sealed, flag: no}")
    >>> c.questions[0].is_flagged(False), c.flagged({"sealed": True})
    (True, ())
    >>> parse_checklist("id: x\\ntitle: X\\nquestions: []")
    Traceback (most recent call last):
    ...
    pollwatch.errors.InputError: column 'questions': questions: must be a list of 1 to 100 questions
    """
    document = source if isinstance(source, Mapping) else _load(source)
    if not isinstance(document, Mapping):
        raise _fail(
            "body",
            f"a checklist must be a mapping {{id, title, questions}}; got {_describe(document)}",
        )
    _check_keys(document, _TOP_FIELDS, "body")
    for name in _TOP_FIELDS:
        if name not in document:
            raise _fail(name, "is required")
    checklist_id = check_checklist_id(document["id"], "id")
    title = _parse_texts(document["title"], "title")
    raw_questions = document["questions"]
    if not isinstance(raw_questions, list) or not 1 <= len(raw_questions) <= MAX_QUESTIONS:
        raise _fail("questions", f"must be a list of 1 to {MAX_QUESTIONS} questions")
    earlier: dict[str, Question] = {}
    for i, raw in enumerate(raw_questions):
        question = _parse_question(raw, f"questions[{i}]", earlier)
        if question.kind == "photo" and any(q.kind == "photo" for q in earlier.values()):
            raise _fail(
                f"questions[{i}].kind",
                "a checklist has at most one photo question (a report carries one photo)",
            )
        earlier[question.id] = question
    return Checklist(checklist_id, title, tuple(earlier.values()))


# --- answers ----------------------------------------------------------------------------------


def check_answer_value(value: Any, path: str) -> Answer | None:
    """One answer as a report may carry it, before any checklist is known.

    ``None`` (absent), ``true``/``false``, a whole number within ±:data:`NUMBER_LIMIT` or a
    text of at most :data:`ANSWER_TEXT_LIMIT` characters; :class:`InputError` otherwise.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _whole(value, path)
    if isinstance(value, str):
        return _clean_string(value, path, ANSWER_TEXT_LIMIT)
    raise _fail(path, f"must be yes/no, a whole number or text; got {_describe(value)} instead")


def _check_one(question: Question, value: Answer, path: str) -> Answer:
    kind = question.kind
    if kind in ("yes_no", "photo"):
        if not isinstance(value, bool) or (kind == "photo" and value is not True):
            expected = "true (a photo is attached)" if kind == "photo" else "true or false"
            raise _fail(path, f"must be {expected}; got {_describe(value)} instead")
        return value
    if kind == "choice":
        ids = [o.id for o in question.options]
        if not isinstance(value, str) or value not in ids:
            raise _fail(path, f"must be one of {', '.join(ids)}; got {_describe(value)} instead")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"must be a whole number; got {_describe(value)} instead")
        low = question.minimum if question.minimum is not None else -NUMBER_LIMIT
        high = question.maximum if question.maximum is not None else NUMBER_LIMIT
        if not low <= value <= high:
            raise _fail(path, f"must be between {low} and {high}; got {value}")
        return value
    if not isinstance(value, str):
        raise _fail(path, f"must be text; got {_describe(value)} instead")
    return value


def check_answers(checklist: Checklist, answers: Mapping[str, Answer]) -> dict[str, Answer]:
    """Check a report's answers against the version of the checklist it names.

    Every answer must belong to a question that was asked (its condition holds) and fit its
    kind; every required question that was asked must be answered (an empty text counts as
    unanswered). Returns the answers in question order; :class:`InputError` names the first
    problem as ``answers.<question id>``.
    """
    for key in answers:
        if checklist.question(key) is None:
            raise _fail(f"answers.{key}", f"checklist {checklist.id!r} has no question {key!r}")
    out: dict[str, Answer] = {}
    for q in checklist.questions:
        path = f"answers.{q.id}"
        asked = q.when is None or q.when.holds(out)
        value = answers.get(q.id)
        if isinstance(value, str) and q.kind == "text" and not value.strip():
            value = None
        if value is None:
            if asked and q.required:
                raise _fail(path, "is required")
            continue
        if not asked:
            depends = q.when.question if q.when is not None else "?"
            raise _fail(path, f"was not asked: it depends on the answer to {depends!r}")
        out[q.id] = _check_one(q, value, path)
    return out


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmittedChecklist:
    """One stored checklist report, as the results need it."""

    report_id: str
    station: str
    version: int
    observed_at: datetime
    seq: int
    answers: Mapping[str, Answer]


@dataclass(frozen=True)
class QuestionResult:
    """Per question: answers counted over the stations' newest reports, and flagged count."""

    question: Question
    answered: int
    distribution: tuple[tuple[str, int], ...]
    flagged: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.question.id,
            "kind": self.question.kind,
            "text": dict(self.question.text),
            "options": [o.to_dict() for o in self.question.options],
            "answered": self.answered,
            "distribution": [{"answer": a, "count": n} for a, n in self.distribution],
            "flagged": self.flagged,
        }


@dataclass(frozen=True)
class ChecklistResults:
    """A checklist's results over a set of stations (a coordinator's scope)."""

    checklist: Checklist
    version: int
    stations: int
    submitted: tuple[str, ...]
    missing: tuple[str, ...]
    questions: tuple[QuestionResult, ...]
    flagged_stations: tuple[tuple[str, tuple[str, ...]], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.checklist.id,
            "title": dict(self.checklist.title),
            "version": self.version,
            "stations": self.stations,
            "submitted": list(self.submitted),
            "missing": list(self.missing),
            "questions": [q.to_dict() for q in self.questions],
            "flagged_stations": [
                {"station": s, "questions": list(qs)} for s, qs in self.flagged_stations
            ],
        }


def _answer_key(question: Question, value: Answer) -> str:
    if question.kind == "yes_no":
        return "yes" if value is True else "no"
    if question.kind == "text":
        return "answered"
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def tally_checklist(
    versions: Mapping[int, Checklist],
    submitted: Iterable[SubmittedChecklist],
    stations: Sequence[str],
) -> ChecklistResults:
    """The results of one checklist over ``stations`` (reports elsewhere are ignored).

    The distribution counts each station once, by its newest report (observed time, then
    ledger order): two observers at one station, or a corrected checklist, do not count
    twice. A station is flagged if ANY of its reports flagged a question (judged by the
    version that report answered): a later report does not erase an irregularity. Text
    answers are counted as answered, never listed (they may name people). Questions are
    those of the newest version, then questions only older versions asked.
    """
    if not versions:
        raise InputError("a checklist without versions has no results", column="checklist")
    latest_version = max(versions)
    latest = versions[latest_version]
    wanted = set(stations)
    newest: dict[str, SubmittedChecklist] = {}
    flags: dict[str, set[str]] = {}
    for item in submitted:
        if item.station not in wanted or item.version not in versions:
            continue
        current = newest.get(item.station)
        if current is None or (item.observed_at, item.seq) > (current.observed_at, current.seq):
            newest[item.station] = item
        flagged = versions[item.version].flagged(item.answers)
        if flagged:
            flags.setdefault(item.station, set()).update(flagged)
    questions: dict[str, Question] = {q.id: q for q in latest.questions}
    for number in sorted(versions, reverse=True):
        for q in versions[number].questions:
            questions.setdefault(q.id, q)
    results = []
    for q in questions.values():
        counts: dict[str, int] = {}
        flagged_count = 0
        for item in newest.values():
            if q.id not in item.answers:
                continue
            value = item.answers[q.id]
            key = _answer_key(q, value)
            counts[key] = counts.get(key, 0) + 1
            asked = versions[item.version].question(q.id)
            if asked is not None and asked.is_flagged(value):
                flagged_count += 1
        order = (
            [o.id for o in q.options]
            if q.kind == "choice"
            else ["yes", "no"]
            if q.kind == "yes_no"
            else []
        )
        ranked = [(k, counts[k]) for k in order if k in counts] + sorted(
            ((k, n) for k, n in counts.items() if k not in order), key=lambda kv: (-kv[1], kv[0])
        )
        results.append(QuestionResult(q, sum(counts.values()), tuple(ranked), flagged_count))
    ordered_stations = list(dict.fromkeys(stations))
    return ChecklistResults(
        checklist=latest,
        version=latest_version,
        stations=len(ordered_stations),
        submitted=tuple(s for s in ordered_stations if s in newest),
        missing=tuple(s for s in ordered_stations if s not in newest),
        questions=tuple(results),
        flagged_stations=tuple(
            (s, tuple(q.id for q in questions.values() if q.id in flags[s]))
            for s in ordered_stations
            if s in flags
        ),
    )
