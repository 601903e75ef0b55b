"""One exception tree for pollwatch, translated once at each boundary.

::

    PollwatchError            base; the CLI prints "Error: <message>" and exits 1
    ├── InputError            bad user input: a file, a row, a column, an option
    │   ├── DataFormatError   a data file that cannot be read as election results
    │   └── CsrfError         a state change riding a session cookie without its token (403)
    ├── NotFoundError         a named thing (dataset, file, election, argument) does not exist
    ├── InviteExpired         an observer invite older than its time to live (HTTP 410)
    ├── ServiceBusy           a bounded resource is in use; retry shortly (HTTP 503)
    ├── MethodNotApplicable   a forensic method cannot run on these data (too few stations, ...)
    ├── RateLimited           too many requests from one token or address; retry later (429)
    │   └── LoginThrottled    too many failed logins for a name or from an address (429)
    └── LimitsUnavailable     the shared store of the limits (database, Redis) does not answer

Library code raises these; interfaces (CLI, web, bot) catch ``PollwatchError`` and
turn it into an exit code, an HTTP status or a plain reply. No traceback for bad input.
"""

from __future__ import annotations

__all__ = [
    "CsrfError",
    "DataFormatError",
    "InputError",
    "InviteExpired",
    "LimitsUnavailable",
    "LoginThrottled",
    "MethodNotApplicable",
    "NotFoundError",
    "PollwatchError",
    "RateLimited",
    "ServiceBusy",
]


class PollwatchError(Exception):
    """Base of every error pollwatch raises on purpose."""

    status: int = 500


class InputError(PollwatchError):
    """Input that pollwatch cannot accept; the message says where and why.

    ``file``, ``row`` (1-based line in the file, header is line 1) and ``column`` are
    kept as attributes so that interfaces can show them separately.
    """

    status = 400

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        self.reason = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class DataFormatError(InputError):
    """A file that is not readable as election results (format, encoding, missing column)."""


class CsrfError(InputError):
    """An unsafe request carrying a session cookie without its CSRF token, or from another
    origin: what a page of another site would send through a logged-in browser."""

    status = 403


class NotFoundError(PollwatchError):
    """A named thing does not exist."""

    status = 404


class InviteExpired(PollwatchError):
    """An invite that was not redeemed within its time to live (HTTP 410 Gone).

    Invites travel by messenger and on paper; one that lies around unused for days is more
    likely to be in the wrong hands than in the observer's, so it stops working.
    """

    status = 410


class ServiceBusy(PollwatchError):
    """A deliberately bounded resource (e.g. photo decoding) is in use; retry (HTTP 503)."""

    status = 503


class MethodNotApplicable(PollwatchError):
    """A forensic method cannot be applied to these data; the message says why."""

    status = 422


class RateLimited(PollwatchError):
    """Too many requests; ``retry_after`` is the whole number of seconds to wait (HTTP 429).

    The web layer sends it as the ``Retry-After`` header, so clients need not parse the message.
    """

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message)


class LoginThrottled(RateLimited):
    """Logins for this name, or from this address, are paused after repeated failures."""


class LimitsUnavailable(PollwatchError):
    """The shared store of the limits (the database or Redis) does not answer (HTTP 503)."""

    status = 503
