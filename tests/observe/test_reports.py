"""Report validation: what an observer's phone may send, and what it may not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollwatch.errors import InputError
from pollwatch.observe.ids import ID_PATTERN
from pollwatch.observe.reports import (
    FIGURE_FIELDS,
    INCIDENT_CATEGORIES,
    STATUSES,
    CountReport,
    ProtocolReport,
    canonical_json,
    parse_report,
)

NOW = datetime(2024, 3, 17, 12, 0, tzinfo=UTC)
ID = "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b"


def body(kind: str = "count", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": ID,
        "election": "ru-2024",
        "station": "8001",
        "kind": kind,
        "observed_at": "2024-03-17T10:00:00+03:00",
    }
    defaults: dict[str, dict[str, Any]] = {
        "count": {
            "window_start": "2024-03-17T09:00:00+03:00",
            "window_end": "2024-03-17T10:00:00+03:00",
            "entered": 57,
        },
        "incident": {"category": "pressure", "text": "Voters brought by bus"},
        "protocol": {
            "figures": {
                "registered": 1000,
                "ballots_received": 1000,
                "issued_early": 0,
                "issued_premises": 600,
                "issued_outside": 20,
                "valid": 610,
                "invalid": 8,
                "votes": {"A": 400, "B": 210},
            }
        },
        "status": {"status": "opened"},
    }
    base.update(defaults.get(kind, {}))
    base.update(fields)
    return base


def parse(payload: Any) -> Any:
    return parse_report(payload, now=NOW)


def error_column(payload: Any) -> str | None:
    with pytest.raises(InputError) as info:
        parse(payload)
    return info.value.column


# --- valid reports ------------------------------------------------------------------------


def test_count_report_is_parsed_with_utc_times() -> None:
    report = parse(body(queue=12, wait_minutes=20, ballots_issued=55))
    assert isinstance(report, CountReport)
    assert report.kind == "count"
    assert report.entered == 57 and report.queue == 12 and report.ballots_issued == 55
    assert report.window_start == datetime(2024, 3, 17, 6, 0, tzinfo=UTC)
    assert report.window_hours == pytest.approx(1.0)
    assert report.observed_at.tzinfo == UTC


@pytest.mark.parametrize("kind", ["count", "incident", "protocol", "status"])
def test_every_kind_round_trips_through_canonical_json(kind: str) -> None:
    report = parse(body(kind))
    assert report.kind == kind
    assert parse(json.loads(canonical_json(report))) == report


def test_canonical_json_ignores_key_order_offsets_nulls_and_id_case() -> None:
    a = body(queue=None)
    b = dict(reversed(list(body().items())))
    b["id"] = ID.upper()
    b["observed_at"] = "2024-03-17T07:00:00Z"
    b["window_start"] = "2024-03-17T06:00:00+00:00"
    b["window_end"] = "2024-03-17T08:00:00+01:00"
    assert canonical_json(parse(a)) == canonical_json(parse(b))
    text = canonical_json(parse(a))
    assert " " not in text and "queue" not in text
    assert '"observed_at":"2024-03-17T07:00:00Z"' in text


def test_canonical_json_differs_when_the_body_differs() -> None:
    assert canonical_json(parse(body(entered=57))) != canonical_json(parse(body(entered=58)))


def test_clock_skew_of_up_to_a_day_is_tolerated() -> None:
    ahead = (NOW + timedelta(hours=23)).isoformat()
    report = parse(body("status", observed_at=ahead))
    assert report.observed_at == NOW + timedelta(hours=23)


def test_non_ascii_text_is_kept() -> None:
    report = parse(body("incident", text="Давление на избирателей\n"))
    assert "Давление" in canonical_json(report)


def test_non_ascii_ids_are_refused_with_a_transliteration() -> None:
    with pytest.raises(InputError, match="try 'UIK-8001'") as caught:
        parse(body("incident", station="УИК-8001"))
    assert caught.value.column == "station"


def test_protocol_inconsistency_is_accepted_but_flagged() -> None:
    figures = body("protocol")["figures"] | {"valid": 700, "invalid": 10}
    report = parse(body("protocol", figures=figures))
    assert isinstance(report, ProtocolReport)
    assert report.figures.valid == 700
    assert any("more than ballots issued" in w for w in report.warnings)
    assert any("add up to 610" in w for w in report.warnings)


def test_consistent_protocol_has_no_warnings() -> None:
    report = parse(body("protocol"))
    assert isinstance(report, ProtocolReport)
    assert report.warnings == ()
    assert report.figures.issued_total == 620


def test_partial_protocol_is_accepted() -> None:
    report = parse(body("protocol", figures={"votes": {"A": 3}}))
    assert isinstance(report, ProtocolReport)
    assert report.figures.registered is None and dict(report.figures.votes) == {"A": 3}


# --- rejected reports, each naming its field ------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "column"),
    [
        (body(id="not-a-uuid"), "id"),
        (body(id="6f1c2a9e3b4d4e5f8a7b1c2d3e4f5a6b"), "id"),
        (body(id=17), "id"),
        (body(election=""), "election"),
        (body(election="x" * 65), "election"),
        (body(station="8001/2"), "station"),
        (body(station="a b"), "station"),
        (body(station="a\x00"), "station"),
        (body(kind="vote"), "kind"),
        (body(observed_at="2024-03-17T10:00:00"), "observed_at"),
        (body(observed_at="yesterday"), "observed_at"),
        (body(observed_at="2024-03-19T12:00:01+00:00"), "observed_at"),
        (body(observed_at="1999-12-31T23:59:59Z"), "observed_at"),
        (body(observed_at="0001-01-01T00:00:00+01:00"), "observed_at"),
        (body(observed_at=1710662400), "observed_at"),
        (body(window_end="2024-03-17T08:59:59+03:00"), "window_end"),
        (body(window_start="2024-03-16T09:00:00+03:00"), "window_end"),
        (body(entered=-1), "entered"),
        (body(entered=1_000_001), "entered"),
        (body(entered=True), "entered"),
        (body(entered=3.0), "entered"),
        (body(entered="3"), "entered"),
        (body(queue=False), "queue"),
        (body(wait_minutes=100_000), "wait_minutes"),
        (body(enterd=3), "enterd"),
        (body(category="pressure"), "category"),
        (body("incident", category="bribery"), "category"),
        (body("incident", text="x" * 4001), "text"),
        (body("incident", text="\ud800"), "text"),
        (body("status", status="open"), "status"),
        (body("status", entered=3), "entered"),
        (body("protocol", figures=[1, 2]), "figures"),
        (body("protocol", figures={}), "figures"),
        (body("protocol", figures={"valid": -5}), "figures.valid"),
        (body("protocol", figures={"valid": True}), "figures.valid"),
        (body("protocol", figures={"turnout": 5}), "figures.turnout"),
        (body("protocol", figures={"votes": [1]}), "figures.votes"),
        (body("protocol", figures={"votes": {"": 1}}), "figures.votes"),
        (body("protocol", figures={"votes": {"A": -1}}), "figures.votes.A"),
        (body("protocol", figures={"votes": {"A": 1.5}}), "figures.votes.A"),
    ],
)
def test_bad_input_is_rejected_naming_the_field(payload: Any, column: str) -> None:
    assert error_column(payload) == column


@pytest.mark.parametrize("missing", ["id", "election", "station", "kind", "observed_at", "entered"])
def test_missing_required_field_is_named(missing: str) -> None:
    payload = body()
    del payload[missing]
    assert error_column(payload) == missing


def test_non_object_body_is_rejected() -> None:
    assert error_column([body()]) == "body"


def test_naive_now_is_refused() -> None:
    with pytest.raises(InputError):
        parse_report(body(), now=datetime(2024, 3, 17))


# --- properties -------------------------------------------------------------------------------

ids = st.from_regex(ID_PATTERN, fullmatch=True)
counts = st.integers(min_value=0, max_value=1_000_000)
moments = st.datetimes(
    min_value=datetime(2001, 1, 1),
    max_value=datetime(2024, 3, 17),
    timezones=st.just(UTC),
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))


def _iso(moment: datetime, offset: timedelta) -> str:
    return moment.astimezone(timezone(offset)).isoformat()


@st.composite
def valid_payloads(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["count", "incident", "protocol", "status"]))
    observed = draw(moments)
    payload: dict[str, Any] = {
        "id": str(draw(st.uuids())),
        "election": draw(ids),
        "station": draw(ids),
        "kind": kind,
        "observed_at": _iso(observed, draw(offsets)),
    }
    if kind == "count":
        length = draw(st.integers(min_value=0, max_value=24 * 3600))
        payload["window_start"] = _iso(observed - timedelta(seconds=length), draw(offsets))
        payload["window_end"] = _iso(observed, draw(offsets))
        payload["entered"] = draw(counts)
        for name in ("ballots_issued", "queue"):
            if draw(st.booleans()):
                payload[name] = draw(st.none() | counts)
    elif kind == "incident":
        payload["category"] = draw(st.sampled_from(INCIDENT_CATEGORIES))
        letters = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
        payload["text"] = draw(st.text(letters, max_size=50))
    elif kind == "protocol":
        figures: dict[str, Any] = {
            name: draw(counts) for name in FIGURE_FIELDS if draw(st.booleans())
        }
        figures["votes"] = draw(
            st.dictionaries(st.text(min_size=1, max_size=10).filter(str.strip), counts, max_size=5)
        )
        if len(figures) == 1 and not figures["votes"]:
            figures["valid"] = 0
        payload["figures"] = figures
    else:
        payload["status"] = draw(st.sampled_from(STATUSES))
    return payload


@settings(max_examples=200, deadline=None)
@given(valid_payloads())
def test_property_parse_of_canonical_is_the_report(payload: dict[str, Any]) -> None:
    try:
        report = parse(payload)
    except InputError as error:  # only the generator's rare NUL/surrogate names may fail
        assert error.column is not None and error.column.startswith("figures.votes")
        return
    text = canonical_json(report)
    again = parse(json.loads(text))
    assert again == report
    assert canonical_json(again) == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_property_junk_raises_only_input_error(junk: Any) -> None:
    with pytest.raises(InputError):
        parse(junk)


@settings(max_examples=300, deadline=None)
@given(valid_payloads(), st.text(max_size=12), json_values)
def test_property_mutated_payload_parses_or_raises_input_error(
    payload: dict[str, Any], key: str, value: Any
) -> None:
    target = payload
    if "figures" in payload and key.startswith("f"):
        target = payload["figures"]
    target[key if key else next(iter(target))] = value
    try:
        report = parse(payload)
    except InputError as error:
        assert error.column
        return
    assert parse(json.loads(canonical_json(report))) == report


def test_docstring_examples_run() -> None:
    import doctest

    from pollwatch.observe import ids, ledger, reports

    for module in (reports, ledger, ids):
        outcome = doctest.testmod(module)
        assert outcome.attempted > 0 and outcome.failed == 0, module.__name__
