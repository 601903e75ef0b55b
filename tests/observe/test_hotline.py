"""The hotline's mark in the ledger: an ordinary committed field; old ledgers still verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pollwatch.errors import InputError
from pollwatch.observe.hotline import hotline_canonical, without_channel
from pollwatch.observe.ledger import append_entry, new_salts, verify_ledger
from pollwatch.observe.reports import canonical_json, parse_report

NOW = datetime(2024, 3, 17, 12, tzinfo=UTC)


def _report(n: int) -> object:
    return parse_report(
        {"id": f"00000000-0000-4000-8000-00000000000{n}", "election": "e", "station": "1",
         "kind": "incident", "category": "other", "text": "queue outside",
         "observed_at": "2024-03-17T08:00:00+03:00"},
        now=NOW,
    )  # fmt: skip


def test_a_chain_of_v1_then_v2_then_hotline_entries_verifies() -> None:
    r1, r2, r3 = _report(1), _report(2), _report(3)
    first = append_entry(None, r1.id, canonical_json(r1), "2024-03-17T05:00:01Z")  # version 1
    second_body = canonical_json(r2)
    second = append_entry(
        first, r2.id, second_body, "2024-03-17T05:00:02Z", salts=new_salts(json.loads(second_body))
    )
    marked = hotline_canonical(r3)
    third = append_entry(
        second, r3.id, marked, "2024-03-17T05:00:03Z", salts=new_salts(json.loads(marked))
    )
    lines = [e.to_json_line() for e in (first, second, third)]
    assert verify_ledger(lines).ok
    assert third.report["via"] == "hotline"
    # published with the incident text withheld, it still verifies, and the mark stays shown
    public = third.redact(["text"]).to_json_line()
    assert verify_ledger([*lines[:2], public]).ok and '"via":"hotline"' in public
    # removing or changing the mark breaks the chain
    for forged in (lines[2].replace(',"via":"hotline"', ""), lines[2].replace("hotline", "app")):
        result = verify_ledger([*lines[:2], forged])
        assert not result.ok and result.broken_line == 3


def test_an_observer_cannot_send_the_mark_and_a_stored_body_parses_without_it() -> None:
    body = json.loads(hotline_canonical(_report(4)))
    with pytest.raises(InputError) as refused:
        parse_report(body, now=NOW)
    assert refused.value.column == "via"
    assert parse_report(without_channel(body), now=NOW).id == body["id"]
