"""`pollwatch observers revoke` on SQLite and PostgreSQL: one code name, a station, all."""

from __future__ import annotations

import pytest

from pollwatch.cli import main
from pollwatch.store import (
    AuthError,
    create_election,
    create_invites,
    import_stations,
    list_audit,
    observer_for_token,
    open_store,
    redeem_invite,
)


@pytest.fixture()
def db(cli_db: str) -> str:
    engine = open_store(cli_db)
    create_election(engine, "e1", name="E1")
    import_stations(engine, "e1", [{"station": "A"}, {"station": "B"}])
    engine.dispose()
    return cli_db


def _tokens(url: str, *bindings: tuple[str, ...]) -> list[tuple[str, str]]:
    engine = open_store(url)
    try:
        codes = [create_invites(engine, "e1", 1, stations_=b)[0].code for b in bindings]
        joined = [redeem_invite(engine, code) for code in codes]
        return [(r.token, r.observer) for r in joined]
    finally:
        engine.dispose()


def _works(url: str, token: str) -> bool:
    engine = open_store(url)
    try:
        observer_for_token(engine, token)
        return True
    except AuthError:
        return False
    finally:
        engine.dispose()


def test_revoke_by_code_name_station_and_all(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    (one, one_name), (at_b, b_name), (free, _) = _tokens(db, ("A",), ("B",), ())
    assert main(["observers", "revoke", one_name]) == 0
    assert capsys.readouterr().out.strip() == f"revoked 1 observer(s): {one_name}"
    assert not _works(db, one) and _works(db, at_b) and _works(db, free)
    assert main(["observers", "revoke", "--station", "B", "--election", "e1"]) == 0
    assert b_name in capsys.readouterr().out
    assert not _works(db, at_b) and _works(db, free)
    assert main(["observers", "revoke", "--all", "--election", "e1"]) == 0
    assert "revoked 1 observer(s)" in capsys.readouterr().out
    assert not _works(db, free)
    engine = open_store(db)
    try:
        revocations = [a for a in list_audit(engine) if a["action"] == "observers.revoke"]
    finally:
        engine.dispose()
    assert [a["actor"] for a in revocations] == ["cli"] * 3
    assert not any(token in str(revocations) for token in (one, at_b, free))


def test_revoke_needs_exactly_one_choice(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["observers", "revoke", "--all"]) == 1
    assert "--election" in capsys.readouterr().err
    assert main(["observers", "revoke", "--election", "e1"]) == 1
    assert "exactly one" in capsys.readouterr().err
    assert main(["observers", "revoke", "nobody-here-0000"]) == 1
    assert "no observer" in capsys.readouterr().err
