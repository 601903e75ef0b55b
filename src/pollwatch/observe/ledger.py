"""The tamper-evident ledger: every accepted report, hash-chained, verifiable offline.

Each accepted report is appended as one JSON line::

    {"hash": "…", "prev_hash": "…", "recorded_at": "2024-03-17T07:00:01Z",
     "report": {…the report's canonical JSON…}, "report_id": "…", "seq": 1}

and each entry's hash is

    hash = SHA-256( prev_hash + "\\n" + str(seq) + "\\n" + canonical_json(report) )

over UTF-8 bytes, hex-encoded, where ``prev_hash`` is the previous entry's hash (the first
entry's is :data:`GENESIS`, 64 zeros) and ``seq`` counts from 1 without gaps. Changing,
inserting, removing or reordering any entry changes every later hash, so whoever holds a
published head hash (shown with its time on the public page) can check that an exported
ledger is the one the service had — the construction of a hash chain (Haber & Stornetta,
"How to time-stamp a digital document", J. Cryptology 3(2), 1991) and of Certificate
Transparency's logs (RFC 6962), without the Merkle tree: a chain suffices because verifiers
read the whole ledger.

``recorded_at`` (the server's clock) is not covered by the hash: it is information for
readers, not evidence; the observer's own ``observed_at`` is inside the report and covered.

Limits. A chain proves order and integrity, not completeness: a ledger cut short after its
last entry verifies, unless it is compared with a head hash published earlier (pass
``expected_head``). Anyone can re-check the file without pollwatch: the format above is all
that is needed (``docs/observe.md`` has a ten-line script).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pollwatch.errors import InputError

__all__ = [
    "GENESIS",
    "LedgerEntry",
    "LedgerVerification",
    "append_entry",
    "canonical_dumps",
    "entry_hash",
    "verify_ledger",
]

GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS = ("hash", "prev_hash", "recorded_at", "report", "report_id", "seq")


def canonical_dumps(value: Any) -> str:
    """JSON with sorted keys, no whitespace and UTF-8 characters kept (the ledger's canon).

    For a report this is exactly :func:`pollwatch.observe.reports.canonical_json`.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, seq: int, canonical: str) -> str:
    """SHA-256 (hex) of ``prev_hash``, ``seq`` and the report's canonical JSON.

    The bytes hashed are ``f"{prev_hash}\\n{seq}\\n{canonical}"`` in UTF-8; the newlines keep
    the three parts from running into each other (no two inputs give the same bytes, since a
    hash has fixed length and ``seq`` has no newline).

    Examples
    --------
    >>> import hashlib
    >>> data = "0" * 64 + "\\n1\\n" + '{"id":"x"}'
    >>> entry_hash(GENESIS, 1, '{"id":"x"}') == hashlib.sha256(data.encode()).hexdigest()
    True
    """
    data = f"{prev_hash}\n{seq}\n{canonical}".encode()
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One line of the ledger.

    Attributes
    ----------
    seq:
        Position in the chain, from 1.
    report_id:
        The report's id (the same as ``report["id"]``).
    prev_hash:
        The previous entry's ``hash`` (:data:`GENESIS` for the first).
    hash:
        :func:`entry_hash` of ``prev_hash``, ``seq`` and the canonical report.
    recorded_at:
        When the service accepted the report (ISO-8601 UTC); not covered by the hash.
    report:
        The report as decoded from its canonical JSON.
    """

    seq: int
    report_id: str
    prev_hash: str
    hash: str
    recorded_at: str
    report: dict[str, Any]

    @property
    def canonical(self) -> str:
        """The report's canonical JSON, as hashed."""
        return canonical_dumps(self.report)

    def expected_hash(self) -> str:
        """The hash this entry should carry, recomputed from its content."""
        return entry_hash(self.prev_hash, self.seq, self.canonical)

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        return {
            "hash": self.hash,
            "prev_hash": self.prev_hash,
            "recorded_at": self.recorded_at,
            "report": self.report,
            "report_id": self.report_id,
            "seq": self.seq,
        }

    def to_json_line(self) -> str:
        """One line of the exported ledger (no trailing newline)."""
        return canonical_dumps(self.to_dict())

    @classmethod
    def from_json_line(cls, line: str) -> LedgerEntry:
        """Read one ledger line; :class:`InputError` names what is wrong with it.

        Only the shape is checked here; whether the hashes chain is :func:`verify_ledger`'s
        job.
        """
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise InputError(f"not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise InputError("a ledger line must be a JSON object")
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise InputError(f"missing field(s): {', '.join(missing)}", column=missing[0])
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise InputError(f"unknown field(s): {', '.join(unknown)}", column=unknown[0])
        seq = data["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise InputError(f"'seq' must be a positive integer; got {seq!r}", column="seq")
        for name in ("hash", "prev_hash"):
            if not isinstance(data[name], str) or not _HEX64.fullmatch(data[name]):
                raise InputError(f"'{name}' must be 64 lowercase hex digits", column=name)
        for name in ("report_id", "recorded_at"):
            if not isinstance(data[name], str):
                raise InputError(f"'{name}' must be a string", column=name)
        if not isinstance(data["report"], dict):
            raise InputError("'report' must be a JSON object", column="report")
        if data["report"].get("id") != data["report_id"]:
            raise InputError("'report_id' differs from the report's own id", column="report_id")
        return cls(
            seq=seq,
            report_id=data["report_id"],
            prev_hash=data["prev_hash"],
            hash=data["hash"],
            recorded_at=data["recorded_at"],
            report=data["report"],
        )


def append_entry(
    prev: LedgerEntry | None, report_id: str, canonical: str, recorded_at: str
) -> LedgerEntry:
    """The entry that follows ``prev`` (or the first entry, when ``prev`` is None).

    Parameters
    ----------
    prev:
        The current head of the chain, or None for an empty ledger.
    report_id:
        The report's id; must equal the ``id`` inside ``canonical``.
    canonical:
        The report's canonical JSON (:func:`pollwatch.observe.reports.canonical_json`).
    recorded_at:
        When the service accepted it (ISO-8601 UTC).

    Raises
    ------
    InputError
        If ``canonical`` is not canonical JSON of an object with that id: a verifier
        recomputes the hash from the decoded report, so anything else could never verify.
    """
    try:
        report = json.loads(canonical)
    except ValueError:
        raise InputError("the report is not valid JSON", column="report") from None
    if not isinstance(report, dict) or canonical_dumps(report) != canonical:
        raise InputError("the report is not in canonical JSON form", column="report")
    if report.get("id") != report_id:
        raise InputError("'report_id' differs from the report's own id", column="report_id")
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS if prev is None else prev.hash
    return LedgerEntry(
        seq=seq,
        report_id=report_id,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, seq, canonical),
        recorded_at=recorded_at,
        report=report,
    )


@dataclass(frozen=True)
class LedgerVerification:
    """The outcome of :func:`verify_ledger`.

    Attributes
    ----------
    ok:
        True when every line is a well-formed entry chained to the one before, and the chain
        contains ``expected_head`` when one was given.
    entries:
        Entries verified before the first broken one (all of them when ``ok``).
    head_hash:
        Hash of the last verified entry (:data:`GENESIS` for an empty ledger).
    head_seq:
        Its ``seq`` (0 for an empty ledger).
    broken_line:
        1-based line number of the first broken entry, or None.
    broken_seq:
        Its ``seq`` as written, when it could be read, else None.
    reason:
        Why it is broken ("" when ``ok``).
    """

    ok: bool
    entries: int
    head_hash: str
    head_seq: int
    broken_line: int | None = None
    broken_seq: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (for ``pollwatch ledger verify --json`` and the API)."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "head_seq": self.head_seq,
            "broken_line": self.broken_line,
            "broken_seq": self.broken_seq,
            "reason": self.reason,
        }

    def describe(self) -> str:
        """One line for people: what was verified, or where and why the chain breaks."""
        if self.ok:
            return f"ledger OK: {self.entries} entries, head {self.head_hash} (seq {self.head_seq})"
        where = f"line {self.broken_line}"
        if self.broken_seq is not None:
            where += f" (seq {self.broken_seq})"
        return f"ledger BROKEN at {where}: {self.reason}; {self.entries} entries verified before"


def _raw_seq(line: str) -> int | None:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    seq = data.get("seq") if isinstance(data, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def verify_ledger(lines: Iterable[str], *, expected_head: str | None = None) -> LedgerVerification:
    """Check a ledger line by line and name the first broken entry.

    Parameters
    ----------
    lines:
        The JSON lines of an exported ledger (e.g. an open file); line endings are ignored
        and blank lines are allowed only at the end.
    expected_head:
        A head hash published earlier (public page, a newspaper, a notary). The ledger must
        contain an entry with that hash (it may have grown since); without it, a ledger cut
        short after its last entry cannot be told from a complete one.

    Returns
    -------
    LedgerVerification
        ``ok``, how many entries verified, the head, and for a broken ledger the first
        broken line, its ``seq`` and the reason: not valid JSON, a malformed entry, a seq gap
        (an entry removed, inserted or moved), a prev-hash mismatch (an entry replaced
        together with its hash), a hash mismatch (content changed), a report recorded twice,
        or a head different from ``expected_head``.
    """
    head_hash, head_seq, entries = GENESIS, 0, 0
    seen: dict[str, int] = {}
    head_found = expected_head is None or expected_head == GENESIS
    blank_at: int | None = None

    def broken(line_no: int, reason: str, seq: int | None) -> LedgerVerification:
        return LedgerVerification(
            ok=False,
            entries=entries,
            head_hash=head_hash,
            head_seq=head_seq,
            broken_line=line_no,
            broken_seq=seq,
            reason=reason,
        )

    for line_no, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            blank_at = line_no if blank_at is None else blank_at
            continue
        if blank_at is not None:
            return broken(blank_at, "blank line inside the ledger", None)
        try:
            entry = LedgerEntry.from_json_line(line)
        except InputError as error:
            return broken(line_no, f"malformed entry: {error}", _raw_seq(line))
        expected_seq = head_seq + 1
        if entry.seq != expected_seq:
            return broken(
                line_no,
                f"seq gap: expected seq {expected_seq}, found {entry.seq} "
                "(an entry was removed, inserted or moved)",
                entry.seq,
            )
        if entry.prev_hash != head_hash:
            return broken(
                line_no,
                "prev_hash mismatch: it is not the hash of the entry before "
                "(an earlier entry was replaced)",
                entry.seq,
            )
        if entry.expected_hash() != entry.hash:
            return broken(
                line_no, "hash mismatch: the entry's content was changed after hashing", entry.seq
            )
        if entry.report_id in seen:
            return broken(
                line_no,
                f"report {entry.report_id} was already recorded at seq {seen[entry.report_id]}",
                entry.seq,
            )
        seen[entry.report_id] = entry.seq
        head_found = head_found or entry.hash == expected_head
        head_hash, head_seq, entries = entry.hash, entry.seq, entries + 1
    if not head_found:
        return LedgerVerification(
            ok=False,
            entries=entries,
            head_hash=head_hash,
            head_seq=head_seq,
            broken_line=None,
            broken_seq=None,
            reason=(
                f"the published head {expected_head} is not in the ledger (which ends at seq "
                f"{head_seq}): entries up to it are missing or were changed"
            ),
        )
    return LedgerVerification(ok=True, entries=entries, head_hash=head_hash, head_seq=head_seq)
