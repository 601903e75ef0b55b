"""The one JSON body reader: malformed, mistyped or unexpected bodies are a 400 naming the
field, in the one error body; a route's documented body is the one it checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import Request
from tests.asyncrun import run_async

from pollwatch.errors import InputError
from pollwatch.web.errors import error_response
from pollwatch.web.json_bodies import ObjectBody, json_object, read_json_object

NOTE = ObjectBody(
    {"note": {"type": "string"}, "public": {"type": "boolean"}},
    ("note",),
)


def _request(body: bytes, content_type: str | None = "application/json") -> Request:
    headers = [] if content_type is None else [(b"content-type", content_type.encode())]
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:  # pragma: no cover - the body is read once
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive)


def _refusal(body: bytes, content_type: str | None = "application/json", **kw: Any) -> Any:
    """The HTTP answer to reading ``body`` as the NOTE body (``kw``: read_json_object's)."""
    with pytest.raises(InputError) as caught:
        if kw:
            run_async(read_json_object(_request(body, content_type), **kw))
        else:
            run_async(NOTE.read(_request(body, content_type)))
    answer = error_response(caught.value)
    return answer.status_code, json.loads(answer.body)["error"]


def test_a_good_body_is_returned_as_is() -> None:
    body = run_async(NOTE.read(_request(b'{"note": "seal missing", "public": false}')))
    assert body == {"note": "seal missing", "public": False}


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (b"", "body", "must be a JSON object"),
        (b"{not json", "body", "not valid JSON"),
        (b"\xff\xfe", "body", "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "body", "not valid JSON"),  # too deep to decode
        (b"[1, 2]", "body", "JSON object with note, public"),
        (b'"note"', "body", "JSON object with note, public"),
        (b'{"public": true}', "note", "'note' is required"),
        (b'{"note": "x", "colour": "red"}', "colour", "unknown field 'colour'"),
        (b'{"note": "x", "' + b"k" * 500 + b'": 1}', "k" * 80, "unknown field"),
    ],
)
def test_bad_bodies_are_a_400_naming_the_field(raw: bytes, field: str, words: str) -> None:
    status, error = _refusal(raw)
    assert status == 400 and error["field"] == field and words in error["message"]
    assert len(error["message"]) <= 400


def test_any_fields_when_none_are_declared_but_still_an_object() -> None:
    read = read_json_object(_request(b'{"update_id": 1, "message": {}}'), None)
    assert run_async(read) == {"update_id": 1, "message": {}}
    status, error = _refusal(b"7", fields=None, expected="a Telegram update")
    assert (status, error["field"], error["message"]) == (
        400,
        "body",
        "the body must be a Telegram update",
    )


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_json_only_refuses_other_media_before_reading(content_type: str | None) -> None:
    status, error = _refusal(b'{"note": "x"}', content_type, fields=("note",), json_only=True)
    assert status == 400 and error["field"] == "Content-Type"
    good = read_json_object(
        _request(b'{"note": "x"}', "Application/JSON; charset=utf-8"), ("note",), json_only=True
    )
    assert run_async(good) == {"note": "x"}


def test_the_documented_body_is_the_checked_one() -> None:
    schema = NOTE.openapi()["requestBody"]["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == ["note", "public"] and schema["required"] == ["note"]
    assert json_object({"note": "x"}, tuple(schema["properties"]), ("note",)) == {"note": "x"}


def test_a_declared_body_can_say_what_it_expects_and_insist_on_json() -> None:
    credentials = ObjectBody(
        {"name": {"type": "string"}}, ("name",), expected="{'name': ...}", json_only=True
    )
    with pytest.raises(InputError) as caught:
        run_async(credentials.read(_request(b'{"name": "x"}', "text/plain")))
    assert caught.value.column == "Content-Type"
    with pytest.raises(InputError) as caught:
        run_async(credentials.read(_request(b"[]")))
    assert caught.value.reason == "the body must be {'name': ...}"
    assert run_async(credentials.read(_request(b'{"name": "x"}'))) == {"name": "x"}
