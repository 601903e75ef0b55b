"""The checklist schema (observe/checklists.py) and the checklist report kind, without a database.

Every malformed document is refused with the offending field named in the error's column
and at the start of its message; whatever the input, nothing but InputError is raised; a
valid document survives YAML and JSON round trips; answers are checked against the version
(conditions, kinds, bounds, required); results count stations once and never lose a flag.
"""

from __future__ import annotations

import contextlib
import json
import random
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pollwatch.errors import InputError
from pollwatch.observe import checklists
from pollwatch.observe.checklists import (
    MAX_QUESTIONS,
    MAX_SOURCE_BYTES,
    SubmittedChecklist,
    check_answers,
    checklist_to_yaml,
    parse_checklist,
    tally_checklist,
)
from pollwatch.observe.reports import ChecklistReport, canonical_json, parse_report

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "opening",
        "title": {"en": "Opening", "ru": "Открытие", "sr": "Otvaranje"},
        "questions": [
            {"id": "sealed", "kind": "yes_no", "text": "Sealed?", "flag": False},
            {
                "id": "why",
                "kind": "text",
                "text": {"en": "Why not?"},
                "when": {"question": "sealed", "equals": False},
                "required": True,
            },
            {
                "id": "booths",
                "kind": "choice",
                "text": "Booths",
                "options": [{"id": "ok", "text": "OK"}, {"id": "none", "text": "None"}],
                "flag": ["none"],
            },
            {
                "id": "staff",
                "kind": "number",
                "text": "Staff",
                "min": 0,
                "max": 40,
                "flag": {"below": 3, "above": 30},
            },
            {"id": "photo", "kind": "photo", "text": "Photo of the protocol"},
        ],
    }
    doc.update(changes)
    return doc


def test_the_module_example_parses_and_round_trips() -> None:
    doc = checklists.__doc__ or ""
    example = textwrap.dedent(doc.split("::\n\n")[1].split("\n\nQuestion kinds")[0])
    parsed = parse_checklist(example)
    assert [q.kind for q in parsed.questions] == ["yes_no", "text", "choice", "number", "photo"]
    assert parsed.questions[0].text["ru"] == "Урна опечатана?"
    assert parse_checklist(checklist_to_yaml(parsed)) == parsed
    assert parse_checklist(json.dumps(parsed.to_dict())) == parsed
    assert parse_checklist(parsed.to_dict()) == parsed


def _broken(path: str, value: Any) -> dict[str, Any]:
    """The valid document with the field at ``path`` (dots and [i]) set to ``value``."""
    doc = json.loads(json.dumps(_doc()))
    parts = path.replace("[", ".").replace("]", "").split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("id", "Opening Day", "id"),
        ("id", _DELETE, "id"),
        ("title", {"ru": "только русский"}, "title.en"),
        ("title", {"en": "x", "de": "y"}, "title"),
        ("title", {"en": "x" * 501}, "title.en"),
        ("questions", [], "questions"),
        ("questions", "sealed", "questions"),
        ("questions[0].kind", "dance", "questions[0].kind"),
        ("questions[0].id", "sealed?", "questions[0].id"),
        ("questions[0].text", True, "questions[0].text"),
        ("questions[0].text", {"en": "a\x00b"}, "questions[0].text.en"),
        ("questions[0].flag", "no", "questions[0].flag"),
        ("questions[0].required", "yes", "questions[0].required"),
        ("questions[0].colour", "red", "questions[0]"),
        ("questions[1].id", "sealed", "questions[1].id"),
        ("questions[1].when", {"question": "staff", "equals": 1}, "questions[1].when.question"),
        ("questions[1].when", {"question": "sealed"}, "questions[1].when"),
        ("questions[1].when", {"question": "sealed", "equals": "no"}, "questions[1].when.equals"),
        ("questions[1].when", {"question": "sealed", "in": []}, "questions[1].when.in"),
        ("questions[1].flag", True, "questions[1].flag"),
        ("questions[2].options", _DELETE, "questions[2].options"),
        ("questions[2].options", [], "questions[2].options"),
        ("questions[2].options[1].id", "ok", "questions[2].options[1].id"),
        ("questions[2].options[1].text", None, "questions[2].options[1].text"),
        ("questions[2].options[0].text", {"en": True}, "questions[2].options[0].text.en"),
        ("questions[2].flag", ["missing"], "questions[2].flag[0]"),
        ("questions[2].min", 1, "questions[2].min"),
        ("questions[3].max", -1, "questions[3].max"),
        ("questions[3].min", 1.5, "questions[3].min"),
        ("questions[3].flag", {"between": 3}, "questions[3].flag"),
        ("questions[3].flag", {"below": True}, "questions[3].flag.below"),
        ("questions[3].max", 10**9, "questions[3].max"),
        ("questions[4].flag", True, "questions[4].flag"),
    ],
)
def test_a_malformed_checklist_is_refused_naming_the_field(
    path: str, value: Any, field: str
) -> None:
    with pytest.raises(InputError) as refused:
        parse_checklist(_broken(path, value))
    assert refused.value.column == field, refused.value
    assert refused.value.reason.startswith(f"{field}: ")


def test_too_many_questions_options_photos_and_bytes_are_refused() -> None:
    many = [{"id": f"q{i}", "kind": "yes_no", "text": "?"} for i in range(MAX_QUESTIONS + 1)]
    with pytest.raises(InputError, match="questions"):
        parse_checklist(_doc(questions=many))
    options = [{"id": f"o{i}", "text": "o"} for i in range(checklists.MAX_OPTIONS + 1)]
    with pytest.raises(InputError) as refused:
        parse_checklist(
            _doc(questions=[{"id": "c", "kind": "choice", "text": "c", "options": options}])
        )
    assert refused.value.column == "questions[0].options"
    photos = [{"id": f"p{i}", "kind": "photo", "text": "p"} for i in range(2)]
    with pytest.raises(InputError) as refused:
        parse_checklist(_doc(questions=photos))
    assert refused.value.column == "questions[1].kind"
    with pytest.raises(InputError) as refused:
        parse_checklist("#" * (MAX_SOURCE_BYTES + 1))
    assert refused.value.column == "body"


@pytest.mark.parametrize(
    "source",
    [
        "a: &x [1, 2]\nb: *x\n",  # aliases: the "billion laughs" shape
        "id: [unclosed\n",
        "- just\n- a list\n",
        "\x00",
        b"\xff\xfe not utf-8",
        "id: x\ntitle: x\nquestions: " + "[" * 5000 + "]" * 5000,
        "!!python/object:os.system {}",
        "",
    ],
)
def test_hostile_documents_are_refused_as_input_errors(source: str | bytes) -> None:
    with pytest.raises(InputError) as refused:
        parse_checklist(source)
    assert refused.value.column in ("body", "questions")


def test_random_documents_raise_nothing_but_input_errors() -> None:
    rng = random.Random(13)
    atoms: list[Any] = [None, True, 0, -1, 10**12, 1.5, "", "x", "ok", [], {}, "\ud800"]
    base = _doc()
    for _ in range(400):
        doc = json.loads(json.dumps(base))
        q = rng.choice(doc["questions"])
        key = rng.choice([*q.keys(), "when", "flag", "options", "min", "max", "zzz"])
        q[key] = rng.choice([*atoms, {"question": "sealed", "in": [rng.choice(atoms)]}])
        with contextlib.suppress(InputError):
            parse_checklist(doc)


def test_answers_are_checked_against_the_version() -> None:
    c = parse_checklist(_doc())
    good = {"sealed": False, "why": "seal broken", "booths": "none", "staff": 2, "photo": True}
    assert check_answers(c, good) == good
    assert c.flagged(good) == ("sealed", "booths", "staff")
    assert c.flagged({"sealed": True, "booths": "ok", "staff": 31}) == ("staff",)
    cases = [
        ({"sealed": True, "why": "x", "booths": "ok", "staff": 5}, "answers.why"),  # not asked
        ({"sealed": False, "booths": "ok", "staff": 5}, "answers.why"),  # asked, required
        ({"sealed": False, "why": "  ", "booths": "ok", "staff": 5}, "answers.why"),
        ({"sealed": "no", "booths": "ok", "staff": 5}, "answers.sealed"),
        ({"sealed": True, "booths": "maybe", "staff": 5}, "answers.booths"),
        ({"sealed": True, "booths": "ok", "staff": 41}, "answers.staff"),
        ({"sealed": True, "booths": "ok", "staff": True}, "answers.staff"),
        ({"sealed": True, "booths": "ok", "staff": 5, "photo": False}, "answers.photo"),
        ({"sealed": True, "booths": "ok", "staff": 5, "extra": 1}, "answers.extra"),
        ({"booths": "ok", "staff": 5}, "answers.sealed"),
    ]
    for answers, field in cases:
        with pytest.raises(InputError) as refused:
            check_answers(c, answers)
        assert refused.value.column == field, answers


def test_a_condition_on_a_number_or_a_list_of_choices() -> None:
    c = parse_checklist(
        _doc(
            questions=[
                {"id": "n", "kind": "number", "text": "n"},
                {
                    "id": "c",
                    "kind": "choice",
                    "text": "c",
                    "options": [{"id": "a", "text": "a"}, {"id": "b", "text": "b"}],
                },
                {"id": "t", "kind": "text", "text": "t", "when": {"question": "n", "equals": 0}},
                {
                    "id": "u",
                    "kind": "yes_no",
                    "text": "u",
                    "when": {"question": "c", "in": ["a", "b"]},
                },
            ]
        )
    )
    assert check_answers(c, {"n": 0, "t": "x", "c": "b", "u": True}) == {
        "n": 0,
        "c": "b",
        "t": "x",
        "u": True,
    }
    with pytest.raises(InputError, match=r"answers\.t"):
        check_answers(c, {"n": 1, "t": "x", "c": "a", "u": True})
    # True is not the number 1, and 1 is not yes.
    yes_no = parse_checklist(
        _doc(
            questions=[
                {"id": "y", "kind": "yes_no", "text": "y"},
                {"id": "t", "kind": "text", "text": "t", "when": {"question": "y", "equals": True}},
            ]
        )
    )
    with pytest.raises(InputError):
        check_answers(yes_no, {"y": 1, "t": "x"})


def _body(**changes: Any) -> dict[str, Any]:
    body = {
        "id": "00000000-0000-4000-8000-00000000000a",
        "election": "e1",
        "station": "s1",
        "kind": "checklist",
        "observed_at": "2026-03-01T09:00:00+03:00",
        "checklist": "opening",
        "version": 2,
        "answers": {"staff": 4, "sealed": True, "why": None},
    }
    body.update(changes)
    return body


def test_the_report_kind_checks_shape_and_is_canonical() -> None:
    report = parse_report(_body(), now=NOW)
    assert isinstance(report, ChecklistReport)
    assert dict(report.answers) == {"sealed": True, "staff": 4}  # null means absent
    shuffled = _body(answers={"sealed": True, "staff": 4}, observed_at="2026-03-01T06:00:00Z")
    assert canonical_json(parse_report(shuffled, now=NOW)) == canonical_json(report)
    assert hash(report) == hash(parse_report(shuffled, now=NOW))
    for changes, field in [
        ({"checklist": "Opening"}, "checklist"),
        ({"version": "2"}, "version"),
        ({"version": -1}, "version"),
        ({"answers": []}, "answers"),
        ({"answers": {"Bad Key": 1}}, "answers"),
        ({"answers": {"q": 1.5}}, "answers.q"),
        ({"answers": {"q": "x" * 2001}}, "answers.q"),
        ({"answers": {"q": "\x00"}}, "answers.q"),
        ({"answers": {"q": [1]}}, "answers.q"),
        ({"answers": {f"q{i}": 1 for i in range(MAX_QUESTIONS + 1)}}, "answers"),
        ({"figures": {}}, "figures"),
    ]:
        with pytest.raises(InputError) as refused:
            parse_report(_body(**changes), now=NOW)
        assert refused.value.column == field, changes


def test_results_count_each_station_once_and_keep_every_flag() -> None:
    v1 = parse_checklist(_doc())
    v2 = parse_checklist(
        _doc(
            questions=[
                *_doc()["questions"][:3],
                {"id": "late", "kind": "yes_no", "text": "Late?", "flag": True},
            ]
        )
    )
    t0 = datetime(2026, 3, 1, 7, tzinfo=UTC)

    def sub(n: int, station: str, version: int, minutes: int, **answers: Any) -> SubmittedChecklist:
        return SubmittedChecklist(
            f"r{n}", station, version, t0 + timedelta(minutes=minutes), n, answers
        )

    submitted = [
        sub(1, "A", 1, 0, sealed=False, why="x", booths="ok", staff=5),  # flagged, then fixed
        sub(2, "A", 2, 30, sealed=True, booths="ok", late=False),
        sub(3, "B", 2, 10, sealed=True, booths="none", late=True),
        sub(4, "Z", 2, 10, sealed=False, booths="none"),  # outside the stations asked for
        sub(5, "C", 9, 10, sealed=False),  # a version that does not exist: ignored
    ]
    result = tally_checklist({1: v1, 2: v2}, submitted, ["A", "B", "C", "D"])
    data = result.to_dict()
    assert data["version"] == 2
    assert data["submitted"] == ["A", "B"] and data["missing"] == ["C", "D"]
    by_id = {q["id"]: q for q in data["questions"]}
    assert list(by_id) == ["sealed", "why", "booths", "late", "staff", "photo"]
    assert by_id["sealed"]["distribution"] == [{"answer": "yes", "count": 2}]
    assert by_id["booths"]["distribution"] == [
        {"answer": "ok", "count": 1},
        {"answer": "none", "count": 1},
    ]
    assert by_id["booths"]["flagged"] == 1 and by_id["late"]["flagged"] == 1
    assert data["flagged_stations"] == [
        {"station": "A", "questions": ["sealed"]},
        {"station": "B", "questions": ["booths", "late"]},
    ]
    with pytest.raises(InputError):
        tally_checklist({}, [], [])
