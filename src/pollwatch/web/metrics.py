"""What the service tells its operators: readiness, and the figures a Prometheus scrapes.

``GET /healthz``: the process answers (for a load balancer's liveness check).
``GET /readyz``: it can do its job — the database answers, its schema is this version's
(migrations current), and the report writer keeps up (its thread runs and fewer than
:data:`READY_QUEUE_LIMIT` reports wait). 503 otherwise, so a balancer sends observers
elsewhere instead of letting their reports time out; which check failed, and the queue's
depth, are said only to the ``metrics_from`` addresses (the queue shows bursts of reports).
``GET /metrics``: Prometheus' text format, from the standard client library
(``prometheus-client``): reports accepted and refused by reason, batch sizes, commit
latency, the writer's queue depth. Each server process has its own registry and answers
for itself (scrape each process, or one per machine with ``--workers 1``).

Who may read ``/metrics``: the figures are operational, but the rate of refused reports per
reason is something a hostile watcher would like to follow live, so it is not public: only
from an address in the ``metrics_from`` setting (loopback by default, where a local
Prometheus or node agent runs) or by an admin coordinator's session.

Nothing here carries personal data: no token, code name, station, text or address — only
counts by outcome, HTTP status and the name of the refused field.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from pollwatch import __version__
from pollwatch.errors import Forbidden, PollwatchError
from pollwatch.web.deps import current_coordinator, store_engine

__all__ = ["READY_QUEUE_LIMIT", "ServiceMetrics", "router"]

READY_QUEUE_LIMIT = 5_000
"""Reports waiting for the writer beyond which the process says it is not ready: at the
writer's measured pace (over 1,000 reports/s) that is several seconds behind."""

router = APIRouter(include_in_schema=False)


class ServiceMetrics:
    """The process's Prometheus registry and the figures the service records in it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reports = Counter(
            "pollwatch_reports",
            "Reports answered, by outcome (created, retry, refused) and, when refused, the "
            "HTTP status and the field named",
            ["outcome", "status", "field"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "pollwatch_ingest_batch_size",
            "Reports stored per group-commit transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "pollwatch_ingest_commit_seconds",
            "Time to store one batch, commit included",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "pollwatch_ingest_queue_depth",
            "Reports waiting for the writer",
            registry=self.registry,
        )

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Read the writer's queue depth at each scrape."""
        self.queue_depth.set_function(lambda: float(depth()))

    def answered(self, status: int) -> None:
        """A report stored (201) or recognised as a retry (200)."""
        self.reports.labels("created" if status == 201 else "retry", str(status), "").inc()

    def refused(self, error: PollwatchError) -> None:
        """A report refused; the field is a parser's field name, never a value."""
        field = getattr(error, "column", None) or ""
        self.reports.labels("refused", str(error.status), str(field)[:40]).inc()

    def batch(self, size: int, seconds: float) -> None:
        """One group-commit transaction of ``size`` reports took ``seconds``."""
        self.batch_size.observe(size)
        self.commit_seconds.observe(seconds)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"ok": True, "version": __version__})


def _database_checks(request: Request) -> dict[str, object]:
    from pollwatch.store.migrate import current_revision, head_revision

    engine = store_engine(request)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means: not reachable
        return {"database": f"unreachable ({type(exc).__name__})"}
    current, head = current_revision(engine), head_revision()
    return {
        "database": "ok",
        "migrations": "ok" if current == head else f"at {current}, not {head}",
    }


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: database reachable, migrations current, the report writer keeping up."""
    checks = await run_in_threadpool(_database_checks, request)
    writer = request.app.state.ingest
    depth = writer.queue_depth()
    checks["queue_depth"] = depth
    if not writer.running():
        checks["writer"] = "stopped"
    elif depth >= READY_QUEUE_LIMIT:
        checks["writer"] = f"behind ({depth} reports waiting)"
    else:
        checks["writer"] = "ok"
    ready = all(checks.get(k) == "ok" for k in ("database", "migrations", "writer"))
    # The checks (the writer's queue above all: bursts of reports, live) only for the
    # operators' addresses; a balancer elsewhere needs the status code alone.
    body = {"ready": ready, **checks} if _internal(request) else {"ready": ready}
    return JSONResponse(body, status_code=200 if ready else 503)


def _internal(request: Request) -> bool:
    allowed = request.app.state.metrics_from
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in allowed)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format; from ``metrics_from`` addresses or for an admin's session."""
    if not _internal(request):
        who = await current_coordinator(request)  # 401 without a session
        if who.role != "admin":
            raise Forbidden("the service's figures are for admins (or from metrics_from)")
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
