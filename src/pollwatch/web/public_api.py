"""The public JSON API for voters' tools (``/api/v1/public``): no login, cacheable.

What it may show is decided by :mod:`pollwatch.observe.publication` alone; handlers call one
:mod:`pollwatch.store` function each. Answers are the same for everyone and change at most
once per :data:`~pollwatch.observe.publication.TIME_BUCKET`, so they carry ``Cache-Control:
public`` until the next release: a cache or CDN in front of the service may answer the
crowd on election day.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pollwatch.observe.publication import release_cutoff
from pollwatch.store import public_station_status
from pollwatch.web.deps import election_id, rate_limit, store_engine
from pollwatch.web.errors import error_responses
from pollwatch.web.guide_cache import GuideCache, status_cache_control, status_key

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/public", tags=["public"])


@router.get(
    "/elections/{election}/stations/{station}/status",
    summary="A station's public status: queue, wait, ballots warning, public incidents",
    dependencies=[Depends(rate_limit)],
    responses={
        200: {
            "description": "{election, station, as_of, updated_at, queue, wait_minutes, "
            "ballots_warning, incidents: [{category, text, observed_at}]}"
        },
        **error_responses(404, 429),
    },
)
async def get_station_status(
    request: Request, station: str, election: str = Depends(election_id)
) -> Response:
    """Derived, rounded figures as of the release time (the publication policy's delay);
    never report ids, observer counts or report kinds. Kept per process like the guide's
    pages (web/guide_cache.py), and answered from there before routing while fresh."""
    delay: int = request.app.state.settings.public_delay_minutes
    now = datetime.now(UTC)
    cache: GuideCache = request.app.state.guide_cache
    cutoff = release_cutoff(now, delay)
    version = await cache.version(election, cutoff)

    async def build() -> tuple[bytes, str]:
        status = await run_in_threadpool(
            lambda: public_station_status(
                store_engine(request), election, station, now, delay_minutes=delay
            )
        )
        return json.dumps(status.to_dict()).encode(), "application/json"

    kept = await cache.answer(status_key(election, station, cutoff, version), build)
    return Response(
        kept.body,
        media_type=kept.media_type,
        headers={"cache-control": status_cache_control(now, delay), "etag": kept.etag},
    )
