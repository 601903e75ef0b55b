"""The tamper-evident ledger: every accepted report, hash-chained, verifiable offline.

Each accepted report is appended as one JSON line. Two formats exist; a chain may switch
from version 1 to version 2 at one point (a ledger begun before the upgrade), never back.

**Version 2** (every entry written now)::

    {"v": 2, "seq": 7, "report_id": "…", "prev_hash": "…", "hash": "…",
     "recorded_at": "2024-03-17T07:00:01Z",
     "report": {…the fields shown…}, "salts": {…one salt per shown field…},
     "redacted": {…commitment of each withheld field…}}

Every top-level field ``f`` of the report (``id``, ``station``, ``text``, …) has a
*commitment* ::

    commitment(f) = SHA-256( salt(f) || UTF-8(canonical_json(value(f))) )

where ``salt(f)`` is 16 random bytes (hex in the file) kept by the service for each entry,
and the entry's hash is ::

    hash = SHA-256( "pollwatch-ledger-v2\\n" + prev_hash + "\\n" + str(seq) + "\\n"
                    + recorded_at + "\\n" + canonical_json({f: commitment(f) for every f}) )

over UTF-8, hex-encoded. A verifier recomputes the commitment of each shown field from its
value and salt, takes the commitments of withheld fields from ``redacted``, and checks the
hash. So an export may withhold a field (an incident's text, under the publication policy of
:mod:`pollwatch.observe.publication`) and still verify against the head hashes published
during the day; its salt stays on the server, so the withheld text cannot be guessed by
hashing candidates (a bare hash of a short text could be: the salt is what makes the
commitment *hiding*, Halevi & Micali's construction of commitments from hash functions,
CRYPTO '96). When the field is revealed later, its text and salt are checked against the
commitment already in the chain (:func:`check_reveal`): the service cannot reveal another
text than the one it committed to (*binding*, by SHA-256's collision resistance).
``recorded_at`` (the server's clock) is covered by the hash; the report's ``id`` is never
withheld (it is the entry's ``report_id``).

**Version 1** (entries written before version 2; still verified by the same rules)::

    {"hash": "…", "prev_hash": "…", "recorded_at": "2024-03-17T07:00:01Z",
     "report": {…the report's canonical JSON…}, "report_id": "…", "seq": 1}

    hash = SHA-256( prev_hash + "\\n" + str(seq) + "\\n" + canonical_json(report) )

A version-1 hash covers the whole report and not ``recorded_at``, so such an entry can be
published only whole. The two formats' hashed bytes cannot coincide: version 2's begin with
the tag, version 1's with 64 hex digits.

A report entered by a coordinator on an observer's behalf (the hotline) carries one more
top-level field, ``"via": "hotline"`` (:mod:`pollwatch.observe.hotline`): an ordinary field
with its own commitment, so the format and its verification are unchanged.

In both, ``prev_hash`` is the previous entry's hash (the first entry's is :data:`GENESIS`,
64 zeros), ``seq`` counts from 1 without gaps and ``canonical_json`` is :func:`canonical_dumps`
(sorted keys, no whitespace, non-ASCII kept). Changing, inserting, removing or reordering any
entry changes every later hash, so whoever holds a published head hash (shown with its time
on the public page) can check that an exported ledger is the one the service had — the
construction of a hash chain (Haber & Stornetta, "How to time-stamp a digital document",
J. Cryptology 3(2), 1991) and of Certificate Transparency's logs (RFC 6962), without the
Merkle tree: a chain suffices because verifiers read the whole ledger.

Limits. A chain proves order and integrity, not completeness: a ledger cut short after its
last entry verifies, unless it is compared with a head hash published earlier (pass
``expected_head``). A withheld field's commitment proves the field existed and is fixed, not
what it says. Anyone can re-check the file without pollwatch: the format above is all that
is needed (``docs/observe.md`` has a short script).

Examples
--------
>>> first = append_entry(None, "r1", '{"id":"r1","text":"ballot box stuffed"}',
...                      "2024-03-17T07:00:01Z", salts={"id": "00" * 16, "text": "11" * 16})
>>> shown = first.redact(["text"])
>>> "stuffed" in shown.to_json_line(), shown.hash == first.hash
(False, True)
>>> verify_ledger([shown.to_json_line()]).ok
True
>>> check_reveal(shown, "text", "ballot box stuffed", "11" * 16)
True
>>> check_reveal(shown, "text", "nothing happened", "11" * 16)
False
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pollwatch.errors import InputError

__all__ = [
    "FORMAT_VERSION",
    "GENESIS",
    "LedgerEntry",
    "LedgerVerification",
    "append_entry",
    "canonical_dumps",
    "check_reveal",
    "commitment",
    "entry_hash",
    "entry_hash_v2",
    "new_salts",
    "seal_entry",
    "verify_ledger",
]

GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""

FORMAT_VERSION = 2
"""The format the service writes (:func:`append_entry` with salts, :func:`seal_entry`)."""

SALT_BYTES = 16
"""Random bytes per field: 128 bits, beyond any search over candidate texts."""

_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""One encoder for every call: ``json.dumps`` with these options builds a new one each time,
which made hashing a version-2 entry (one call per field) several times slower."""
_V2_TAG = "pollwatch-ledger-v2"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SALT = re.compile(rf"[0-9a-f]{{{2 * SALT_BYTES}}}")
_FIELDS_V1 = ("hash", "prev_hash", "recorded_at", "report", "report_id", "seq")
_FIELDS_V2 = (*_FIELDS_V1, "redacted", "salts", "v")


def canonical_dumps(value: Any) -> str:
    """JSON with sorted keys, no whitespace and UTF-8 characters kept (the ledger's canon).

    For a report this is exactly :func:`pollwatch.observe.reports.canonical_json`.
    """
    return _CANON.encode(value)


def entry_hash(prev_hash: str, seq: int, canonical: str) -> str:
    """Version 1: SHA-256 (hex) of ``prev_hash``, ``seq`` and the report's canonical JSON.

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


def commitment(salt: str, value: Any) -> str:
    """SHA-256 (hex) of the salt's bytes followed by the value's canonical JSON in UTF-8.

    Examples
    --------
    >>> import hashlib
    >>> commitment("00" * 16, "hi") == hashlib.sha256(bytes(16) + b'"hi"').hexdigest()
    True
    """
    return hashlib.sha256(bytes.fromhex(salt) + canonical_dumps(value).encode()).hexdigest()


def entry_hash_v2(
    prev_hash: str, seq: int, recorded_at: str, commitments: Mapping[str, str]
) -> str:
    """Version 2: SHA-256 (hex) of the tag, ``prev_hash``, ``seq``, ``recorded_at`` and the
    canonical JSON of every field's commitment.

    The parts are joined by newlines; ``recorded_at`` must contain none (it is a timestamp),
    so no two inputs give the same bytes.
    """
    if "\n" in recorded_at:
        raise InputError("'recorded_at' must not contain a line break", column="recorded_at")
    data = f"{_V2_TAG}\n{prev_hash}\n{seq}\n{recorded_at}\n{canonical_dumps(dict(commitments))}"
    return hashlib.sha256(data.encode()).hexdigest()


def new_salts(fields: Iterable[str]) -> dict[str, str]:
    """A fresh random salt (hex) per field, from the operating system's secure generator.

    Not seedable on purpose: a predictable salt would let anyone test guesses of a withheld
    text against its commitment. Callers that need fixed salts (tests, examples) pass their
    own to :func:`append_entry`.
    """
    names = list(fields)
    raw = secrets.token_bytes(SALT_BYTES * len(names)).hex()  # one system call for all
    width = 2 * SALT_BYTES
    return {name: raw[i * width : (i + 1) * width] for i, name in enumerate(names)}


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
        The entry's hash (:func:`entry_hash` for version 1, :func:`entry_hash_v2` for 2).
    recorded_at:
        When the service accepted the report (ISO-8601 UTC); covered by the hash in version 2.
    report:
        The report's fields that are shown (all of them in version 1).
    version:
        1 or 2 (the module docstring specifies both).
    salts:
        Version 2: the salt of each shown field.
    redacted:
        Version 2: the commitment of each withheld field.
    """

    seq: int
    report_id: str
    prev_hash: str
    hash: str
    recorded_at: str
    report: dict[str, Any]
    version: int = 1
    salts: dict[str, str] = field(default_factory=dict)
    redacted: dict[str, str] = field(default_factory=dict)

    @property
    def canonical(self) -> str:
        """The shown report's canonical JSON (what a version-1 hash covers)."""
        return canonical_dumps(self.report)

    def commitments(self) -> dict[str, str]:
        """Version 2: every field's commitment, shown fields recomputed from value and salt."""
        shown = {name: commitment(self.salts[name], value) for name, value in self.report.items()}
        return {**shown, **self.redacted}

    def expected_hash(self) -> str:
        """The hash this entry should carry, recomputed from its content."""
        if self.version == 1:
            return entry_hash(self.prev_hash, self.seq, self.canonical)
        return entry_hash_v2(self.prev_hash, self.seq, self.recorded_at, self.commitments())

    def redact(self, fields: Iterable[str]) -> LedgerEntry:
        """The same entry with ``fields`` withheld: value and salt out, commitment in.

        Its hash is unchanged, so it still verifies. Fields the report does not show are
        skipped. Raises :class:`InputError` for a version-1 entry (its hash covers the whole
        report) and for ``id`` (the entry's ``report_id`` shows it anyway).
        """
        names = [name for name in fields if name in self.report]
        if not names:
            return self
        if self.version == 1:
            raise InputError("a version-1 entry can only be published whole", column="report")
        if "id" in names:
            raise InputError("a report's id is never withheld", column="id")
        withheld = {name: commitment(self.salts[name], self.report[name]) for name in names}
        return LedgerEntry(
            seq=self.seq,
            report_id=self.report_id,
            prev_hash=self.prev_hash,
            hash=self.hash,
            recorded_at=self.recorded_at,
            report={k: v for k, v in self.report.items() if k not in withheld},
            version=self.version,
            salts={k: v for k, v in self.salts.items() if k not in withheld},
            redacted={**self.redacted, **withheld},
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict (in its version's shape)."""
        data: dict[str, Any] = {
            "hash": self.hash,
            "prev_hash": self.prev_hash,
            "recorded_at": self.recorded_at,
            "report": self.report,
            "report_id": self.report_id,
            "seq": self.seq,
        }
        if self.version != 1:
            data.update(v=self.version, salts=self.salts, redacted=self.redacted)
        return data

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
        version = data.get("v", 1)
        if "v" in data and (type(version) is not int or version != FORMAT_VERSION):
            raise InputError(f"unsupported ledger format 'v' {version!r}", column="v")
        names = _FIELDS_V1 if version == 1 else _FIELDS_V2
        missing = [name for name in names if name not in data]
        if missing:
            raise InputError(f"missing field(s): {', '.join(missing)}", column=missing[0])
        unknown = sorted(set(data) - set(names))
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
        report = data["report"]
        if not isinstance(report, dict):
            raise InputError("'report' must be a JSON object", column="report")
        if report.get("id") != data["report_id"]:
            raise InputError("'report_id' differs from the report's own id", column="report_id")
        salts: dict[str, str] = {}
        redacted: dict[str, str] = {}
        if version == 2:
            salts = _hex_map(data["salts"], "salts", _SALT, "32 lowercase hex digits")
            redacted = _hex_map(data["redacted"], "redacted", _HEX64, "64 lowercase hex digits")
            if set(salts) != set(report):
                raise InputError("'salts' must name exactly the report's fields", column="salts")
            both = sorted(set(redacted) & set(report))
            if both:
                raise InputError(
                    f"field(s) both shown and withheld: {', '.join(both)}", column="redacted"
                )
            if "\n" in data["recorded_at"]:
                raise InputError(
                    "'recorded_at' must not contain a line break", column="recorded_at"
                )
        return cls(
            seq=seq,
            report_id=data["report_id"],
            prev_hash=data["prev_hash"],
            hash=data["hash"],
            recorded_at=data["recorded_at"],
            report=report,
            version=version,
            salts=salts,
            redacted=redacted,
        )


def _hex_map(value: Any, name: str, pattern: re.Pattern[str], what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InputError(f"'{name}' must be a JSON object", column=name)
    for key, item in value.items():
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise InputError(f"'{name}.{key[:80]}' must be {what}", column=name)
    return dict(value)


def seal_entry(
    prev: LedgerEntry | None, report: dict[str, Any], recorded_at: str, salts: Mapping[str, str]
) -> LedgerEntry:
    """The version-2 entry that follows ``prev``, without :func:`append_entry`'s checks.

    For callers whose ``report`` is the decoded canonical JSON of a validated report (the
    service's batch writer, where the checks would cost as much as the hashing); ``salts``
    must have one salt per field of ``report``.
    """
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS if prev is None else prev.hash
    shown = {name: commitment(salts[name], value) for name, value in report.items()}
    return LedgerEntry(
        seq=seq,
        report_id=str(report["id"]),
        prev_hash=prev_hash,
        hash=entry_hash_v2(prev_hash, seq, recorded_at, shown),
        recorded_at=recorded_at,
        report=report,
        version=2,
        salts=dict(salts),
    )


def append_entry(
    prev: LedgerEntry | None,
    report_id: str,
    canonical: str,
    recorded_at: str,
    *,
    salts: Mapping[str, str] | None = None,
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
    salts:
        One salt (32 hex digits, :func:`new_salts`) per field of the report: a version-2
        entry. Without salts, a version-1 entry (the format of ledgers begun before version
        2), which may not follow a version-2 one.

    Raises
    ------
    InputError
        If ``canonical`` is not canonical JSON of an object with that id (a verifier
        recomputes the hash from the decoded report, so anything else could never verify),
        if the salts do not match the fields, or for a version-1 entry after a version-2 one.
    """
    try:
        report = json.loads(canonical)
    except ValueError:
        raise InputError("the report is not valid JSON", column="report") from None
    if not isinstance(report, dict) or canonical_dumps(report) != canonical:
        raise InputError("the report is not in canonical JSON form", column="report")
    if report.get("id") != report_id:
        raise InputError("'report_id' differs from the report's own id", column="report_id")
    if salts is not None:
        if set(salts) != set(report) or not all(_SALT.fullmatch(s) for s in salts.values()):
            raise InputError(
                "'salts' must give one salt of 32 hex digits per field of the report",
                column="salts",
            )
        return seal_entry(prev, report, recorded_at, salts)
    if prev is not None and prev.version != 1:
        raise InputError("a version-1 entry cannot follow a version-2 entry", column="salts")
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


def check_reveal(entry: LedgerEntry, name: str, value: Any, salt: str) -> bool:
    """Whether a revealed field (its value and salt) is the one ``entry`` committed to.

    ``entry`` is a version-2 entry that withholds ``name`` — verify its chain first
    (:func:`verify_ledger`), so that the commitment itself is the one the head hash covers.
    False when the entry does not withhold that field or the salt is malformed.
    """
    committed = entry.redacted.get(name)
    if committed is None or not isinstance(salt, str) or not _SALT.fullmatch(salt):
        return False
    return commitment(salt, value) == committed


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
    withheld:
        Fields withheld (redacted) in the verified entries, each checked through its
        commitment.
    """

    ok: bool
    entries: int
    head_hash: str
    head_seq: int
    broken_line: int | None = None
    broken_seq: int | None = None
    reason: str = ""
    withheld: int = 0

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
            "withheld": self.withheld,
        }

    def describe(self) -> str:
        """One line for people: what was verified, or where and why the chain breaks."""
        if self.ok:
            hidden = (
                f", {self.withheld} withheld field(s) checked by commitment"
                if self.withheld
                else ""
            )
            return (
                f"ledger OK: {self.entries} entries, head {self.head_hash} "
                f"(seq {self.head_seq}){hidden}"
            )
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
        broken line, its ``seq`` and the reason: not valid JSON, a malformed entry (in
        version 2 also a salt or commitment of the wrong shape), a format downgrade, a seq gap
        (an entry removed, inserted or moved), a prev-hash mismatch (an entry replaced
        together with its hash), a hash mismatch (content, ``recorded_at`` in version 2, or a
        withheld field's commitment changed), a report recorded twice,
        or a head different from ``expected_head``.
    """
    head_hash, head_seq, entries, head_version, withheld = GENESIS, 0, 0, 1, 0
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
        if entry.version < head_version:
            return broken(
                line_no,
                f"version {entry.version} entry after a version {head_version} entry "
                "(a chain may only move to the newer format)",
                entry.seq,
            )
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
                line_no,
                "hash mismatch: the entry's content was changed after hashing"
                if entry.version == 1
                else "hash mismatch: the entry's content, recorded_at or a withheld field's "
                "commitment was changed after hashing",
                entry.seq,
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
        head_version = entry.version
        withheld += len(entry.redacted)
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
    return LedgerVerification(
        ok=True, entries=entries, head_hash=head_hash, head_seq=head_seq, withheld=withheld
    )
