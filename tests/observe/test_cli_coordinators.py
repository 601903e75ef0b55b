"""`pollwatch coordinators add/scope/list`: thin commands over the store, on both databases."""

from __future__ import annotations

import json

import pytest

from pollwatch.cli import main
from pollwatch.observe.permissions import Scope
from pollwatch.store import create_election, import_stations, list_audit, open_store


@pytest.fixture()
def db(cli_db: str) -> str:
    engine = open_store(cli_db)
    create_election(engine, "e1")
    import_stations(engine, "e1", [{"station": "1", "country": "RS", "region": "Beograd"}])
    engine.dispose()
    return cli_db


def run(
    args: list[str], capsys: pytest.CaptureFixture[str], stdin: str = ""
) -> tuple[int, str, str]:
    import io
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(args)
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def test_add_scope_list_and_remove(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    add = ["coordinators", "add", "mila", "--role", "viewer", "--password-stdin"]
    assert run(add, capsys, "a long passphrase\n")[:2] == (0, "added viewer mila\n")
    code, out, _ = run(
        ["coordinators", "scope", "mila", "--election", "e1", "--country", "RS"], capsys
    )
    assert (code, out) == (0, "added scope e1/RS of mila\n")
    code, out, _ = run(["coordinators", "list", "--json"], capsys)
    people = json.loads(out)
    assert people == [
        {"name": "mila", "role": "viewer", "scopes": [Scope("e1", "RS").to_dict()], "sessions": 0}
    ]
    code, out, _ = run(["coordinators", "list"], capsys)
    assert "mila" in out and "e1/RS" in out
    code, out, _ = run(
        ["coordinators", "scope", "mila", "--election", "e1", "--country", "RS", "--remove"], capsys
    )
    assert (code, out) == (0, "removed scope e1/RS of mila\n")
    engine = open_store(db)
    actions = [a["action"] for a in list_audit(engine) if a["actor"] == "cli"]
    engine.dispose()
    assert actions[:2] == ["coordinators.scope.remove", "coordinators.scope.add"]


def test_scope_errors_are_one_line(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(["coordinators", "add", "mila", "--password-stdin"], capsys, "a long passphrase\n")
    code, _, err = run(
        ["coordinators", "scope", "mila", "--election", "e1", "--region", "Niš"], capsys
    )
    assert code == 1 and err.startswith("Error: ") and "known: Beograd" in err
    assert "Traceback" not in err
    code, _, err = run(["coordinators", "scope", "nobody", "--election", "e1"], capsys)
    assert code == 1 and "no coordinator 'nobody'" in err
    code, _, err = run(
        ["coordinators", "add", "x", "--role", "superuser", "--password-stdin"],
        capsys,
        "a long passphrase\n",
    )
    assert code == 1 and "admin, coordinator, viewer" in err
