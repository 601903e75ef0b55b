"""Where the thing a path names stands: the ``locate`` functions of the permission checks.

A station-level permission (:func:`pollwatch.web.access.authorized`) needs the election and
the station; a route whose path names a report or an incident instead passes one of these
as ``locate``. Each is one store lookup (run in the thread pool by ``authorized``), written
once here so that every route, API or page, that acts on the same thing is scoped, and
answers a 404, the same way: an incident's routes in the network API, the dashboard API's
publish switch and the network pages all use :func:`incident_place`.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from pollwatch.store import get_report
from pollwatch.store.incidents import incident_station

__all__ = ["incident_place", "report_place"]


def incident_place(engine: Engine, request: Request) -> tuple[str, str | None]:
    """The path's election and its incident's station (the incident's scope); 404 for an id
    that is no incident of that election (:func:`pollwatch.store.incidents.incident_station`)."""
    election = str(request.path_params["election"])
    report_id = str(request.path_params["report_id"])
    return election, incident_station(engine, election, report_id)


def report_place(engine: Engine, request: Request) -> tuple[str, str | None]:
    """Where the path's report was made: its photo is as private as the station's reports."""
    report = get_report(engine, str(request.path_params["report_id"])[:100].lower())
    return str(report["election"]), str(report["station"])
