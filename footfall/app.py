"""Builds the ASGI application from Settings: routes, and the lifespan that runs the
queue, writer and jobs inside the server process."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from footfall import logs, memory, tracing
from footfall.api import (
    admin,
    collect,
    compat,
    export,
    health,
    mail,
    openapi,
    privacy,
    product,
    query,
    reports,
    stats,
    tracker,
)
from footfall.api.fastpath import FootfallApp
from footfall.config import Settings
from footfall.dashboard.routes import routes as dashboard_routes
from footfall.runtime import Services


def create_app(settings: Settings | None = None, freeze_heap: bool = False) -> FootfallApp:
    """The application. ``freeze_heap``: after start-up, move every object alive then out
    of the cyclic garbage collector's reach (``gc.freeze``), as a server process should
    (see :func:`app_factory`); not for processes that build many apps, such as tests."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        logs.configure(settings.log_format, settings.log_level)
        tracing.start()
        services = Services.build(settings)
        tracing.instrument_store(services.store)
        app.state.services = services
        services.start()
        if freeze_heap:
            # The ~120,000 objects of start-up (routes, templates, rule sets, caches) live
            # as long as the process, yet every full collection walked them all: a 50-60 ms
            # stop of the event loop every few seconds under load, which set the ingest
            # p99 (bench/ingest.py, paired runs: 31-61 ms before, 21-27 ms after). Frozen,
            # a full collection walks only what was made since.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await services.stop()
            tracing.stop()

    routes = [
        Route("/api/event", collect.post_event, methods=["POST"]),
        Route("/api/event", collect.preflight, methods=["OPTIONS"]),
        Route("/api/events", collect.post_events, methods=["POST"]),
        Route("/api/events", collect.preflight, methods=["OPTIONS"]),
        Route("/api/send", compat.umami_send, methods=["POST"]),
        Route("/api/send", compat.preflight, methods=["OPTIONS"]),
        Route("/api/batch", compat.umami_batch, methods=["POST"]),
        Route("/api/batch", compat.preflight, methods=["OPTIONS"]),
        Route("/js/manifest.json", tracker.get_manifest, methods=["GET"]),
        Route("/js/{name}", tracker.get_script, methods=["GET", "HEAD"]),
        Route("/api/stats", stats.get_stats, methods=["GET"]),
        Route("/api/v2/query", query.post_query, methods=["POST"]),
        Route("/api/site/create", admin.create_site, methods=["POST"]),
        Route("/api/tokens", admin.create_token, methods=["POST"]),
        Route("/api/admin/jobs/{name}", admin.run_job, methods=["POST"]),
        Route("/api/health", health.health, methods=["GET"]),
        Route("/api/health/live", health.live, methods=["GET"]),
        Route("/api/health/ready", health.ready, methods=["GET"]),
        Route("/metrics", health.metrics, methods=["GET"]),
        *dashboard_routes(),  # login, site list, dashboard pages, /static
        *reports.ROUTES,
        *export.ROUTES,
        *openapi.ROUTES,
        *privacy.ROUTES,
        *product.ROUTES,  # retention, paths, goals and funnels over the API
        *mail.ROUTES,  # unsubscribe links, send a report now
    ]
    fast = {"/api/event": collect.post_event, "/api/events": collect.post_events}
    return FootfallApp(routes=routes, lifespan=lifespan, fast_routes=fast)


def app_factory() -> FootfallApp:
    """Entry point for ASGI servers: ``granian --factory footfall.app:app_factory``."""
    # Before the server's threads start: footfall/memory.py says what each one saves.
    memory.limit_arenas()
    memory.keep_pandas_out()
    return create_app(freeze_heap=True)
