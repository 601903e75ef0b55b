"""Roles, scopes, password resets and sessions in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.permissions import Place, Scope
from pollwatch.store import (
    AuthError,
    add_coordinator,
    add_scope,
    create_coordinator,
    create_election,
    end_sessions,
    import_stations,
    list_audit,
    list_coordinators,
    login,
    remove_scope,
    reset_password,
    session_coordinator,
    set_role,
    station_place,
    station_table,
    visible_stations,
)

PASSWORD = "a long enough password"


@pytest.fixture()
def store(engine: Engine) -> Engine:
    create_election(engine, "e1")
    create_election(engine, "e2")
    import_stations(
        engine,
        "e1",
        [
            {"station": "1", "country": "RS", "region": "Beograd"},
            {"station": "2", "country": "RS", "region": "Niš"},
            {"station": "3", "country": "DE", "region": "Berlin"},
            {"station": "4"},
        ],
    )
    add_coordinator(engine, "root", PASSWORD, role="admin")
    return engine


def test_scopes_reach_the_session_and_narrow_the_visible_stations(store: Engine) -> None:
    who, password = create_coordinator(store, "ana", actor="root")
    assert who.role == "coordinator" and len(password) >= 20
    _, token = login(store, "ana", password)
    assert session_coordinator(store, token).scopes == ()
    add_scope(store, "ana", "e1", country="RS", actor="root")
    add_scope(store, "ana", "e1", country="RS", actor="root")  # again: no duplicate
    ana = session_coordinator(store, token)
    assert ana.scopes == (Scope("e1", "RS"),)
    assert visible_stations(store, ana, "e1") == {"1", "2"}
    add_scope(store, "ana", "e1", country="DE", region="Berlin", actor="root")
    ana = session_coordinator(store, token)
    assert visible_stations(store, ana, "e1") == {"1", "2", "3"}
    add_scope(store, "ana", "e1", actor="root")
    assert visible_stations(store, session_coordinator(store, token), "e1") is None
    remove_scope(store, "ana", "e1", actor="root")
    remove_scope(store, "ana", "e1", country="DE", region="Berlin", actor="root")
    assert session_coordinator(store, token).scopes == (Scope("e1", "RS"),)
    with pytest.raises(NotFoundError):
        remove_scope(store, "ana", "e2", actor="root")
    actions = [a["action"] for a in list_audit(store) if a["target"] == "ana"]
    assert actions.count("coordinators.scope.add") == 3
    assert actions.count("coordinators.scope.remove") == 2


def test_scope_input_is_checked(store: Engine) -> None:
    create_coordinator(store, "ana", actor="root")
    with pytest.raises(InputError, match="known: DE, RS") as err:
        add_scope(store, "ana", "e1", country="rs", actor="root")
    assert err.value.column == "country"
    with pytest.raises(InputError) as err:
        add_scope(store, "ana", "e1", region="x" * 201, actor="root")
    assert err.value.column == "region"
    with pytest.raises(NotFoundError):
        add_scope(store, "ana", "nope", actor="root")
    with pytest.raises(NotFoundError):
        add_scope(store, "nobody", "e1", actor="root")
    with pytest.raises(InputError, match="admin"):
        add_scope(store, "root", "e1", actor="root")


def test_roles_change_but_the_last_admin_stays(store: Engine) -> None:
    create_coordinator(store, "ana", actor="root")
    with pytest.raises(InputError, match="only admin"):
        set_role(store, "root", "viewer", actor="root")
    with pytest.raises(InputError) as err:
        set_role(store, "ana", "superuser", actor="root")
    assert err.value.column == "role"
    set_role(store, "ana", "admin", actor="root")
    set_role(store, "root", "viewer", actor="ana")
    roles = {c["name"]: c["role"] for c in list_coordinators(store)}
    assert roles == {"ana": "admin", "root": "viewer"}
    audit = [a for a in list_audit(store) if a["action"] == "coordinators.role"]
    assert audit[0]["actor"] == "ana" and audit[0]["detail"] == {"from": "admin", "to": "viewer"}


def test_password_reset_ends_sessions_and_old_password(store: Engine) -> None:
    _, first = create_coordinator(store, "ana", actor="root")
    _, token = login(store, "ana", first)
    login(store, "ana", first)
    assert [c["sessions"] for c in list_coordinators(store) if c["name"] == "ana"] == [2]
    second = reset_password(store, "ana", actor="root")
    assert second != first
    with pytest.raises(AuthError):
        session_coordinator(store, token)
    with pytest.raises(AuthError):
        login(store, "ana", first)
    _, token = login(store, "ana", second)
    assert end_sessions(store, "ana", actor="root") == 1
    with pytest.raises(AuthError):
        session_coordinator(store, token)
    entries = [a for a in list_audit(store) if a["target"] == "ana"]
    assert {"coordinators.password.reset", "coordinators.sessions.end"} <= {
        a["action"] for a in entries
    }
    assert all(second not in str(a["detail"]) for a in entries)  # never in the audit log


def test_station_place_and_region_in_the_registry(store: Engine) -> None:
    assert station_place(store, "e1", "2") == Place("2", "RS", "Niš")
    assert station_place(store, "e1", "404") == Place("404")
    table = station_table(store, "e1")
    assert list(table["region"].fillna("-")) == ["Beograd", "Niš", "Berlin", "-"]


def test_upgrading_keeps_existing_coordinators_in_their_elections(db_url: str) -> None:
    """Migration 0005 gives coordinators of an older database a scope on every election."""
    from alembic import command
    from sqlalchemy import insert

    from pollwatch.store import make_engine, upgrade_database, write_transaction
    from pollwatch.store._util import utcnow
    from pollwatch.store.migrate import _config
    from pollwatch.store.tables import coordinators, elections

    engine = make_engine(db_url)
    try:
        cfg = _config()
        with write_transaction(engine) as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
        with write_transaction(engine) as conn:
            for election in ("old-1", "old-2"):
                conn.execute(
                    insert(elections).values(id=election, name=election, created_at=utcnow())
                )
            for name, role in (("ola", "coordinator"), ("boss", "admin")):
                conn.execute(
                    insert(coordinators).values(
                        name=name, password_hash="x", role=role, created_at=utcnow()
                    )
                )
        upgrade_database(engine)
        people = {c["name"]: c["scopes"] for c in list_coordinators(engine)}
        assert people == {
            "boss": [],
            "ola": [Scope("old-1").to_dict(), Scope("old-2").to_dict()],
        }
    finally:
        engine.dispose()
