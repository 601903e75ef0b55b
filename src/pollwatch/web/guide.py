"""The public voter guide's pages: find a station, see its live status, the day's totals.

Routes (no login; every page has a JSON twin built from the same data, ``.json``):

* ``/guide`` — the elections whose guide is public (:mod:`pollwatch.store.guide`: those with
  a station registry); ``/guide?q=TEXT`` searches the current election (a redirect);
* ``/guide/{election}?q=TEXT`` — the station finder (:class:`pollwatch.guide.search.
  StationIndex`: typo-tolerant, script-blind), results grouped by place; ``?lat=&lon=``
  lists the nearest stations for browsers without script ("near me" with script measures
  distances in the browser from ``stations.json``; the location never leaves the phone);
* ``/guide/{election}/{station}`` — address, opening hours, map, live status (only from the
  public station status, :mod:`pollwatch.observe.publication`), ``feed.atom``;
* ``/guide/{election}/totals`` — people counted at the doors and in queues hour by hour,
  stations reporting, longest queues; after the embargo the official figures beside the
  independent ones;
* ``/tiles/{z}/{x}/{y}.png`` — map tiles from our own origin (``POLLWATCH_GUIDE_TILES``).

Answers are kept per process (:class:`pollwatch.web.guide_cache.GuideCache`) until the
release time or the election's ledger moves, and carry an ``ETag``; their cache and
permission headers come from :func:`pollwatch.web.security.headers_for`, the one place.
The guidance pages (``/guide/{election}/info``) and the problem form
(``/guide/{election}/{station}/problem``) belong to other routers, which the app includes
before this one (this router's ``/guide/{election}/{station}`` would otherwise match them).
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pollwatch.errors import InputError, NotFoundError
from pollwatch.guide.chart import bar_chart
from pollwatch.guide.search import MAX_QUERY_LENGTH, SearchResult
from pollwatch.guide.status import freshness, longest_queues, opening_days
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.observe.publication import PublicStationStatus, release_cutoff
from pollwatch.observe.reports import format_timestamp
from pollwatch.store import public_station_status
from pollwatch.store.elections import election_key_dates
from pollwatch.store.guide import (
    current_guide_election,
    guide_elections,
    guide_station,
    guide_totals,
)
from pollwatch.web.deps import rate_limit, store_engine
from pollwatch.web.guide_cache import GuideCache, station_key
from pollwatch.web.guide_content import cards_for
from pollwatch.web.labels import CATEGORY_LABELS
from pollwatch.web.pages import render_page, request_language, translator
from pollwatch.web.security import public_base_url

__all__ = ["MAX_RESULTS", "router"]

router = APIRouter(include_in_schema=False)

MAX_RESULTS = 20
"""Groups of stations a search shows (a voter refines the query rather than scrolls)."""

MAX_COORDINATE_TEXT = 32


def _cache(request: Request) -> GuideCache:
    cache: GuideCache | None = getattr(request.app.state, "guide_cache", None)
    if cache is None:
        cache = request.app.state.guide_cache = GuideCache(store_engine(request))
    return cache


def _delay(request: Request) -> int:
    delay: int = request.app.state.settings.public_delay_minutes
    return delay


def _answer(request: Request, body: bytes, media_type: str, etag: str) -> Response:
    """The kept answer, or 304 when the browser holds the same one."""
    given = request.headers.get("if-none-match", "")
    if etag in (t.strip() for t in given.split(",")):
        return Response(status_code=304, headers={"etag": etag})
    return Response(body, media_type=media_type, headers={"etag": etag})


def _accepts_gzip(request: Request) -> bool:
    """Whether the client takes ``Content-Encoding: gzip`` (every browser does)."""
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() == "gzip" and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


async def _kept(
    request: Request,
    election: str | None,
    key: tuple[Any, ...],
    build: Callable[[], Any],
) -> Response:
    """Answer from the process's cache under ``key`` + language + release time + version
    of ``election``; ``build`` is an async function returning (body, media type). A
    station page's key is :func:`~pollwatch.web.guide_cache.station_key`, which the fast
    path in front of the router uses too."""
    cache = _cache(request)
    cutoff = release_cutoff(datetime.now(UTC), _delay(request))
    version = await cache.version(election, cutoff) if election else (0, 0)
    lang = request_language(request)
    if key[0] == "station":
        full = station_key(key[1], key[2], lang, cutoff, version)
    else:
        full = (*key, lang, cutoff, version)
    kept = await cache.answer(full, build)
    return _answer(request, kept.body, kept.media_type, kept.etag)


def _json(data: Any) -> tuple[bytes, str]:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), "application/json"


def _html(request: Request, template: str, context: dict[str, Any]) -> tuple[bytes, str]:
    page = render_page(request, template, context)
    return bytes(page.body), "text/html; charset=utf-8"


async def _public_election(request: Request, election: str) -> dict[str, Any]:
    """The election if its guide is public (400 for a malformed id, 404 otherwise)."""
    check_election_id(election)
    for row in await _elections(request):
        if row["id"] == election:
            return row
    raise NotFoundError(f"no public guide for election {election!r}")


async def _elections(request: Request) -> list[dict[str, Any]]:
    async def build() -> tuple[bytes, str]:
        rows = await run_in_threadpool(guide_elections, store_engine(request))
        return _json(rows)

    kept = await _cache(request).answer(("elections", _minute()), build)
    rows: list[dict[str, Any]] = json.loads(kept.body)
    return rows


def _minute() -> int:
    return int(datetime.now(UTC).timestamp() // 60)


def _query_text(request: Request) -> str:
    q = request.query_params.get("q", "")
    if len(q) > MAX_QUERY_LENGTH:
        raise InputError(
            f"the search text must be at most {MAX_QUERY_LENGTH} characters", column="q"
        )
    return q.replace("\x00", "").strip()


def _coordinates(request: Request) -> tuple[float, float] | None:
    lat, lon = request.query_params.get("lat"), request.query_params.get("lon")
    if not lat and not lon:
        return None
    try:
        if len(lat or "") > MAX_COORDINATE_TEXT or len(lon or "") > MAX_COORDINATE_TEXT:
            raise ValueError
        point = float(lat or ""), float(lon or "")
    except ValueError:
        raise InputError("lat and lon must be numbers (degrees)", column="lat") from None
    if not all(math.isfinite(v) for v in point):
        raise InputError("lat and lon must be numbers (degrees)", column="lat")
    return point


# --- the list of guides and the finder ----------------------------------------------------


@router.get("/guide")
async def guide_index(request: Request) -> Response:
    """The elections whose guide is public; ``?q=`` searches the current one."""
    await rate_limit(request)
    rows = await _elections(request)
    current = current_guide_election(rows, datetime.now(UTC))
    q = _query_text(request)
    if q and current:
        target = f"/guide/{current}?q={_quote(q)}"
        lang = request.query_params.get("lang")
        if lang:
            target += f"&lang={_quote(lang[:8])}"
        return RedirectResponse(target, status_code=303)

    async def build() -> tuple[bytes, str]:
        return _html(request, "guide_index.html", {"elections": rows, "current": current})

    return await _kept(request, None, ("index", _minute()), build)


@router.get("/guide.json")
async def guide_index_json(request: Request) -> Response:
    """The JSON twin of ``/guide``."""
    await rate_limit(request)
    rows = await _elections(request)
    current = current_guide_election(rows, datetime.now(UTC))
    body, media = _json({"elections": rows, "current": current})
    return Response(body, media_type=media)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


async def _search(request: Request, election: str) -> dict[str, Any]:
    info = await _public_election(request, election)
    q = _query_text(request)
    point = _coordinates(request)
    index, _ = await _cache(request).registry(election)
    result: SearchResult | None = None
    if q:
        result = await run_in_threadpool(lambda: index.search(q, limit=MAX_RESULTS))
    elif point is not None:
        result = await run_in_threadpool(lambda: index.nearest(*point, limit=MAX_RESULTS))
    dates = await run_in_threadpool(election_key_dates, store_engine(request), election)
    cards = cards_for(dates, datetime.now(UTC))
    return {"election": info, "q": q, "near": point, "result": result, "cards": cards}


@router.get("/guide/{election}.json")
async def finder_json(request: Request, election: str) -> Response:
    """The JSON twin of the finder: the search result (groups of stations)."""
    await rate_limit(request)
    found = await _search(request, election)

    async def build() -> tuple[bytes, str]:
        result = found["result"]
        return _json(
            {
                "election": found["election"],
                "q": found["q"],
                "cards": found["cards"],
                "result": None if result is None else result.to_dict(),
            }
        )

    return await _kept(
        request, election, ("finder.json", election, found["q"], found["near"]), build
    )


@router.get("/guide/{election}/stations.json")
async def located_stations(request: Request, election: str) -> Response:
    """Every station of the registry with its place, for "near me" and the map in the
    browser: ``[[station, name, city, address, lat, lon], ...]``."""
    await rate_limit(request)
    await _public_election(request, election)
    _, rows = await _cache(request).registry(election)

    async def build() -> tuple[bytes, str]:
        return _json(
            {
                "election": election,
                "columns": ["station", "name", "city", "address", "lat", "lon"],
                "stations": [
                    [r["station"], r["name"], r["city"], r["address"], r["lat"], r["lon"]]
                    for r in rows
                    if r["lat"] is not None and r["lon"] is not None
                ],
            }
        )

    # A whole country's registry is megabytes of JSON, fetched on a phone when "near me" or
    # the map is asked for: kept compressed too, once per version, and served so to every
    # client that takes it (the 2024-size synthetic registry, 91,939 stations: 11.0 MB of
    # JSON, 0.98 MB gzipped in 0.12 s).
    vary = {"vary": "Accept-Encoding"}
    key: tuple[Any, ...] = ("stations.json", election, len(rows))
    if not _accepts_gzip(request):
        return _with_headers(await _kept(request, election, key, build), vary)

    async def build_gzip() -> tuple[bytes, str]:
        body, media_type = await build()
        return gzip.compress(body, compresslevel=6, mtime=0), media_type

    answer = await _kept(request, election, (*key, "gzip"), build_gzip)
    return _with_headers(answer, {**vary, "content-encoding": "gzip"})


def _with_headers(response: Response, headers: Mapping[str, str]) -> Response:
    for name, value in headers.items():
        if name == "content-encoding" and response.status_code == 304:
            continue
        response.headers[name] = value
    return response


# --- totals -------------------------------------------------------------------------------


def _hour_label(hour: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).astimezone(zone).strftime("%H:00")


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def _hours(points: list[tuple[int, float]], zone: ZoneInfo) -> list[dict[str, Any]]:
    return [
        {
            "hour": format_timestamp(datetime.fromtimestamp(h * 3600, UTC)),
            "label": _hour_label(h, zone),
            "people": n,
        }
        for h, n in points
    ]


async def _totals(request: Request, election: str) -> dict[str, Any]:
    info = await _public_election(request, election)
    figures = await run_in_threadpool(
        lambda: guide_totals(
            store_engine(request), election, datetime.now(UTC), delay_minutes=_delay(request)
        )
    )
    zone = _zone(info.get("timezone"))
    longest = longest_queues(figures["statuses"])
    return {
        "election": info,
        "timezone": str(zone),
        "as_of": format_timestamp(figures["as_of"]),
        "live": figures["live"],
        "stations": figures["stations"],
        "reporting": figures["reporting"],
        "entered_per_hour": _hours(figures["entered_per_hour"], zone),
        "queue_per_hour": _hours(figures["queue_per_hour"], zone),
        "longest_queues": [
            {**s.to_dict(), **figures["places"].get(s.station, {})} for s in longest
        ],
        "turnout": figures["turnout"],
    }


@router.get("/guide/{election}/totals.json")
async def totals_json(request: Request, election: str) -> Response:
    """The JSON twin of the totals page."""
    await rate_limit(request)
    await _public_election(request, election)

    async def build() -> tuple[bytes, str]:
        return _json(await _totals(request, election))

    return await _kept(request, election, ("totals.json", election), build)


@router.get("/guide/{election}/totals")
async def totals_page(request: Request, election: str) -> Response:
    """Election-day totals across all stations (public, aggregate data only)."""
    await rate_limit(request)
    await _public_election(request, election)

    async def build() -> tuple[bytes, str]:
        data = await _totals(request, election)
        charts = {
            name: bar_chart([(p["label"], p["people"]) for p in data[name]])
            for name in ("entered_per_hour", "queue_per_hour")
        }
        return _html(request, "guide_totals.html", {**data, "charts": charts})

    return await _kept(request, election, ("totals", election), build)


# --- the finder page (after the fixed two-part paths) ---------------------------------------


@router.get("/guide/{election}")
async def finder_page(request: Request, election: str) -> Response:
    """The station finder: one search box, results grouped by place, near me, a map."""
    await rate_limit(request)
    found = await _search(request, election)

    async def build() -> tuple[bytes, str]:
        return _html(request, "guide_finder.html", {**found, "tiles": _has_tiles(request)})

    return await _kept(request, election, ("finder", election, found["q"], found["near"]), build)


# --- a station ----------------------------------------------------------------------------


async def _station(request: Request, election: str, station: str) -> dict[str, Any]:
    info = await _public_election(request, election)
    check_station_id(station)
    engine = store_engine(request)
    now = datetime.now(UTC)
    row = await run_in_threadpool(guide_station, engine, election, station)
    status: PublicStationStatus = await run_in_threadpool(
        lambda: public_station_status(engine, election, station, now, delay_minutes=_delay(request))
    )
    schedule = row.pop("schedule")
    dates = await run_in_threadpool(election_key_dates, engine, election)
    return {
        "cards": cards_for(dates, now, schedule),
        "election": info,
        "station": row,
        "schedule": None
        if schedule is None
        else {
            **schedule.to_dict(),
            "days": [d.to_dict() for d in opening_days(schedule, now)],
        },
        "status": status.to_dict(),
        "freshness": freshness(status.updated_at, status.as_of, now).to_dict(),
        "generated_at": format_timestamp(now),
    }


@router.get("/guide/{election}/{station}.json")
async def station_json(request: Request, election: str, station: str) -> Response:
    """The JSON twin of a station's page."""
    await rate_limit(request)
    await _public_election(request, election)
    check_station_id(station)

    async def build() -> tuple[bytes, str]:
        return _json(await _station(request, election, station))

    return await _kept(request, election, ("station.json", election, station), build)


@router.get("/guide/{election}/{station}/feed.atom")
async def station_feed(request: Request, election: str, station: str) -> Response:
    """The station's status as an Atom feed: one entry per published status, public
    incidents as their own entries."""
    await rate_limit(request)
    await _public_election(request, election)
    check_station_id(station)

    async def build() -> tuple[bytes, str]:
        data = await _station(request, election, station)
        return _atom(request, data), "application/atom+xml"

    return await _kept(request, election, ("feed", election, station), build)


@router.get("/guide/{election}/{station}")
async def station_page(request: Request, election: str, station: str) -> Response:
    """A station's page: where, when, what to bring, and its live public status."""
    await rate_limit(request)
    await _public_election(request, election)
    check_station_id(station)

    async def build() -> tuple[bytes, str]:
        data = await _station(request, election, station)
        return _html(
            request,
            "guide_station.html",
            {**data, "category_labels": CATEGORY_LABELS, "tiles": _has_tiles(request)},
        )

    return await _kept(request, election, ("station", election, station), build)


def status_summary(status: dict[str, Any], _: Callable[[str], str]) -> str:
    """One line of a status in the reader's language (the feed's entries)."""
    parts = []
    if status["queue"] is not None:
        parts.append(_("Queue: about {n} people").format(n=status["queue"]))
    if status["wait_minutes"] is not None:
        wait = _("estimated wait about {n} min").format(n=status["wait_minutes"])
        if status["wait_low"] is not None and status["wait_high"] is not None:
            wait += f" ({status['wait_low']}–{status['wait_high']})"
        parts.append(wait)
    if status["ballots_warning"]:
        parts.append(_("ballots may run out"))
    return "; ".join(parts) or _("No figures reported yet.")


def _atom(request: Request, data: dict[str, Any]) -> bytes:
    from feedgen.feed import FeedGenerator

    _ = translator(request)
    base = public_base_url(request)
    election, station, status = data["election"], data["station"], data["status"]
    page = f"{base}/guide/{election['id']}/{station['station']}"
    title = f"{station['name'] or station['station']} · {election['name']}"
    feed = FeedGenerator()
    feed.id(page)
    feed.title(title)
    feed.link(href=page, rel="alternate")
    feed.link(href=f"{page}/feed.atom", rel="self")
    feed.language(request_language(request))
    feed.updated(status["updated_at"] or status["as_of"])
    feed.author({"name": "pollwatch"})
    if status["updated_at"]:
        entry = feed.add_entry()
        entry.id(f"{page}#status-{status['updated_at']}")
        entry.title(_("Status at {time} UTC").format(time=status["updated_at"][11:16]))
        entry.updated(status["updated_at"])
        entry.link(href=page)
        entry.content(status_summary(status, _), type="text")
    for incident in status["incidents"]:
        entry = feed.add_entry()
        entry.id(f"{page}#incident-{incident['observed_at']}-{incident['category']}")
        entry.title(_(CATEGORY_LABELS.get(incident["category"], incident["category"])))
        entry.updated(incident["observed_at"])
        entry.link(href=page)
        entry.content(incident["text"] or "-", type="text")
    body: bytes = feed.atom_str(pretty=False)
    return body


# --- map tiles ----------------------------------------------------------------------------

_TILE = re.compile(r"\d{1,2}")
MAX_ZOOM = 19
MAX_TILE_BYTES = 512 * 1024


def _has_tiles(request: Request) -> bool:
    return bool(request.app.state.settings.guide_tiles)


@router.get("/tiles/{z}/{x}/{y}.png")
async def map_tile(request: Request, z: str, x: str, y: str) -> Response:
    """A map tile from the configured folder, or fetched once from the configured tile
    server and kept in ``POLLWATCH_HOME/tiles`` (browsers only ever ask us)."""
    source: str | None = request.app.state.settings.guide_tiles
    if not source:
        raise NotFoundError("this service has no map tiles configured")
    if not (_TILE.fullmatch(z) and x.isdigit() and y.isdigit() and len(x) < 8 and len(y) < 8):
        raise InputError("a tile is /tiles/Z/X/Y.png with whole numbers", column="z")
    zoom, col, row = int(z), int(x), int(y)
    if zoom > MAX_ZOOM or col >= 2**zoom or row >= 2**zoom:
        raise NotFoundError("no such tile")
    relative = Path(str(zoom)) / str(col) / f"{row}.png"
    if not source.lower().startswith(("http://", "https://")):
        path = Path(source) / relative
    else:
        path = request.app.state.settings.home / "tiles" / relative
        if not path.is_file():
            url = source.replace("{z}", str(zoom)).replace("{x}", str(col))
            await _fetch_tile(url.replace("{y}", str(row)), path)
    if not path.is_file():
        raise NotFoundError("no such tile")
    return Response(path.read_bytes(), media_type="image/png")


async def _fetch_tile(url: str, path: Path) -> None:
    """Fetch one tile from the configured server into ``path`` (nothing on any failure)."""

    def fetch() -> None:
        import urllib.request

        ask = urllib.request.Request(url, headers={"user-agent": "pollwatch tile cache"})
        try:
            with urllib.request.urlopen(ask, timeout=10) as answer:  # the configured tile server
                if answer.status != 200:
                    return
                content = answer.read(MAX_TILE_BYTES + 1)
        except OSError:
            return
        if len(content) > MAX_TILE_BYTES:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(path)

    await run_in_threadpool(fetch)
