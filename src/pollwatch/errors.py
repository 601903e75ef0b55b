"""One exception tree for pollwatch, translated once at each boundary.

::

    PollwatchError            500  base; the CLI prints "Error: <message>" and exits 1
    ├── InputError            400  bad user input: a file, a row, a column, a field, an option
    │   ├── DataFormatError   400  a data file that cannot be read as election results
    │   └── CsrfError         403  a state change riding a session cookie without its token
    ├── AuthError             401  missing, unknown, used or expired credentials
    ├── Forbidden             403  known credentials that do not allow this action
    ├── NotFoundError         404  a named thing (dataset, file, election, argument) does not exist
    ├── ConflictError         409  a report id already stored with a different body
    ├── PVTUnavailable        409  no quick count: no sample drawn yet
    ├── InviteExpired         410  an observer invite older than its time to live
    ├── PayloadTooLarge       413  a request body over the size cap
    ├── MethodNotApplicable   422  a forensic method cannot run on these data (too few stations)
    ├── RateLimited           429  too many requests from one token or address; retry later
    │   └── LoginThrottled    429  too many failed logins for a name or from an address
    ├── ServiceBusy           503  a bounded resource is in use; retry shortly
    └── LimitsUnavailable     503  the shared store of the limits (database, Redis) does not answer

Library code raises these; interfaces (CLI, web, bot) catch ``PollwatchError`` and
turn it into an exit code, an HTTP status or a plain reply. No traceback for bad input.
The number is ``status``, the HTTP status the web layer answers with
(:func:`pollwatch.web.errors.error_response`, the one translation to HTTP).
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConflictError",
    "CsrfError",
    "DataFormatError",
    "Forbidden",
    "InputError",
    "InviteExpired",
    "LimitsUnavailable",
    "LoginThrottled",
    "MethodNotApplicable",
    "NotFoundError",
    "PVTUnavailable",
    "PayloadTooLarge",
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


class AuthError(PollwatchError):
    """Missing, unknown, used or expired credentials (HTTP 401)."""

    status = 401


class Forbidden(PollwatchError):
    """Known credentials that do not allow this action (HTTP 403)."""

    status = 403


class NotFoundError(PollwatchError):
    """A named thing does not exist."""

    status = 404


class ConflictError(PollwatchError):
    """A report id already stored with a different body (HTTP 409)."""

    status = 409


class PVTUnavailable(PollwatchError):
    """No quick count: no sample has been drawn for the election (HTTP 409)."""

    status = 409


class InviteExpired(PollwatchError):
    """An invite that was not redeemed within its time to live (HTTP 410 Gone).

    Invites travel by messenger and on paper; one that lies around unused for days is more
    likely to be in the wrong hands than in the observer's, so it stops working.
    """

    status = 410


class PayloadTooLarge(PollwatchError):
    """A request body larger than the server accepts (HTTP 413); refused before it is read."""

    status = 413


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


class ServiceBusy(PollwatchError):
    """A deliberately bounded resource (e.g. photo decoding) is in use; retry (HTTP 503)."""

    status = 503


class LimitsUnavailable(PollwatchError):
    """The shared store of the limits (the database or Redis) does not answer (HTTP 503)."""

    status = 503
