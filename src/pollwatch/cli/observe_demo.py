"""``pollwatch demo-observe``: a simulated observed election in the local database.

``make run`` calls it so that the coordinators' dashboard, the press page and the quick
count have something to show on a fresh machine. Everything it stores is simulated and
labelled so (see :mod:`pollwatch.observe.simulate`); it never touches another election.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

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
        (invite,) = create_invites(engine, election, 1, actor="demo")
    finally:
        engine.dispose()
    root = base_url.rstrip("/")
    typer.echo(
        "SIMULATED observation data (not a real election):\n"
        f"  coordinators' dashboard  {root}/coordinate/{election}"
        f"  (login {DEMO_COORDINATOR!r}, password {password!r})\n"
        f"  press page               {root}/press/{election}\n"
        f"  voter guidance           {root}/guide/{election}/info\n"
        f"  observer app (invite)    {invite.to_dict(root)['url']}"
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
