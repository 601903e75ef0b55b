"""Opt-in anonymous counts, so curators know which arguments to write next.

Privacy by default: the coach stores nothing. Only when ``POLLWATCH_COACH_STATS=on`` do the
interfaces call :func:`record_ask`, which adds 1 to a counter per outcome in
``$POLLWATCH_HOME/coach-stats.json``:

* ``asked[<argument id>]`` — a confident match;
* ``unsure[<argument id>]`` — the best candidate of an unsure match;
* ``no_match`` — a query that matched nothing.

Never the text, never a time stamp, never a user id. :func:`forget_stats` deletes the file
("forget me"); ``pollwatch coach stats`` and ``pollwatch coach forget`` expose both.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pollwatch.coach.matching import AskResult
from pollwatch.config import Settings
from pollwatch.errors import InputError

__all__ = ["STATS_FILE", "CoachStats", "forget_stats", "read_stats", "record_ask", "stats_path"]

STATS_FILE = "coach-stats.json"


@dataclass(frozen=True)
class CoachStats:
    """Counts only."""

    asked: dict[str, int] = field(default_factory=dict)
    unsure: dict[str, int] = field(default_factory=dict)
    no_match: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (the file's content)."""
        return {"version": 1, "asked": self.asked, "unsure": self.unsure, "no_match": self.no_match}


def stats_path(settings: Settings) -> Path:
    """Where the counts live: ``$POLLWATCH_HOME/coach-stats.json``."""
    return settings.home / STATS_FILE


def _counts(raw: Any, path: Path, key: str) -> dict[str, int]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in raw.items()
    ):
        raise InputError(f"{key!r} must map argument ids to counts", file=str(path))
    return dict(raw)


def read_stats(settings: Settings) -> CoachStats:
    """The stored counts (empty when there is no file)."""
    path = stats_path(settings)
    if not path.exists():
        return CoachStats()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read coach counts: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("coach counts must be a JSON object", file=str(path))
    no_match = data.get("no_match", 0)
    if not isinstance(no_match, int) or no_match < 0:
        raise InputError("'no_match' must be a non-negative integer", file=str(path))
    return CoachStats(
        asked=_counts(data.get("asked", {}), path, "asked"),
        unsure=_counts(data.get("unsure", {}), path, "unsure"),
        no_match=no_match,
    )


def _write(path: Path, stats: CoachStats) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".coach-stats-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(stats.to_dict(), fh, ensure_ascii=False, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record_ask(settings: Settings, result: AskResult) -> bool:
    """Count one query's outcome if the user opted in; returns whether anything was kept."""
    if not settings.coach_stats:
        return False
    stats = read_stats(settings)
    asked, unsure, no_match = dict(stats.asked), dict(stats.unsure), stats.no_match
    if result.status == "confident" and result.matches:
        asked[result.matches[0].id] = asked.get(result.matches[0].id, 0) + 1
    elif result.status == "choose" and result.matches:
        unsure[result.matches[0].id] = unsure.get(result.matches[0].id, 0) + 1
    else:
        no_match += 1
    _write(stats_path(settings), CoachStats(asked, unsure, no_match))
    return True


def forget_stats(settings: Settings) -> bool:
    """Delete the counts file; returns whether there was one."""
    path = stats_path(settings)
    if path.exists():
        path.unlink()
        return True
    return False
