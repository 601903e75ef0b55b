"""The hash-chained ledger: honest ledgers (versions 1 and 2, redacted or not) verify, every
kind of tampering is named with its line, a revealed field is checked against its commitment."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollwatch.errors import InputError
from pollwatch.observe.ledger import (
    GENESIS,
    LedgerEntry,
    append_entry,
    canonical_dumps,
    check_reveal,
    commitment,
    entry_hash,
    entry_hash_v2,
    new_salts,
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


# --- format version 2: salted commitments, recorded_at covered, redaction -------------------


def salts_for(canonical: str, i: int) -> dict[str, str]:
    """Fixed salts (tests only; the service draws them with new_salts)."""
    return {name: f"{i:02x}{k:02x}" * 8 for k, name in enumerate(sorted(json.loads(canonical)))}


def build_v2(n: int, *, after: list[LedgerEntry] | None = None) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = list(after or [])
    start = len(entries) + 1
    for i in range(start, start + n):
        canonical = report_json(i)
        prev = entries[-1] if entries else None
        entries.append(
            append_entry(
                prev,
                json.loads(canonical)["id"],
                canonical,
                f"2024-03-17T09:{i:02d}:00Z",
                salts=salts_for(canonical, i),
            )
        )
    return entries


def test_v2_hash_is_sha256_of_the_documented_bytes() -> None:
    entry = build_v2(1)[0]
    fields = {
        name: hashlib.sha256(
            bytes.fromhex(entry.salts[name]) + canonical_dumps(value).encode()
        ).hexdigest()
        for name, value in entry.report.items()
    }
    data = f"pollwatch-ledger-v2\n{GENESIS}\n1\n{entry.recorded_at}\n" + json.dumps(
        fields, sort_keys=True, separators=(",", ":")
    )
    assert entry.hash == hashlib.sha256(data.encode()).hexdigest()
    assert entry.hash == entry_hash_v2(GENESIS, 1, entry.recorded_at, fields)
    assert fields["text"] == commitment(entry.salts["text"], "случай 1")


def test_v2_ledger_verifies_and_round_trips() -> None:
    entries = build_v2(5)
    assert all(e.version == 2 for e in entries)
    for entry in entries:
        assert LedgerEntry.from_json_line(entry.to_json_line()) == entry
    result = verify_ledger(lines(entries), expected_head=entries[2].hash)
    assert result.ok and result.entries == 5 and result.withheld == 0


def test_old_v1_ledger_still_verifies_and_may_switch_to_v2() -> None:
    old = build(3)
    assert '"v"' not in lines(old)[0], "version-1 lines keep their original shape"
    mixed = build_v2(3, after=old)
    assert [e.version for e in mixed] == [1, 1, 1, 2, 2, 2]
    result = verify_ledger(lines(mixed), expected_head=old[-1].hash)
    assert result.ok and result.entries == 6 and result.head_hash == mixed[-1].hash


def test_a_v1_entry_after_v2_is_a_downgrade() -> None:
    entries = build_v2(2)
    with pytest.raises(InputError, match="version-1 entry cannot follow"):
        append_entry(entries[-1], "x", '{"id":"x"}', "t")
    forged = LedgerEntry(3, "x", entries[-1].hash, entry_hash(entries[-1].hash, 3, '{"id":"x"}'),
                         "t", {"id": "x"})  # fmt: skip
    result = verify_ledger(lines([*entries, forged]))
    assert (result.ok, result.broken_line, result.broken_seq) == (False, 3, 3)
    assert "version 1 entry after a version 2" in result.reason


def test_redacted_v2_ledger_verifies_and_hides_the_text() -> None:
    entries = build_v2(4)
    shown = [e.redact(["text"]) if e.seq % 2 else e for e in entries]
    text = lines(shown)
    assert "случай 1" not in text[0] and "случай 2" in text[1]
    assert entries[0].salts["text"] not in text[0], "a withheld field's salt stays private"
    result = verify_ledger(text, expected_head=entries[-1].hash)
    assert result.ok and result.withheld == 2 and result.head_hash == entries[-1].hash
    assert "2 withheld field(s)" in result.describe()


def test_changed_recorded_at_is_caught_in_v2() -> None:
    text = lines(build_v2(4))
    data = json.loads(text[2])
    data["recorded_at"] = "2024-03-17T23:59:00Z"
    text[2] = json.dumps(data) + "\n"
    result = verify_ledger(text)
    assert (result.ok, result.broken_line, result.broken_seq, result.entries) == (False, 3, 3, 2)
    assert "hash mismatch" in result.reason and "recorded_at" in result.reason


def test_changed_commitment_of_a_withheld_field_is_caught() -> None:
    entries = [e.redact(["text"]) for e in build_v2(4)]
    data = entries[1].to_dict()
    data["redacted"]["text"] = commitment("ab" * 16, "nothing happened")
    text = lines(entries)
    text[1] = json.dumps(data) + "\n"
    result = verify_ledger(text)
    assert (result.ok, result.broken_line, result.broken_seq) == (False, 2, 2)
    assert "commitment" in result.reason


def test_changed_shown_field_of_a_redacted_entry_is_caught() -> None:
    entries = [e.redact(["text"]) for e in build_v2(3)]
    data = entries[2].to_dict()
    data["report"]["category"] = "other"
    result = verify_ledger([*lines(entries[:2]), json.dumps(data)])
    assert (result.ok, result.broken_line) == (False, 3)


def test_a_revealed_field_is_checked_against_its_commitment() -> None:
    full = build_v2(3)
    published = [e.redact(["text"]) for e in full]
    assert verify_ledger(lines(published)).ok
    entry = LedgerEntry.from_json_line(lines(published)[1])
    salt = full[1].salts["text"]
    assert check_reveal(entry, "text", "случай 2", salt)
    assert not check_reveal(entry, "text", "случай 3", salt), "another text"
    assert not check_reveal(entry, "text", "случай 2", "00" * 16), "another salt"
    assert not check_reveal(entry, "category", "pressure", salt), "not withheld"
    assert not check_reveal(entry, "text", "случай 2", "zz"), "malformed salt"
    again = entry.redact(["text"])  # redacting twice changes nothing
    assert again == entry


def test_redaction_rules() -> None:
    v1 = build(1)[0]
    with pytest.raises(InputError, match="only be published whole"):
        v1.redact(["text"])
    assert v1.redact(["not-a-field"]) == v1
    with pytest.raises(InputError, match="never withheld"):
        build_v2(1)[0].redact(["id"])


def test_malformed_v2_fields_are_named() -> None:
    good = build_v2(1)[0].redact(["text"]).to_dict()
    cases: list[tuple[str, Any, str]] = [
        ("v", 3, "unsupported ledger format"),
        ("v", 2.0, "unsupported ledger format"),
        ("v", 1, "unsupported ledger format"),
        ("salts", [], "'salts'"),
        ("salts", {**good["salts"], "id": "XYZ"}, "'salts.id'"),
        ("salts", {k: v for k, v in good["salts"].items() if k != "id"}, "exactly"),
        ("redacted", {"text": "short"}, "'redacted.text'"),
        ("redacted", {**good["redacted"], "id": "0" * 64}, "both shown and withheld"),
        ("recorded_at", "a\nb", "line break"),
    ]
    for field, value, reason in cases:
        bad = dict(good, **{field: value})
        result = verify_ledger([json.dumps(bad)])
        assert not result.ok and result.broken_line == 1, field
        assert reason in result.reason, (field, result.reason)
    missing = {k: v for k, v in good.items() if k != "salts"}
    assert "missing field(s): salts" in verify_ledger([json.dumps(missing)]).reason


def test_append_checks_the_salts() -> None:
    canonical = report_json(1)
    report_id = json.loads(canonical)["id"]
    salts = salts_for(canonical, 1)
    for bad in ({**salts, "extra": "00" * 16}, {**salts, "text": "not hex"}):
        with pytest.raises(InputError, match="salts"):
            append_entry(None, report_id, canonical, "t", salts=bad)
    fresh = new_salts(["a", "b"])
    assert set(fresh) == {"a", "b"} and all(len(s) == 32 for s in fresh.values())
    assert new_salts(["a"]) != new_salts(["a"]), "salts are random"


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=10_000))
def test_property_any_changed_character_of_a_redacted_v2_ledger_is_detected(
    index: int, position: int
) -> None:
    original = [e.redact(["text"]) if e.seq % 2 else e for e in build_v2(6)]
    text = [line.rstrip("\n") for line in lines(original)]
    line = text[index]
    position %= len(line)
    replacement = "0" if line[position] != "0" else "1"
    text[index] = line[:position] + replacement + line[position + 1 :]
    result = verify_ledger(text)
    assert not result.ok, "version 2 covers every character, recorded_at included"
    assert result.broken_line == index + 1


def test_the_script_in_the_docs_verifies_a_redacted_mixed_ledger(tmp_path: Path) -> None:
    """docs/observe.md's verifier without pollwatch agrees with verify_ledger."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "observe.md").read_text("utf-8")
    start = docs.index("```python\nimport hashlib, json, sys\n\ndef canon")
    script = tmp_path / "verify.py"
    script.write_text(docs[start + len("```python\n") : docs.index("```", start + 10)], "utf-8")
    entries = build_v2(3, after=build(2))
    shown = [e.redact(["text"]) if e.version == 2 and e.seq % 2 else e for e in entries]
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(lines(shown)), "utf-8")
    ok = subprocess.run([sys.executable, str(script), str(ledger)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.split() == ["ok", "5", entries[-1].hash]
    text = lines(shown)
    text[3] = text[3].replace("2024-03-17T09:04:00Z", "2024-03-17T09:04:01Z")
    ledger.write_text("".join(text), "utf-8")
    bad = subprocess.run([sys.executable, str(script), str(ledger)], capture_output=True, text=True)
    assert bad.returncode == 1 and "broken at line 4" in bad.stderr
