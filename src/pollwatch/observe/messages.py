"""Messages from coordinators to observers who left no contact details: who a message reaches.

Observers are known by code name only (no phone, no e-mail), so a message is addressed by
*targets* and reaches whoever matches one of them when their phone (or, later, the bot)
asks: every observer of the election (``all``), the observers of chosen stations
(``station``) or countries (``country``, of the stations in the registry), or one code name
(``observer``). An observer bound to stations matches by those; an observer free to report
anywhere matches station and country targets by the station the phone says it is at.

Read receipts are counts, never identities: a phone says "delivered" and "read" once per
message and the store adds one to a counter (:mod:`pollwatch.store.messages`), so nobody can
list who read what.

>>> targets = parse_targets(["station:8001", "country:RS"])
>>> reaches(targets, code_name="owl-7", stations=["8002"], countries=["RS"])
True
>>> reaches(targets, code_name="owl-7", stations=["8002"], countries=["DE"])
False
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from pollwatch.errors import InputError
from pollwatch.observe.ids import check_station_id

__all__ = [
    "CODE_NAME_LIMIT",
    "MAX_TARGETS",
    "MESSAGE_TEXT_LIMIT",
    "TARGET_KINDS",
    "Target",
    "check_message_text",
    "parse_targets",
    "reaches",
]

TARGET_KINDS: tuple[str, ...] = ("all", "station", "country", "observer")
"""Whom a message can be addressed to."""

MESSAGE_TEXT_LIMIT = 2_000
"""Longest message, in characters (a phone screen or two; Telegram allows 4,096)."""

MAX_TARGETS = 500
"""Most targets of one message (a country's stations can be listed one by one)."""

CODE_NAME_LIMIT = 100
"""Longest code name (the observers table's column)."""


@dataclass(frozen=True, order=True)
class Target:
    """One addressee: ``kind`` of :data:`TARGET_KINDS` and its value (``None`` for all)."""

    kind: str
    value: str | None = None

    def label(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value}"


def check_message_text(text: object) -> str:
    """The message text, stripped; :class:`InputError` naming ``text`` when empty or too long."""
    if not isinstance(text, str):
        raise InputError("'text' must be text", column="text")
    cleaned = text.strip()
    if not cleaned:
        raise InputError("'text' is required", column="text")
    if len(cleaned) > MESSAGE_TEXT_LIMIT:
        raise InputError(
            f"'text' must be at most {MESSAGE_TEXT_LIMIT} characters; got {len(cleaned)}",
            column="text",
        )
    if "\x00" in cleaned:
        raise InputError("'text' must not contain NUL characters", column="text")
    try:
        cleaned.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("'text' is not valid Unicode", column="text") from None
    return cleaned


def _country(value: str) -> str:
    cleaned = value.strip()
    if not 1 <= len(cleaned) <= 100 or any(c in cleaned for c in "\x00\n\r\t"):
        raise InputError(
            f"a country must be 1 to 100 characters; got {value[:40]!r}", column="targets"
        )
    return cleaned


def parse_targets(labels: Iterable[str]) -> tuple[Target, ...]:
    """Targets from labels ``all``, ``station:<id>``, ``country:<name>``, ``observer:<code>``.

    Sorted and without duplicates; ``all`` stands alone (with others it would still mean
    everyone). :class:`InputError` naming ``targets`` for anything else.
    """
    found: set[Target] = set()
    for raw in labels:
        if not isinstance(raw, str):
            raise InputError("targets must be text", column="targets")
        label = raw.strip()
        if not label:
            continue
        kind, sep, value = label.partition(":")
        kind = kind.strip()
        if kind == "all" and not sep:
            found.add(Target("all"))
        elif kind == "station" and sep:
            found.add(Target("station", check_station_id(value.strip(), "targets")))
        elif kind == "country" and sep:
            found.add(Target("country", _country(value)))
        elif kind == "observer" and sep and 1 <= len(value.strip()) <= CODE_NAME_LIMIT:
            found.add(Target("observer", value.strip()))
        else:
            raise InputError(
                "each target must be all, station:<id>, country:<name> or observer:<code name>; "
                f"got {label[:60]!r}",
                column="targets",
            )
    if not found:
        raise InputError("a message needs at least one target", column="targets")
    if len(found) > MAX_TARGETS:
        raise InputError(f"a message has at most {MAX_TARGETS} targets", column="targets")
    if Target("all") in found and len(found) > 1:
        raise InputError("'all' already reaches every observer; send it alone", column="targets")
    return tuple(sorted(found, key=lambda t: (t.kind, t.value or "")))


def reaches(
    targets: Iterable[Target],
    *,
    code_name: str,
    stations: Collection[str],
    countries: Collection[str],
) -> bool:
    """Whether a message with these targets reaches an observer at ``stations`` (the bound
    ones, or the one the phone is at) in ``countries`` (theirs in the registry)."""
    for target in targets:
        if target.kind == "all":
            return True
        if target.kind == "station" and target.value in stations:
            return True
        if target.kind == "country" and target.value in countries:
            return True
        if target.kind == "observer" and target.value == code_name:
            return True
    return False
