"""The hash-chained ledger: honest ledgers verify, every kind of tampering is named."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollwatch.errors import InputError
from pollwatch.observe.ledger import (
    GENESIS,
    LedgerEntry,
    append_entry,
    canonical_dumps,
    entry_hash,
    verify_ledger,
)
from pollwatch.observe.reports import canonical_json, parse_report

NOW = datetime(2024, 3, 17, 12, 0, tzinfo=UTC)


def report_json(i: int) -> str:
    report = parse_report(
        {
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "election": "ru-2024",
            "station": f"S{i % 3}",
            "kind": "incident",
            "observed_at": (NOW - timedelta(minutes=i)).isoformat(),
            "category": "pressure",
            "text": f"случай {i}",
        },
        now=NOW,
    )
    return canonical_json(report)


def build(n: int) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    for i in range(1, n + 1):
        canonical = report_json(i)
        report_id = json.loads(canonical)["id"]
        prev = entries[-1] if entries else None
        entries.append(append_entry(prev, report_id, canonical, f"2024-03-17T08:{i:02d}:00Z"))
    return entries


def lines(entries: list[LedgerEntry]) -> list[str]:
    return [e.to_json_line() + "\n" for e in entries]


def test_hash_is_sha256_of_the_documented_bytes() -> None:
    canonical = report_json(1)
    expected = hashlib.sha256(f"{GENESIS}\n1\n{canonical}".encode()).hexdigest()
    assert entry_hash(GENESIS, 1, canonical) == expected


def test_honest_ledger_verifies() -> None:
    entries = build(6)
    assert entries[0].seq == 1 and entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    result = verify_ledger(lines(entries))
    assert result.ok and result.reason == ""
    assert result.entries == 6 and result.head_seq == 6 and result.head_hash == entries[-1].hash
    assert "OK" in result.describe()


def test_empty_ledger_and_trailing_blank_lines_verify() -> None:
    assert verify_ledger([]).ok and verify_ledger([]).head_hash == GENESIS
    assert verify_ledger([*lines(build(2)), "\n", "\r\n"]).ok


def test_lines_round_trip() -> None:
    for entry in build(3):
        assert LedgerEntry.from_json_line(entry.to_json_line()) == entry


def test_changed_report_is_a_hash_mismatch() -> None:
    text = lines(build(5))
    text[2] = text[2].replace("случай 3", "случай 33")
    result = verify_ledger(text)
    assert not result.ok
    assert (result.broken_line, result.broken_seq, result.entries) == (3, 3, 2)
    assert "hash mismatch" in result.reason
    assert "line 3 (seq 3)" in result.describe()


def test_changed_report_with_recomputed_hash_breaks_the_next_link() -> None:
    entries = build(5)
    data = entries[2].to_dict()
    data["report"]["text"] = "forged"
    data["hash"] = entry_hash(data["prev_hash"], 3, canonical_dumps(data["report"]))
    text = lines(entries)
    text[2] = json.dumps(data) + "\n"
    result = verify_ledger(text)
    assert (result.ok, result.broken_line, result.broken_seq) == (False, 4, 4)
    assert "prev_hash mismatch" in result.reason


def test_reordered_entries_are_a_seq_gap() -> None:
    text = lines(build(5))
    text[1], text[2] = text[2], text[1]
    result = verify_ledger(text)
    assert (result.ok, result.broken_line, result.broken_seq) == (False, 2, 3)
    assert "seq gap" in result.reason


def test_removed_entry_is_a_seq_gap() -> None:
    text = lines(build(5))
    del text[3]
    result = verify_ledger(text)
    assert (result.broken_line, result.broken_seq) == (4, 5)
    assert "expected seq 4" in result.reason


def test_renumbered_after_removal_is_a_prev_hash_mismatch() -> None:
    entries = build(4)
    data = entries[3].to_dict()
    data["seq"] = 3
    result = verify_ledger([*lines(entries[:2]), json.dumps(data)])
    assert (result.broken_line, result.broken_seq) == (3, 3)
    assert "prev_hash mismatch" in result.reason


def test_truncated_line_is_bad_json() -> None:
    text = lines(build(4))
    text[3] = text[3][:40]
    result = verify_ledger(text)
    assert (result.broken_line, result.broken_seq, result.entries) == (4, None, 3)
    assert "not valid JSON" in result.reason


def test_truncated_ledger_is_caught_by_a_published_head() -> None:
    entries = build(5)
    published = entries[3].hash
    assert verify_ledger(lines(entries), expected_head=published).ok  # it grew since: fine
    cut = verify_ledger(lines(entries[:3]))
    assert cut.ok  # a chain alone cannot show that its tail is missing
    checked = verify_ledger(lines(entries[:3]), expected_head=published)
    assert not checked.ok and "not in the ledger" in checked.reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("garbage", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"seq": 1}', "missing field"),
        ("{" * 100_000, "not valid JSON"),
    ],
)
def test_garbage_lines_are_named(line: str, reason: str) -> None:
    result = verify_ledger([*lines(build(2)), line])
    assert (result.ok, result.broken_line, result.entries) == (False, 3, 2)
    assert reason in result.reason


def test_malformed_fields_are_named() -> None:
    good = build(1)[0].to_dict()
    for field, value, reason in [
        ("seq", "1", "'seq'"),
        ("seq", True, "'seq'"),
        ("hash", "ABC", "'hash'"),
        ("report_id", "someone-else", "report_id"),
        ("report", [], "'report'"),
    ]:
        bad = dict(good, **{field: value})
        result = verify_ledger([json.dumps(bad)])
        assert not result.ok and result.broken_line == 1, field
        assert reason in result.reason, field
    extra = verify_ledger([json.dumps(dict(good, note="x"))])
    assert "unknown field" in extra.reason


def test_blank_line_inside_is_broken() -> None:
    text = lines(build(3))
    text.insert(1, "\n")
    result = verify_ledger(text)
    assert (result.ok, result.broken_line) == (False, 2)


def test_duplicated_report_is_named() -> None:
    entries = build(2)
    again = append_entry(entries[-1], entries[0].report_id, entries[0].canonical, "later")
    result = verify_ledger(lines([*entries, again]))
    assert (result.ok, result.broken_seq) == (False, 3)
    assert "already recorded at seq 1" in result.reason


def test_append_refuses_non_canonical_or_mismatched_reports() -> None:
    canonical = report_json(1)
    report_id = json.loads(canonical)["id"]
    with pytest.raises(InputError):
        append_entry(None, report_id, json.dumps(json.loads(canonical), indent=1), "t")
    with pytest.raises(InputError):
        append_entry(None, "other", canonical, "t")
    with pytest.raises(InputError):
        append_entry(None, report_id, "not json", "t")


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=10_000))
def test_property_any_changed_character_is_detected(index: int, position: int) -> None:
    text = [line.rstrip("\n") for line in lines(build(6))]
    line = text[index]
    position %= len(line)
    replacement = "0" if line[position] != "0" else "1"
    text[index] = line[:position] + replacement + line[position + 1 :]
    result = verify_ledger(text)
    if result.ok:
        # Only recorded_at is outside the hash, by design.
        changed = json.loads(text[index])
        assert changed["recorded_at"] != json.loads(lines(build(6))[index])["recorded_at"]
    else:
        assert result.broken_line is not None and result.broken_line == index + 1
