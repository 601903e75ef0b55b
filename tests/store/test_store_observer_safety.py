"""Observer safety in the store, on SQLite and PostgreSQL: replays by other observers, open
data without authors, unique code names, invite expiry and revocation.

Observers may stand at consulates of a hostile state; each test here is a way an observer's
identity or access could leak, and the answer the store must give instead.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from tests.observe.test_ingest_batch import run  # a loop of its own, beside Playwright's
from tests.store.databases import database_url

from pollwatch.errors import InputError, InviteExpired, NotFoundError
from pollwatch.store import (
    AuthError,
    ConflictError,
    Observer,
    create_election,
    create_invites,
    export_ledger_lines,
    export_reports,
    import_stations,
    list_audit,
    observer_for_token,
    redeem_invite,
    reports_to_bytes,
    revoke_observers,
    store_report,
)
from pollwatch.store.ingest import REVOCATION_INTERVAL, ObserverCache
from pollwatch.store.reports import prepare_report, store_prepared
from pollwatch.store.tables import invites, observers

ELECTION = "safety"


@pytest.fixture()
def election(engine: Engine) -> Engine:
    create_election(engine, ELECTION, name="Safety")
    import_stations(engine, ELECTION, [{"station": str(i)} for i in range(1, 6)])
    return engine


def _join(engine: Engine, stations: tuple[str, ...] = ()) -> tuple[str, Observer]:
    code = create_invites(engine, ELECTION, 1, stations_=stations)[0].code
    token = redeem_invite(engine, code).token
    return token, observer_for_token(engine, token)


def _count(station: str = "1", entered: int = 7) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "id": str(uuid.uuid4()),
        "election": ELECTION,
        "station": station,
        "kind": "count",
        "observed_at": now.isoformat(),
        "window_start": (now - timedelta(hours=1)).isoformat(),
        "window_end": now.isoformat(),
        "entered": entered,
    }


# --- replays by another observer ------------------------------------------------------------


def test_another_observers_replay_is_a_conflict_that_names_no_one(election: Engine) -> None:
    _, author = _join(election)
    _, stranger = _join(election)
    body = _count()
    assert store_report(election, body, observer=author).created
    # The ledger is public: anyone can copy an entry's report and send it with their token.
    ledger_body = json.loads(next(export_ledger_lines(election, ELECTION)))["report"]
    with pytest.raises(ConflictError) as refused:
        store_report(election, ledger_body, observer=stranger)
    assert author.code_name not in str(refused.value)
    assert "another report" in str(refused.value)
    with pytest.raises(ConflictError):  # nor may a trusted import claim it
        store_report(election, ledger_body, observer=None)
    retry = store_report(election, ledger_body, observer=author)
    assert not retry.created and retry.report["observer"] == author.code_name


def test_replay_within_one_batch_by_another_observer_is_a_conflict(election: Engine) -> None:
    _, author = _join(election)
    _, stranger = _join(election)
    body = _count(station="2")
    items = [
        prepare_report(body, observer=author),
        prepare_report(body, observer=stranger),
        prepare_report(body, observer=author),
    ]
    first, second, third = store_prepared(election, items)
    assert not isinstance(first, Exception) and first.created
    assert isinstance(second, ConflictError) and author.code_name not in str(second)
    assert not isinstance(third, Exception) and third.report["observer"] == author.code_name


def test_open_data_carry_no_code_names_or_observer_ids(election: Engine) -> None:
    joined = [_join(election, (str(s),)) for s in range(1, 4)]
    for s, (_, who) in enumerate(joined, start=1):
        store_report(election, _count(station=str(s)), observer=who)
    names = [who.code_name for _, who in joined]
    frame = export_reports(election, ELECTION)
    assert len(frame) == 3
    assert not [c for c in frame.columns if "observer" in c or "code" in c]
    csv = reports_to_bytes(frame, "csv").decode()
    parquet = pd.read_parquet(io.BytesIO(reports_to_bytes(frame, "parquet")))
    lines = list(export_ledger_lines(election, ELECTION))
    for name in names:
        assert name not in csv and name not in "".join(lines)
        assert not parquet.isin([name]).any().any()
    for line in lines:
        entry = json.loads(line)
        assert set(entry) == {
            *("seq", "report_id", "prev_hash", "hash", "recorded_at", "report"),
            *("v", "salts", "redacted"),  # ledger format version 2
        }
        assert not [k for k in entry["report"] if "observer" in k]


# --- code names -----------------------------------------------------------------------------


def test_code_names_are_two_words_and_four_digits_and_unique(election: Engine) -> None:
    codes = [i.code for i in create_invites(election, ELECTION, 200)]
    names = [redeem_invite(election, code).observer for code in codes]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z]+-[a-z]+-[1-9]\d{3}", name) for name in names)


def test_a_taken_code_name_is_drawn_again(
    election: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pollwatch.store.people as people

    draws = iter(["calm-otter-1234", "calm-otter-1234", "calm-otter-1234", "keen-wren-5678"])
    monkeypatch.setattr(people, "_code_name", lambda: next(draws))
    first, second = create_invites(election, ELECTION, 2)
    assert redeem_invite(election, first.code).observer == "calm-otter-1234"
    assert redeem_invite(election, second.code).observer == "keen-wren-5678"


def test_the_database_refuses_a_duplicate_code_name(election: Engine) -> None:
    _, who = _join(election)
    row = {
        "election": ELECTION,
        "code_name": who.code_name,
        "token_hash": "0" * 64,
        "created_at": datetime.now(UTC),
        "revoked": False,
    }
    with pytest.raises(IntegrityError), election.begin() as conn:
        conn.execute(insert(observers).values(**row))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_renames_existing_duplicates_deterministically(kind: str, tmp_path: Path) -> None:
    from alembic import command

    from pollwatch.store import make_engine, upgrade_database
    from pollwatch.store.migrate import _config

    with database_url(kind, tmp_path) as url:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                cfg = _config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "0002")
                conn.exec_driver_sql(
                    "INSERT INTO elections (id, name, created_at) "
                    "VALUES ('e1', 'E1', CURRENT_TIMESTAMP), ('e2', 'E2', CURRENT_TIMESTAMP)"
                )
                for n, (election_id, name) in enumerate(
                    [
                        ("e1", "bold-fox-123"),
                        ("e1", "bold-fox-123"),
                        ("e2", "bold-fox-123"),
                        ("e1", "bold-fox-123"),
                        ("e1", "calm-owl-456"),
                    ],
                    start=1,
                ):
                    conn.exec_driver_sql(
                        "INSERT INTO observers (id, election, code_name, token_hash, created_at,"
                        f" revoked) VALUES ({n}, '{election_id}', '{name}', '{n:064d}',"
                        " CURRENT_TIMESTAMP, false)"
                    )
            upgrade_database(engine)
            with engine.connect() as conn:
                names = dict(conn.execute(select(observers.c.id, observers.c.code_name)).all())
            assert names == {
                1: "bold-fox-123",
                2: "bold-fox-123-2",
                3: "bold-fox-123",
                4: "bold-fox-123-4",
                5: "calm-owl-456",
            }
        finally:
            engine.dispose()


# --- invite expiry --------------------------------------------------------------------------


def test_an_invite_older_than_its_time_to_live_is_refused(election: Engine) -> None:
    old, fresh = create_invites(election, ELECTION, 2)
    with election.begin() as conn:
        conn.execute(
            update(invites)
            .where(invites.c.used_at.is_(None))
            .values(created_at=datetime.now(UTC) - timedelta(hours=73))
        )
    with pytest.raises(InviteExpired, match="invite expired") as expired:
        redeem_invite(election, old.code)
    assert expired.value.status == 410
    # A longer time to live (the setting) lets the same age through; the code stays unused
    # after a refusal, and is usable once.
    assert redeem_invite(election, fresh.code, ttl=timedelta(hours=96)).observer
    with pytest.raises(AuthError):
        redeem_invite(election, fresh.code, ttl=timedelta(hours=96))


def test_invite_ttl_setting_is_read_and_checked() -> None:
    from pollwatch.config import load_settings

    assert load_settings({}).invite_ttl_hours == 72
    assert load_settings({"POLLWATCH_INVITE_TTL_HOURS": "12"}).invite_ttl_hours == 12
    for bad in ("0", "-3", "soon", "9000"):
        with pytest.raises(InputError, match="POLLWATCH_INVITE_TTL_HOURS"):
            load_settings({"POLLWATCH_INVITE_TTL_HOURS": bad})


# --- revocation -----------------------------------------------------------------------------


def test_revoke_one_code_name_is_audited_without_the_token(election: Engine) -> None:
    token, who = _join(election)
    other_token, _other = _join(election)
    assert revoke_observers(election, code_name=who.code_name, actor="anna") == [who.code_name]
    with pytest.raises(AuthError):
        observer_for_token(election, token)
    assert observer_for_token(election, other_token)
    entry = list_audit(election)[0]
    assert entry["actor"] == "anna" and entry["action"] == "observers.revoke"
    assert entry["target"] == ELECTION and entry["detail"]["revoked"] == [who.code_name]
    assert token not in json.dumps(entry)
    assert revoke_observers(election, code_name=who.code_name) == []  # already revoked
    with pytest.raises(NotFoundError):
        revoke_observers(election, code_name="no-such-0000")


def test_revoke_a_station_takes_its_bound_observers_and_its_reporters(election: Engine) -> None:
    bound_token, bound = _join(election, ("3",))
    roaming_token, roaming = _join(election)
    elsewhere_token, _elsewhere = _join(election, ("4",))
    store_report(election, _count(station="3"), observer=roaming)
    revoked = revoke_observers(election, election=ELECTION, station="3")
    assert revoked == sorted([bound.code_name, roaming.code_name])
    for token in (bound_token, roaming_token):
        with pytest.raises(AuthError):
            observer_for_token(election, token)
    assert observer_for_token(election, elsewhere_token)


def test_revoke_all_and_the_arguments_it_needs(election: Engine) -> None:
    tokens = [_join(election)[0] for _ in range(3)]
    with pytest.raises(InputError, match="exactly one"):
        revoke_observers(election, election=ELECTION)
    with pytest.raises(InputError, match="exactly one"):
        revoke_observers(election, election=ELECTION, station="1", everyone=True)
    with pytest.raises(InputError, match="--election"):
        revoke_observers(election, everyone=True)
    with pytest.raises(NotFoundError):
        revoke_observers(election, election="nope", everyone=True)
    with pytest.raises(NotFoundError, match="no station '99'"):  # a typo must not pass silently
        revoke_observers(election, election=ELECTION, station="99")
    assert len(revoke_observers(election, election=ELECTION, everyone=True)) == 3
    for token in tokens:
        with pytest.raises(AuthError):
            observer_for_token(election, token)


def test_the_servers_token_cache_refuses_a_revoked_token_within_two_seconds(
    election: Engine,
) -> None:
    token, who = _join(election)

    async def scenario() -> float:
        cache = ObserverCache(election)
        assert await cache.preload() >= 1
        assert (await cache.observer(token)).code_name == who.code_name
        lookups = cache.lookups
        revoke_observers(election, code_name=who.code_name)
        revoked_at = time.monotonic()
        deadline = revoked_at + REVOCATION_INTERVAL + 3.0
        while True:
            try:
                await cache.observer(token)
            except AuthError:
                return time.monotonic() - revoked_at
            assert time.monotonic() < deadline, "the revoked token still works"
            assert cache.lookups == lookups, "served from the cache until the poll"
            await asyncio.sleep(0.05)

    took = run(scenario)
    assert took <= REVOCATION_INTERVAL + 1.0
