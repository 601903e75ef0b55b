"""One error body for every API response, translated once from the exception tree.

Shape: ``{"error": {"status": 400, "message": "...", "field": "text" | null}}``.
Bad input is a 4xx with the field named; never a 500 with a traceback.

:func:`error_response` is the only place where a :class:`~pollwatch.errors.PollwatchError`
becomes an HTTP answer: the app's exception handler, the reports' fast path (which answers
before FastAPI's routing) and the security middleware's body cap all call it, so a status,
a message or the field can never differ between the routes that raise the same error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pollwatch.errors import InputError, PollwatchError, RateLimited

__all__ = [
    "error_body",
    "error_headers",
    "error_response",
    "error_responses",
    "install_error_handlers",
]


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape, as a JSON-ready dict."""
    return {"error": {"status": status, "message": message, "field": field}}


def error_headers(exc: PollwatchError) -> dict[str, str] | None:
    """``Retry-After`` for a 429 (RFC 9110, section 10.2.3): clients wait without parsing text."""
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    return None


def error_response(exc: PollwatchError) -> JSONResponse:
    """The HTTP answer to a pollwatch error: its ``status``, its message, the field it names.

    An :class:`InputError` names its field (``column``) and gives its reason without the
    ``column '...':`` prefix of its text; every other error gives its text and no field.
    Headers the error implies (:func:`error_headers`) go with it.
    """
    if isinstance(exc, InputError):
        body = error_body(exc.status, exc.reason, exc.column)
    else:
        body = error_body(exc.status, str(exc))
    return JSONResponse(body, status_code=exc.status, headers=error_headers(exc))


_ERROR_DOC: dict[str, Any] = {
    "description": "error: {'error': {'status', 'message', 'field'}}",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "integer"},
                            "message": {"type": "string"},
                            "field": {"type": ["string", "null"]},
                        },
                    }
                },
            }
        }
    },
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the error shape for these statuses."""
    return {code: _ERROR_DOC for code in codes}


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the one JSON shape."""

    @app.exception_handler(PollwatchError)
    async def _pollwatch_error(request: Request, exc: PollwatchError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or None
        message = str(first.get("msg", "invalid request"))
        return JSONResponse(error_body(422, message, field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers: Mapping[str, str] | None = getattr(exc, "headers", None)
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=headers,
        )
