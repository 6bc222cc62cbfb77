"""Builds the ASGI application from Settings: routes, and the lifespan that runs the
queue, writer and jobs inside the server process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from footfall.api import (
    admin,
    collect,
    compat,
    export,
    health,
    openapi,
    query,
    reports,
    stats,
    tracker,
)
from footfall.api.fastpath import FootfallApp
from footfall.config import Settings
from footfall.dashboard.routes import routes as dashboard_routes
from footfall.runtime import Services


def create_app(settings: Settings | None = None) -> FootfallApp:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = Services.build(settings)
        app.state.services = services
        services.start()
        try:
            yield
        finally:
            await services.stop()

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
        Route("/metrics", health.metrics, methods=["GET"]),
        *dashboard_routes(),  # login, site list, dashboard pages, /static
        *reports.ROUTES, *export.ROUTES, *openapi.ROUTES,
    ]
    fast = {"/api/event": collect.post_event, "/api/events": collect.post_events}
    return FootfallApp(routes=routes, lifespan=lifespan, fast_routes=fast)


def app_factory() -> FootfallApp:
    """Entry point for ASGI servers: ``granian --factory footfall.app:app_factory``."""
    return create_app()
