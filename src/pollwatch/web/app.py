"""The pollwatch web application: ``create_app(settings)`` builds it; nothing at import time.

Routers live one module per part (``web/coach.py``, ...) and share the request
dependencies of ``web/deps.py``; pages are rendered by ``web/pages.py``, server-side Jinja2
with a little vanilla JavaScript served from ``web/static`` (no CDN, no build step); every
page has a JSON twin built from the same data. The app module stands above all of them and
none imports it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from pollwatch import __version__
from pollwatch.config import Settings, load_settings
from pollwatch.limits import LoginThrottle, RateLimiter, open_counters
from pollwatch.store import DecodeSlots, open_store
from pollwatch.store.ingest import IngestWriter, ObserverCache
from pollwatch.store.read_models import read_models
from pollwatch.web import (
    admin,
    checklists,
    coach,
    dashboard,
    dashboard_api,
    guide,
    guide_content,
    messages,
    metrics,
    network_api,
    network_pages,
    observe_api,
    observer,
    public_api,
    telegram,
)
from pollwatch.web.errors import install_error_handlers
from pollwatch.web.guide_cache import GuideCache, GuideFastPath
from pollwatch.web.i18n import load_catalogues
from pollwatch.web.metrics import ServiceMetrics
from pollwatch.web.observe_api import ReportsFastPath
from pollwatch.web.pages import render_page
from pollwatch.web.runtime import serving_runtime
from pollwatch.web.security import BodyLimits, TrustedProxies, parse_trusted_proxies

__all__ = ["create_app", "create_worker_app"]


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("pollwatch.web") / name))


def create_app(settings: Settings | None = None, *, keep_state: bool = True) -> FastAPI:
    """Build the web app for these settings (default: from the environment).

    ``keep_state`` runs the station-state step as a thread of this process; ``pollwatch
    serve`` turns it off and runs it in a process of its own
    (:mod:`pollwatch.store.state_process`), so that it never competes with the answers.
    """
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The reports' group-commit writer (store/ingest.py): started with the server; at
        # shutdown it stores what is queued before the process ends.
        app.state.ingest.start()
        await app.state.observers.preload()  # observers' tokens known before the first report
        try:
            # the started app's objects out of the collector's way, prompt GIL hand-overs
            # to the writer thread (web/runtime.py)
            with serving_runtime():
                yield
        finally:
            await telegram.close_telegram(app)  # the Telegram bot's session, if it was built
            app.state.ingest.stop()
            app.state.rate_limiter.close()  # hands its last counts to the shared store
            app.state.limit_counters.close()

    app = FastAPI(
        lifespan=lifespan,
        title="pollwatch",
        version=__version__,
        description=(
            "Election forensics, independent observation and a dialogue coach. The observation "
            "API (`/api/v1`) takes observers' reports idempotently and keeps them in a "
            "hash-chained ledger; errors have one shape: "
            '`{"error": {"status", "message", "field"}}`.'
        ),
        docs_url=None,
        redoc_url=None,
        # No OpenTelemetry here (the figures are Prometheus', web/metrics.py): FastAPI would
        # otherwise ask the global providers on every request, 4 % of a report's CPU.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.catalogues = load_catalogues()
    app.state.templates = Jinja2Templates(directory=str(_package_dir("templates")))
    # The templates ship with the package and do not change while it runs: no stat() of
    # every template file on every render (4 per station page, slow on a busy disk).
    app.state.templates.env.auto_reload = False
    install_error_handlers(app)
    # The observation store: migrated here, at start, so every process finds its schema.
    app.state.engine = open_store(settings.resolved_database_url())
    # Limits count in the database or in Redis, shared by every process (pollwatch.limits).
    app.state.limit_counters = open_counters(settings, app.state.engine)
    app.state.rate_limiter = RateLimiter(settings.rate_limit, app.state.limit_counters)
    app.state.login_throttle = LoginThrottle(app.state.limit_counters)
    app.state.metrics = ServiceMetrics()
    app.state.metrics_from = parse_trusted_proxies(settings.metrics_from, setting="metrics_from")
    app.state.ingest = IngestWriter(
        app.state.engine, on_batch=app.state.metrics.batch, keep_state=keep_state
    )
    app.state.metrics.watch_queue(app.state.ingest.queue_depth)
    if not keep_state:  # the station-state process writes merged records back, not requests
        read_models(app.state.engine).masters.saves = False
    app.state.observers = ObserverCache(app.state.engine)
    app.state.photo_slots = DecodeSlots()  # photo decodes at once in this process
    app.state.guide_cache = GuideCache(app.state.engine)  # the voter guide's kept answers
    app.add_middleware(ReportsFastPath)  # the reports' hot path, inside the security layer
    app.add_middleware(GuideFastPath)  # kept station pages for the crowd, the same
    public_https = (settings.public_url or "").startswith("https://")
    # the security middleware, with room for photo uploads
    app.add_middleware(BodyLimits, public_https=public_https)
    # outermost: who the client is, before any limit or header depends on it
    app.add_middleware(TrustedProxies, trusted=parse_trusted_proxies(settings.trusted_proxies))
    app.mount("/static", StaticFiles(directory=str(_package_dir("static"))), name="static")
    reports = settings.home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    from pollwatch.web.report_files import ReportFiles

    app.mount("/reports", ReportFiles(directory=str(reports)), name="reports")

    def report_files() -> list[str]:
        return sorted(p.name for p in reports.glob("*.html"))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        return render_page(request, "index.html", {"reports": report_files()})

    @app.get("/index.json", include_in_schema=False)
    async def index_json() -> JSONResponse:
        return JSONResponse({"reports": [f"/reports/{name}" for name in report_files()]})

    app.include_router(metrics.router)
    app.include_router(coach.router)
    app.include_router(observe_api.router)
    app.include_router(observer.router)
    app.include_router(dashboard_api.router)
    app.include_router(network_api.router)
    app.include_router(admin.router)  # before the dashboard's /coordinate/{election}
    app.include_router(checklists.router)  # checklists and messages (issue 13, items 1-2)
    app.include_router(messages.router)
    app.include_router(dashboard.router)
    app.include_router(network_pages.router)
    app.include_router(public_api.router)
    # before the guide's router, whose /guide/{election}/{station} would take "info"
    app.include_router(guide_content.router)
    # last: its /guide/{election}/{station} would shadow the guidance and problem-form routes
    app.include_router(guide.router)
    app.include_router(telegram.router)
    return app


def create_worker_app() -> FastAPI:
    """The app of one ``pollwatch serve`` worker: settings from the environment, the
    station-state step left to the process that ``serve`` runs beside the workers."""
    return create_app(keep_state=False)
