"""JSON request bodies: read, checked to be an object of known fields, and documented.

One place for what every JSON route does with its body, so that the same mistake gets the
same 4xx everywhere (the one error body, :func:`pollwatch.web.errors.error_response`):

* the size cap is the security middleware's (:class:`pollwatch.web.security.BodyLimits`):
  a larger body is a 413 before it is read, so no route repeats it;
* :func:`read_json_object` reads the body (:func:`pollwatch.web.deps.json_body`: 400 naming
  ``body`` when empty or not JSON), checks it is an object with only the ``fields`` a route
  takes and all it ``requires`` (400 naming the field, :func:`json_object`), and with
  ``json_only`` first insists on ``Content-Type: application/json`` (400 naming
  ``Content-Type``), for a route a cross-site form must not reach (a browser posts
  ``text/plain`` across sites without asking);
* :class:`ObjectBody` declares a route's body once: the OpenAPI ``requestBody``
  (``additionalProperties: false``) and the check are made from the same fields, so the
  documentation says what the check enforces.

The values of the fields are the store's to check (it names the field too); this module
only makes sure no unknown field is silently ignored and no required one is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from pollwatch.errors import InputError
from pollwatch.web.deps import json_body

__all__ = ["ObjectBody", "json_object", "read_json_object", "require_json_media"]


def json_object(
    body: Any,
    fields: tuple[str, ...] | None,
    required: tuple[str, ...] = (),
    *,
    expected: str | None = None,
) -> dict[str, Any]:
    """``body`` if it is a JSON object with only ``fields`` (any when ``None``) and all of
    ``required``; else :class:`InputError` naming ``body``, the unknown or the missing field.

    ``expected`` says what the body should have been ("a Telegram update", …) when it is
    not an object; by default the allowed fields are listed.
    """
    if not isinstance(body, dict):
        if expected is None:
            listed = f" with {', '.join(fields)}" if fields else ""
            expected = f"a JSON object{listed}"
        raise InputError(f"the body must be {expected}", column="body")
    if fields is not None:
        for key in body:
            if key not in fields:
                raise InputError(
                    f"unknown field {str(key)[:80]!r}; allowed: {', '.join(fields)}",
                    column=str(key)[:80],
                )
    for key in required:
        if key not in body:
            raise InputError(f"'{key}' is required", column=key)
    return body


def require_json_media(request: Request) -> None:
    """400 naming ``Content-Type`` unless the request declares ``application/json``."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise InputError(
            "the body must be JSON (Content-Type: application/json)", column="Content-Type"
        )


async def read_json_object(
    request: Request,
    fields: tuple[str, ...] | None,
    required: tuple[str, ...] = (),
    *,
    expected: str | None = None,
    json_only: bool = False,
) -> dict[str, Any]:
    """The request's body as a JSON object checked by :func:`json_object` (after
    :func:`require_json_media` when ``json_only``); 400 naming what is wrong otherwise."""
    if json_only:
        require_json_media(request)
    return json_object(await json_body(request), fields, required, expected=expected)


@dataclass(frozen=True)
class ObjectBody:
    """A route's JSON object body, declared once: its fields' schema for the documentation
    (:meth:`openapi`) and the check of a request against the same fields (:meth:`read`)."""

    properties: Mapping[str, Any]
    """Each field's JSON schema, in the order the error message lists them."""
    required: tuple[str, ...] = ()
    expected: str | None = None
    """What the body should have been, for the message when it is not an object (by
    default the fields are listed: :func:`json_object`)."""
    json_only: bool = False
    """Refuse any ``Content-Type`` but JSON before reading (:func:`require_json_media`):
    for a route a cross-site form must not reach, such as the login."""
    fields: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """The properties' names, made once: a body is checked on every request (the login's)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.properties))

    def openapi(self) -> dict[str, Any]:
        """The route's ``openapi_extra``: an object of these fields only (no others)."""
        return {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": list(self.required),
                            "properties": dict(self.properties),
                        }
                    }
                },
            }
        }

    async def read(self, request: Request) -> dict[str, Any]:
        """The request's body, checked against these fields (:func:`read_json_object`)."""
        return await read_json_object(
            request,
            self.fields,
            self.required,
            expected=self.expected,
            json_only=self.json_only,
        )
