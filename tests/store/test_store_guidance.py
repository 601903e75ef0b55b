"""Guidance pages, key dates and voters' problem reports, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from pollwatch.errors import Forbidden, InputError, NotFoundError, RateLimited
from pollwatch.store import create_election, import_stations, list_audit
from pollwatch.store.elections import election_key_dates, set_registration_deadline
from pollwatch.store.guidance import guidance_page, list_guidance, set_guidance
from pollwatch.store.guide_problems import (
    MAX_PER_STATION_HOUR,
    MAX_PROBLEM_TEXT,
    coarse_hour,
    list_problems,
    mark_handled,
    problem_station,
    record_problem,
)
from pollwatch.store.tables import guide_problems


@pytest.fixture()
def election(engine: Engine) -> str:
    create_election(engine, "g-2026", schedule="2026-03-15 08:00-20:00", timezone="Europe/Berlin")
    import_stations(
        engine,
        "g-2026",
        [
            {"station": "101", "name": "Embassy", "country": "RS", "address": "Deligradska 32"},
            {"station": "102", "name": "Consulate", "country": "DE"},
        ],
    )
    return "g-2026"


def test_a_page_is_stored_per_language_with_its_last_change_and_audited(
    engine: Engine, election: str
) -> None:
    saved = set_guidance(
        engine, election, "ru", "# Регистрация\r\n\r\nДо 12 февраля.\n", actor="anna"
    )
    assert saved["markdown"] == "# Регистрация\n\nДо 12 февраля."
    assert saved["updated_by"] == "anna" and saved["updated_at"].endswith("Z")
    set_guidance(engine, election, "en", "# Registration", actor="boris")
    set_guidance(engine, election, "ru", "# Регистрация\n\nДо 13 февраля.", actor="boris")
    pages = list_guidance(engine, election)
    assert set(pages) == {"ru", "en"}
    assert pages["ru"]["markdown"].endswith("13 февраля.") and pages["ru"]["updated_by"] == "boris"
    audit = [a for a in list_audit(engine) if a["action"] == "guidance.write"]
    assert [(a["actor"], a["target"]) for a in audit] == [
        ("boris", f"{election}/ru"),
        ("boris", f"{election}/en"),
        ("anna", f"{election}/ru"),
    ]
    assert len(audit[0]["detail"]["sha256"]) == 64  # which text it was, without keeping it


def test_a_missing_language_falls_back_and_says_so(engine: Engine, election: str) -> None:
    assert guidance_page(engine, election, "sr") is None
    set_guidance(engine, election, "ru", "Текст", actor="anna")
    page = guidance_page(engine, election, "sr")
    assert page is not None and page["lang"] == "ru" and page["asked"] == "sr"
    assert page["fallback"] is True
    set_guidance(engine, election, "en", "Text", actor="anna")
    assert guidance_page(engine, election, "sr")["lang"] == "en"  # type: ignore[index]
    own = guidance_page(engine, election, "ru")
    assert own is not None and own["fallback"] is False and own["markdown"] == "Текст"


def test_an_empty_text_removes_the_page(engine: Engine, election: str) -> None:
    set_guidance(engine, election, "en", "Text", actor="anna")
    set_guidance(engine, election, "en", "  \n", actor="anna")
    assert list_guidance(engine, election) == {}
    assert list_audit(engine)[0]["action"] == "guidance.remove"


@pytest.mark.parametrize(
    ("lang", "text", "field"),
    [("de", "Text", "lang"), ("en", "x" * 100_001, "markdown"), ("en", "a\x00b", "markdown")],
)
def test_bad_pages_are_refused(
    engine: Engine, election: str, lang: str, text: str, field: str
) -> None:
    with pytest.raises(InputError) as info:
        set_guidance(engine, election, lang, text, actor="anna")
    assert info.value.column == field
    assert list_guidance(engine, election) == {}


def test_pages_of_an_unknown_election_are_refused(engine: Engine) -> None:
    with pytest.raises(NotFoundError):
        set_guidance(engine, "nowhere", "en", "Text", actor="anna")
    with pytest.raises(InputError):
        list_guidance(engine, "../etc")


def test_the_registration_deadline_is_stored_in_utc_with_its_zone(
    engine: Engine, election: str
) -> None:
    dates = set_registration_deadline(
        engine, election, "2026-02-12 23:59", "Europe/Moscow", actor="anna"
    )
    assert dates == {
        "registration_deadline": "2026-02-12T20:59:00Z",
        "registration_timezone": "Europe/Moscow",
        "schedule": "2026-03-15 08:00-20:00",
        "timezone": "Europe/Berlin",
    }
    assert election_key_dates(engine, election) == dates
    assert list_audit(engine)[0]["action"] == "election.key_dates"
    cleared = set_registration_deadline(engine, election, "", None, actor="anna")
    assert cleared["registration_deadline"] is None and cleared["registration_timezone"] is None


@pytest.mark.parametrize(
    ("deadline", "zone", "field"),
    [
        ("12.02.2026", "Europe/Moscow", "registration_deadline"),
        ("2026-02-30 10:00", "Europe/Moscow", "registration_deadline"),
        ("2026-02-12 25:00", "Europe/Moscow", "registration_deadline"),
        ("1850-02-12 10:00", "Europe/Moscow", "registration_deadline"),
        ("2026-02-12 10:00", "Mars/Olympus", "timezone"),
        ("2026-02-12 10:00", None, "registration_timezone"),
        ("2026-02-12 10:00", "x" * 500, "timezone"),
    ],
)
def test_bad_deadlines_are_refused(
    engine: Engine, election: str, deadline: str, zone: str | None, field: str
) -> None:
    with pytest.raises(InputError) as info:
        set_registration_deadline(engine, election, deadline, zone, actor="anna")
    assert info.value.column == field
    assert election_key_dates(engine, election)["registration_deadline"] is None


# --- problems voters report ----------------------------------------------------------------


def test_a_problem_keeps_no_more_than_station_category_text_and_hour(
    engine: Engine, election: str
) -> None:
    now = datetime(2026, 3, 15, 10, 47, 31, tzinfo=UTC)
    stored = record_problem(
        engine, election, "101", "address", "  The entrance is\x1b[31m from the yard\n", now=now
    )
    assert stored["text"] == "The entrance is[31m from the yard"  # control characters dropped
    assert stored["received_hour"] == "2026-03-15T10:00:00Z"
    with engine.connect() as conn:
        row = conn.execute(select(guide_problems)).mappings().one()
    assert set(row.keys()) == {
        "id", "election", "station", "category", "text", "received_hour",
        "handled_at", "handled_by",  # the coordinator's side
    }  # fmt: skip
    assert list_problems(engine, election) == [stored]
    assert coarse_hour(now) == datetime(2026, 3, 15, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("station", "category", "text", "error"),
    [
        ("999", "address", "text", NotFoundError),
        ("../x", "address", "text", InputError),
        ("101", "spam", "text", InputError),
        ("101", "other", " \n\t ", InputError),
        ("101", "other", "x" * (MAX_PROBLEM_TEXT + 1), InputError),
    ],
)
def test_bad_problem_reports_are_refused(
    engine: Engine, election: str, station: str, category: str, text: str, error: type
) -> None:
    with pytest.raises(error):
        record_problem(engine, election, station, category, text)
    assert list_problems(engine, election) == []


def test_a_station_takes_a_bounded_number_of_reports_an_hour(engine: Engine, election: str) -> None:
    now = datetime(2026, 3, 15, 10, 30, tzinfo=UTC)
    for i in range(MAX_PER_STATION_HOUR):
        record_problem(engine, election, "101", "other", f"report {i}", now=now)
    with pytest.raises(RateLimited) as info:
        record_problem(engine, election, "101", "other", "one more", now=now)
    assert info.value.retry_after == 1800
    record_problem(engine, election, "102", "other", "another station", now=now)
    record_problem(engine, election, "101", "other", "next hour", now=now.replace(hour=11))
    rows = list_problems(engine, election)
    assert rows[0]["text"] == "next hour" and len(rows) == MAX_PER_STATION_HOUR + 2


def test_problems_are_listed_for_the_stations_asked(engine: Engine, election: str) -> None:
    record_problem(engine, election, "101", "hours", "closes at 18")
    record_problem(engine, election, "102", "closed", "moved")
    assert [p["station"] for p in list_problems(engine, election, only=frozenset({"102"}))] == [
        "102"
    ]
    assert list_problems(engine, election, only=frozenset()) == []
    assert len(list_problems(engine, election, limit=1)) == 1
    assert problem_station(engine, election, "101")["address"] == "Deligradska 32"
    with pytest.raises(NotFoundError):
        problem_station(engine, election, "103")


def test_migration_0009_goes_down_and_up_keeping_the_elections(db_url: str) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from pollwatch.store import make_engine, open_store

    engine = open_store(db_url)
    create_election(engine, "kept")
    set_registration_deadline(engine, "kept", "2030-01-01 10:00", "UTC", actor="t")
    config = Config()
    scripts = resources.files("pollwatch.store") / "migrations"
    config.set_main_option("script_location", str(scripts))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0008")
    names = inspect(engine).get_table_names()
    assert "guidance_pages" not in names and "guide_problems" not in names
    columns = {c["name"] for c in inspect(engine).get_columns("elections")}
    assert "registration_deadline" not in columns
    engine.dispose()
    again = open_store(db_url)  # upgrades to head again
    assert election_key_dates(again, "kept")["registration_deadline"] is None
    set_guidance(again, "kept", "en", "back", actor="t")
    again.dispose()
    make_engine(db_url).dispose()


def test_a_coordinator_marks_a_report_handled_once_and_audited(
    engine: Engine, election: str
) -> None:
    first = record_problem(engine, election, "101", "hours", "closes at 18")
    second = record_problem(engine, election, "102", "closed", "moved")
    with pytest.raises(Forbidden):
        mark_handled(engine, election, first["id"], actor="narrow", only=frozenset({"102"}))
    done = mark_handled(engine, election, first["id"], actor="anna")
    assert done["handled_by"] == "anna" and done["handled_at"].endswith("Z")
    again = mark_handled(engine, election, first["id"], actor="boris")
    assert again["handled_by"] == "anna"  # the first mark stays
    assert [a["actor"] for a in list_audit(engine) if a["action"] == "guide.problems.handle"] == [
        "anna"
    ]
    assert [p["id"] for p in list_problems(engine, election, handled=False)] == [second["id"]]
    assert [p["id"] for p in list_problems(engine, election, handled=True)] == [first["id"]]
    create_election(engine, "other")
    with pytest.raises(NotFoundError):
        mark_handled(engine, "other", first["id"], actor="anna")
    with pytest.raises(NotFoundError):
        mark_handled(engine, election, 10**9, actor="anna")
