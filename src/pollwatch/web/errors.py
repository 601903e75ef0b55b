"""One error body for every API response, translated once from the exception tree.

Shape: ``{"error": {"status": 400, "message": "...", "field": "text" | null}}``.
Bad input is a 4xx with the field named; never a 500 with a traceback.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pollwatch.errors import InputError, PollwatchError, RateLimited

__all__ = ["error_body", "error_headers", "install_error_handlers"]


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "message": message, "field": field}}


def error_headers(exc: PollwatchError) -> dict[str, str] | None:
    """``Retry-After`` for a 429 (RFC 9110, section 10.2.3): clients wait without parsing text."""
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the one JSON shape."""

    @app.exception_handler(PollwatchError)
    async def _pollwatch_error(request: Request, exc: PollwatchError) -> JSONResponse:
        field = exc.column if isinstance(exc, InputError) else None
        message = exc.reason if isinstance(exc, InputError) else str(exc)
        return JSONResponse(
            error_body(exc.status, message, field),
            status_code=exc.status,
            headers=error_headers(exc),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or None
        message = str(first.get("msg", "invalid request"))
        return JSONResponse(error_body(422, message, field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
