"""The knowledge-base schema and loader: strictness and clear errors naming file and field."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from pollwatch.coach import Coach, check_knowledge_base, load_knowledge_base
from pollwatch.errors import InputError, NotFoundError


@pytest.fixture
def kb_copy(tmp_path: Path, fixture_kb_path: Path) -> Path:
    """A writable copy of the fixture knowledge base."""
    target = tmp_path / "kb"
    shutil.copytree(fixture_kb_path, target)
    return target


def _edit(kb_dir: Path, arg_id: str, change: Any) -> Path:
    path = kb_dir / "arguments" / f"{arg_id}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_fixture_kb_loads(kb_copy: Path) -> None:
    kb = load_knowledge_base(kb_copy)
    assert [a.id for a in kb.arguments] == ["roads-bad", "taxes-high"]
    assert set(kb.sources) == {"fixture-survey", "fixture-risky"}
    assert check_knowledge_base(kb_copy) == ()


def _set(key: str, value: Any) -> Any:
    def change(d: dict[str, Any]) -> None:
        d[key] = value

    return change


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (_set("paraphrase", ["x"]), "paraphrase", "Extra inputs"),
        (_set("status", "published"), "status", "draft"),
        (_set("topics", ["weather"]), "topics[0]", "elections"),
        (_set("id", "Roads Bad"), "id", "pattern"),
        (lambda d: d["paraphrases"]["en"].__delitem__(slice(3, None)), "paraphrases.en", "15"),
        (lambda d: d["responses"]["question"]["en"].__setitem__(0, "Do you agree?"),
         "responses.question.en", "yes/no"),
        (lambda d: d["responses"]["question"]["ru"].__setitem__(0, "Что тебя пугает."),
         "responses.question.ru", "'?'"),
        (lambda d: d["responses"]["question"]["ru"].__setitem__(0, "Разве это честно?"),
         "responses.question.ru", "rhetorical"),
        (lambda d: d["responses"]["question"]["ru"].__setitem__(0, "Ты согласен, что это честно?"),
         "responses.question.ru", "yes/no"),
        (lambda d: d["responses"]["bridge"].pop("en"), "responses.bridge.en", "Field required"),
        (lambda d: d["sources"].append({"id": "fixture-survey", "supports": "claim"}),
         "sources[1].supports", "bridge"),
        (lambda d: d["practice"]["ru"].pop("closing"), "practice.ru.closing", "required"),
        (_set("review_date", "someday"), "review_date", "date"),
        (_set("reviewed_by", ["Ivan Petrov"]), "reviewed_by[0]", "editor"),
        (lambda d: d.pop("legal_risks"), "legal_risks", "required"),
        (_set("legal_risks", [{"law": "fixture-army-law", "steps": ["claim"],
                               "note": {"ru": "x", "en": "x"}, "source": "fixture-survey"}]),
         "legal_risks[0].steps[0]", "bridge"),
    ],
)  # fmt: skip
def test_invalid_argument_names_file_and_field(
    kb_copy: Path, change: Any, field: str, message: str
) -> None:
    _edit(kb_copy, "roads-bad", change)
    with pytest.raises(InputError) as info:
        load_knowledge_base(kb_copy)
    err = info.value
    assert err.file == "arguments/roads-bad.yaml"
    assert err.column == field
    assert message in str(err)


def test_id_must_equal_file_name(kb_copy: Path) -> None:
    _edit(kb_copy, "roads-bad", _set("id", "roads-good"))
    with pytest.raises(InputError, match="differs from the file name"):
        load_knowledge_base(kb_copy)


def test_unknown_source_reference(kb_copy: Path) -> None:
    _edit(kb_copy, "taxes-high", _set("sources", [{"id": "nope", "supports": "bridge"}]))
    with pytest.raises(InputError, match=r"'nope' is not in sources\.yaml") as info:
        load_knowledge_base(kb_copy)
    assert info.value.column == "sources[0].id"


def test_source_quote_length_and_url(kb_copy: Path) -> None:
    path = kb_copy / "sources.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sources"][0]["quote"] = "x" * 301
    data["sources"][1]["url"] = "ftp://example.org"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    problems = check_knowledge_base(kb_copy)
    fields = {(p.file, p.field) for p in problems}
    assert ("sources.yaml", "sources[0].quote") in fields
    assert ("sources.yaml", "sources[1].url") in fields


def test_extra_sources_file_and_duplicate_ids(kb_copy: Path) -> None:
    main = yaml.safe_load((kb_copy / "sources.yaml").read_text(encoding="utf-8"))
    extra = {"sources": [dict(main["sources"][0], id="fixture-extra")]}
    (kb_copy / "sources-extra.yaml").write_text(yaml.safe_dump(extra), encoding="utf-8")
    assert "fixture-extra" in load_knowledge_base(kb_copy).sources
    extra["sources"].append(main["sources"][1])
    (kb_copy / "sources-extra.yaml").write_text(yaml.safe_dump(extra), encoding="utf-8")
    with pytest.raises(InputError, match="repeated"):
        load_knowledge_base(kb_copy)


def test_broken_yaml_names_line(kb_copy: Path) -> None:
    (kb_copy / "arguments" / "roads-bad.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"arguments/roads-bad.yaml.*line"):
        load_knowledge_base(kb_copy)


def test_check_collects_every_problem(kb_copy: Path) -> None:
    _edit(kb_copy, "roads-bad", _set("status", "x"))
    _edit(kb_copy, "taxes-high", _set("licence", ""))
    files = {p.file for p in check_knowledge_base(kb_copy)}
    assert files == {"arguments/roads-bad.yaml", "arguments/taxes-high.yaml"}


def test_missing_folder() -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_knowledge_base("/nonexistent/kb")


def test_retired_arguments_are_not_matched(kb_copy: Path) -> None:
    _edit(kb_copy, "roads-bad", _set("status", "retired"))
    kb = load_knowledge_base(kb_copy)
    assert [a.id for a in kb.active] == ["taxes-high"]
    result = Coach(kb).ask("Дороги плохие и всегда будут плохими, ямы везде")
    assert all(m.id != "roads-bad" for m in result.matches)
    assert kb.get("roads-bad").status == "retired"  # still readable by id


def test_unknown_argument_id(fixture_kb: Any) -> None:
    with pytest.raises(NotFoundError, match="roads-bad"):
        fixture_kb.get("no-such-argument")


def test_source_without_date_or_with_a_malformed_link_is_refused(kb_copy: Path) -> None:
    path = kb_copy / "sources.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["sources"][0]["date"]
    data["sources"][1]["url"] = "https://example org/a page"
    data["sources"][1]["archived_url"] = "https://example.org/copy"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    problems = {(p.file, p.field): p.message for p in check_knowledge_base(kb_copy)}
    assert "required" in problems[("sources.yaml", "sources[0].date")]
    assert ("sources.yaml", "sources[1].url") in problems
    assert "web.archive.org" in problems[("sources.yaml", "sources[1].archived_url")]


def test_a_statement_about_the_war_without_a_risk_note_is_refused(kb_copy: Path) -> None:
    def speak_of_the_war(d: dict[str, Any]) -> None:
        d["responses"]["counterargument"]["ru"][1] = "Мне кажется, деньги ушли на войну."
        d["legal_risks"] = []

    _edit(kb_copy, "roads-bad", speak_of_the_war)
    problems = check_knowledge_base(kb_copy)
    assert [(p.file, p.field) for p in problems] == [
        ("arguments/roads-bad.yaml", "responses.counterargument.ru[1]")
    ]
    assert "disputes the official account of the war (война)" in problems[0].message

    def with_note(d: dict[str, Any]) -> None:
        d["legal_risks"] = [
            {
                "law": "fixture-army-law",
                "steps": ["counterargument"],
                "variants": [1],
                "note": {"ru": "Штрафовали.", "en": "People were fined."},
                "source": "fixture-survey",
            }
        ]

    _edit(kb_copy, "roads-bad", with_note)
    assert check_knowledge_base(kb_copy) == ()


def test_a_risk_note_names_a_known_law_and_existing_variants(kb_copy: Path) -> None:
    def bad_note(d: dict[str, Any]) -> None:
        d["legal_risks"] = [
            {
                "law": "no-such-law",
                "steps": ["question"],
                "variants": [7],
                "note": {"ru": "x", "en": "x"},
                "source": "nope",
            }
        ]

    _edit(kb_copy, "roads-bad", bad_note)
    fields = {p.field for p in check_knowledge_base(kb_copy)}
    assert fields == {"legal_risks[0].law", "legal_risks[0].source", "legal_risks[0].variants"}


def test_sources_to_review_lists_home_pages(kb_copy: Path) -> None:
    from pollwatch.coach.loader import sources_to_review

    path = kb_copy / "sources.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sources"][0]["url"] = "https://example.org/en/"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert [s.id for s in sources_to_review(load_knowledge_base(kb_copy))] == ["fixture-survey"]
