"""Structured logs: one JSON object per line, with nothing that identifies a person.

Why JSON: log collectors (journald, Loki, Elasticsearch) index fields without parsing prose.
Why so little: a server's logs are copied to places the database is not (a hosting
provider's disks, an operator's laptop); observers and coordinators may be in danger. So
pollwatch logs events and error types, never tokens, code names, incident texts, station
ids of reports or client addresses; uvicorn's access log stays off (``pollwatch serve``).
:class:`JsonFormatter` keeps only the record's level, logger, message and the names in
:data:`ALLOWED_EXTRA` given as ``extra=``; an exception is logged by its type only (a
traceback may quote the data it choked on).
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

__all__ = ["ALLOWED_EXTRA", "JsonFormatter", "configure_logging", "logging_config"]

ALLOWED_EXTRA = frozenset({"event", "election", "batch", "seconds", "status", "count"})
"""Extra fields a log call may attach (``extra={...}``); anything else is dropped."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, allowed extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ALLOWED_EXTRA:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(level: str = "WARNING") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` that sends every record to stderr as JSON lines.

    Given to uvicorn as ``log_config`` by ``pollwatch serve``, so that each server process
    (``--workers N`` starts fresh interpreters) applies it itself.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "pollwatch.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(level: str = "WARNING") -> None:
    """Apply :func:`logging_config` in this process."""
    logging.config.dictConfig(logging_config(level))
