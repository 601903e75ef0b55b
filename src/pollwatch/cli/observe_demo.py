"""``pollwatch demo-observe``: a simulated observed election in the local database.

``make run`` calls it so that the coordinators' dashboard, the press page and the quick
count have something to show on a fresh machine. Everything it stores is simulated and
labelled so (see :mod:`pollwatch.observe.simulate`); it never touches another election.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pollwatch.observe.checklist_examples import SEAL_QUESTIONS

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["register"]

DEMO_COORDINATOR = "demo"


def demo_observe(
    base_url: Annotated[
        str, typer.Option("--base-url", help="Where `pollwatch serve` answers, for the links.")
    ] = "http://127.0.0.1:8000",
    election: Annotated[str, typer.Option("--election", help="Id of the demo election.")] = "demo",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation.")] = 2024,
) -> None:
    """Store a SIMULATED observed election (60 stations abroad, observers' reports at 48, official
    figures inflated at 6 stations, a quick-count sample of 40) and print where to look at it.

    Runs once per database: when the election exists it only prints the links again. The
    demo coordinator's password is generated at first run and kept in
    POLLWATCH_HOME/demo-coordinator.txt (readable only by you), for this local demo only.
    """
    from pollwatch.config import load_settings
    from pollwatch.errors import NotFoundError
    from pollwatch.observe.simulate import simulate_observation
    from pollwatch.store import (
        add_coordinator,
        attach_results,
        create_election,
        create_invites,
        get_election,
        import_stations,
        observer_for_token,
        open_store,
        redeem_invite,
        set_embargo,
        station_table,
    )
    from pollwatch.store.pvt import store_sample
    from pollwatch.store.reports import store_reports

    settings = load_settings()
    engine = open_store(settings.resolved_database_url())
    secret = settings.home / "demo-coordinator.txt"
    try:
        try:
            get_election(engine, election)
            fresh = False
        except NotFoundError:
            fresh = True
        if fresh:
            now = datetime.now(UTC)
            day = (now - timedelta(days=1)).date()
            sim = simulate_observation(seed=seed, day=day, election=election)
            create_election(
                engine,
                election,
                name="Demo election (SIMULATED)",
                schedule=f"{day.isoformat()} 08:00-20:00",
                timezone="UTC",
            )
            import_stations(engine, election, sim.registry)
            store_demo_guide(engine, election, [r["station"] for r in sim.registry], day)
            attach_results(engine, election, sim.official)
            frame = station_table(engine, election)
            chosen = frame[frame["station"].isin(sim.sample)]
            store_sample(engine, election, chosen, strata_column="country", seed=seed, actor="demo")
            observers = {}
            for station in sorted({r["station"] for r in sim.reports}):
                (invite,) = create_invites(engine, election, 1, stations_=[station], actor="demo")
                observers[station] = observer_for_token(
                    engine, redeem_invite(engine, invite.code).token
                )
            outcomes = store_reports(
                engine, [(body, observers[body["station"]]) for body in sim.reports], now=now
            )
            failed = [o for o in outcomes if isinstance(o, Exception)]
            if failed:
                raise failed[0]
            _demo_checklists(engine, election, observers, now, seed)  # issue 13: checklists
            # The simulated day is over: its press page, ledger and exports are public.
            set_embargo(engine, election, now, by="demo")
            typer.echo(
                f"stored the simulated election {election!r}: {len(sim.registry)} stations, "
                f"{len(sim.reports)} reports (official figures inflated at "
                f"{', '.join(sim.falsified)})"
            )
        if not secret.exists():
            password = secrets.token_urlsafe(12)
            add_coordinator(engine, DEMO_COORDINATOR, password, role="admin", actor="demo")
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.touch(mode=0o600)
            secret.write_text(password + "\n")
        password = secret.read_text().strip()
        network = _network_demo(engine, election, datetime.now(UTC))
        (invite,) = create_invites(engine, election, 1, actor="demo")
    finally:
        engine.dispose()
    root = base_url.rstrip("/")
    typer.echo(
        "SIMULATED observation data (not a real election):\n"
        f"  coordinators' dashboard  {root}/coordinate/{election}"
        f"  (login {DEMO_COORDINATOR!r}, password {password!r})\n"
        f"  press page               {root}/press/{election}\n"
        f"  voter guide              {root}/guide/{election}\n"
        f"  voter guidance           {root}/guide/{election}/info\n"
        f"  observer app (invite)    {invite.to_dict(root)['url']}"
    )
    for line in network:
        typer.echo(line)


def _network_demo(engine: Any, election: str, now: datetime) -> list[str]:
    """Issue 13's part of the demo: the election is flagged simulated (every page says so),
    and a few stations open now in other time zones tell the alerts' stories (see
    :mod:`pollwatch.observe.simulate_network`): one silent, one quiet after two hours of
    counting, one whose revoked phone keeps sending; an incident taken by the hotline.
    Their schedules move to today on every run; the stories are stored once.
    """
    from pollwatch.errors import AuthError
    from pollwatch.observe.simulate_network import silent_stations
    from pollwatch.store import (
        create_invites,
        import_stations,
        observer_for_token,
        redeem_invite,
        revoke_observers,
    )
    from pollwatch.store.alerts import election_alerts
    from pollwatch.store.elections import set_simulated
    from pollwatch.store.incidents import update_incident
    from pollwatch.store.reports import store_reports
    from pollwatch.store.rosters import assign_observer, enter_hotline_report, list_roster

    set_simulated(engine, election, by="demo")
    sim = silent_stations(now, prefix="net")
    # Addresses of their own (the guide lists every station), labelled simulated like the rest.
    import_stations(
        engine,
        election,
        [
            {**row, "address": f"Consulate Street {i} (simulated address)"}
            for i, row in enumerate(sim.registry, start=1)
        ],
    )
    _official_for_new_stations(engine, election)
    told = {row["station"] for row in list_roster(engine, election)["assignments"]}
    for station, story in sim.stories.items():
        if station in told:
            continue
        (invite,) = create_invites(engine, election, 1, stations_=[station], actor="demo")
        token = redeem_invite(engine, invite.code).token
        observer = observer_for_token(engine, token)
        assign_observer(engine, election, station, observer.code_name, by="demo", now=now)
        if story == "quiet":
            sent = now
            for body in (r for r in sim.reports if r["station"] == station):
                sent = datetime.fromisoformat(body["observed_at"]) + timedelta(minutes=1)
                (outcome,) = store_reports(
                    engine, [({**body, "election": election}, observer)], now=sent
                )
                if isinstance(outcome, Exception):
                    raise outcome
            # the observer's phone died: the rest came through the hotline
            stored = enter_hotline_report(
                engine,
                election,
                station,
                observer.code_name,
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{election}/{station}/hotline")),
                    "kind": "incident",
                    "category": "observer_obstruction",
                    "text": "(simulated) The observer was asked to leave the room; "
                    "phoned the hotline from a neighbour's phone.",
                    "observed_at": (sent + timedelta(minutes=5)).isoformat(),
                },
                by="demo",
                now=sent + timedelta(minutes=10),  # then silence: the story's alert
            )
            update_incident(engine, election, stored.report["id"], by="demo", status="acknowledged")
        if story == "seized":
            revoke_observers(engine, election=election, code_name=observer.code_name, actor="demo")
            with contextlib.suppress(AuthError):
                observer_for_token(engine, token)  # the seized phone tries again
    alerts = election_alerts(engine, election, now=now)["alerts"]
    lines = [f"  alerts now ({len(alerts)}), each in its station's local time:"]
    for alert in alerts[:8]:
        where = alert["station"] or "-"
        when = alert["local_since"] or alert["since"]
        lines.append(f"    {alert['kind']:<16} {where:<12} since {when}")
    return lines


DEMO_CHECKLISTS = (
    """id: opening
title: {en: Opening (simulated), ru: Открытие (симуляция), sr: Otvaranje (simulacija)}
questions:
"""
    + SEAL_QUESTIONS  # the editor's example questions; the last (box_why) made required:
    + """    required: true
  - id: booths
    kind: choice
    text:
      en: Can voters mark their ballots in secret?
      ru: Можно ли заполнить бюллетень тайно?
      sr: Da li birači mogu tajno da glasaju?
    options:
      - {id: booths, text: {en: "Yes, in booths", ru: "Да, в кабинах", sr: "Da, u kabinama"}}
      - {id: screens, text: {en: Behind screens, ru: За ширмами, sr: Iza paravana}}
      - {id: none, text: {en: "No", ru: "Нет", sr: "Ne"}}
    flag: [none]
  - id: members
    kind: number
    text:
      en: Commission members present
      ru: Членов комиссии присутствует
      sr: Prisutnih članova komisije
    min: 0
    max: 40
    flag: {below: 3}
""",
    """id: count
title:
  en: Closing and count (simulated)
  ru: Закрытие и подсчёт (симуляция)
  sr: Zatvaranje i brojanje (simulacija)
questions:
  - id: observers_allowed
    kind: yes_no
    text:
      en: Could you watch the count?
      ru: Вам дали наблюдать за подсчётом?
      sr: Da li ste mogli da posmatrate brojanje?
    flag: no
  - id: protocol_posted
    kind: yes_no
    text:
      en: Was the protocol posted for everyone?
      ru: Протокол вывешен для всех?
      sr: Da li je zapisnik istaknut za sve?
    flag: no
  - id: protocol_photo
    kind: photo
    text:
      en: Photo of the posted protocol
      ru: Фото вывешенного протокола
      sr: Fotografija istaknutog zapisnika
""",
)
"""The demo's SIMULATED checklists (their titles say so)."""


def _demo_checklists(
    engine: Any, election: str, observers: dict[str, Any], now: datetime, seed: int
) -> None:
    """SIMULATED checklists, answers and messages (issue 13): opening and count checklists
    answered at most observed stations (about one in seven never sends each one, a few
    answers are irregularities), a message to every observer and an urgent one to the
    first country."""
    import random
    import uuid

    from pollwatch.observe.messages import parse_targets
    from pollwatch.store import list_stations
    from pollwatch.store.checklists import save_checklist
    from pollwatch.store.messages import send_message
    from pollwatch.store.reports import store_reports

    for source in DEMO_CHECKLISTS:
        save_checklist(engine, election, source, actor="demo")
    rng = random.Random(seed)
    bodies = []
    for station in sorted(observers):
        if rng.random() > 0.15:
            sealed = rng.random() > 0.08
            answers: dict[str, Any] = {
                "box_sealed": sealed,
                "booths": rng.choices(["booths", "screens", "none"], [0.85, 0.1, 0.05])[0],
                "members": rng.choice([2, *range(5, 13)]),
            }
            if not sealed:
                answers["box_why"] = "SIMULATED: the seal was missing when the box was shown"
            bodies.append(("opening", station, answers, now - timedelta(hours=14)))
        if rng.random() > 0.15:
            count = {
                "observers_allowed": rng.random() > 0.05,
                "protocol_posted": rng.random() > 0.1,
            }
            bodies.append(("count", station, count, now - timedelta(hours=1)))
    reports = [
        (
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "election": election,
                "station": station,
                "kind": "checklist",
                "observed_at": at.isoformat(),
                "checklist": checklist,
                "version": 1,
                "answers": answers,
            },
            observers[station],
        )
        for checklist, station, answers, at in bodies
    ]
    failed = [o for o in store_reports(engine, reports, now=now) if isinstance(o, Exception)]
    if failed:
        raise failed[0]
    send_message(
        engine,
        election,
        text="SIMULATED: thank you for observing. Send the count checklist before you leave.",
        targets=parse_targets(["all"]),
        actor="demo",
    )
    countries = sorted(
        {str(s["country"]) for s in list_stations(engine, election) if s.get("country")}
    )
    typer.echo(
        f"stored SIMULATED checklists ({len(reports)} answers) and messages; see "
        f"/coordinate/{election}/checklists/results and /coordinate/{election}/messages"
    )
    if countries:
        send_message(
            engine,
            election,
            text="SIMULATED: long queues reported; stay until the last voter has voted.",
            targets=parse_targets([f"country:{countries[0]}"]),
            urgent=True,
            actor="demo",
        )


def store_demo_guide(engine: Engine, election: str, stations: list[str], day: date) -> None:
    """The simulated election's voter guide: addresses, guidance in en/ru/sr, the deadline.

    All of it fictional and labelled so (:mod:`pollwatch.guide.demo`); audited as ``demo``.
    """
    from pollwatch.guide.demo import (
        DEMO_DEADLINE_TIMEZONE,
        DEMO_GUIDANCE,
        demo_addresses,
        demo_registration_deadline,
    )
    from pollwatch.guide.markdown import render_markdown
    from pollwatch.store import import_stations
    from pollwatch.store.elections import set_registration_deadline
    from pollwatch.store.guidance import set_guidance

    addresses = demo_addresses(stations)
    import_stations(engine, election, [{"station": s, "address": a} for s, a in addresses.items()])
    for lang, markdown in DEMO_GUIDANCE.items():
        render_markdown(markdown)  # the same check the editor makes
        set_guidance(engine, election, lang, markdown, actor="demo")
    set_registration_deadline(
        engine, election, demo_registration_deadline(day), DEMO_DEADLINE_TIMEZONE, actor="demo"
    )


def register(app: typer.Typer) -> None:
    """Add ``demo-observe`` to the main app."""
    app.command("demo-observe")(demo_observe)


def _official_for_new_stations(engine: Any, election: str) -> None:
    """Simulated official figures for registry stations that have none (the silent ones), so
    that the quick count still compares with official figures of every station: an honest
    protocol of 935 ballots split like the election's own official votes."""
    import pandas as pd

    from pollwatch.results import ElectionResults
    from pollwatch.results.schema import COUNT_FIELDS
    from pollwatch.store import attach_results, list_stations, official_row

    stations = [row["station"] for row in list_stations(engine, election)]
    figures = {station: official_row(engine, election, station) for station in stations}
    known = {s: f for s, f in figures.items() if f}
    new = [s for s, f in figures.items() if not f]
    if not new or not known:
        return
    totals: dict[str, int] = {}
    for row in known.values():
        for name, votes in (row.get("votes") or {}).items():
            totals[name] = totals.get(name, 0) + int(votes or 0)
    valid, all_votes = 920, sum(totals.values()) or 1
    shares = {name: round(valid * n / all_votes) for name, n in totals.items()}
    shares[max(shares, key=lambda k: shares[k])] += valid - sum(shares.values())
    honest = {
        "registered": 1500, "ballots_received": 1700, "issued_early": 0,
        "issued_premises": 915, "issued_outside": 20, "valid": valid, "invalid": 15,
    }  # fmt: skip
    records = []
    for station, row in (known | {s: {**honest, "votes": shares} for s in new}).items():
        record: dict[str, Any] = {"station": station}
        record.update({k: row[k] for k in COUNT_FIELDS if row.get(k) is not None})
        record.update(row.get("votes") or {})
        records.append(record)
    attach_results(
        engine,
        election,
        ElectionResults(
            name="Demo election abroad (simulated)",
            stations=pd.DataFrame(records),
            candidates=tuple(totals),
            source="simulated by pollwatch.observe.simulate and simulate_network",
        ),
    )
