"""``GET /api/health`` (store, queue depth, writer lag, version) and ``GET /metrics``."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall import __version__
from footfall.api.responses import JSON
from footfall.runtime import Services
from footfall.telemetry import REGISTRY


async def health(request: Request) -> Response:
    svc: Services = request.app.state.services
    w = svc.writer.stats
    try:
        store = await run_in_threadpool(svc.store.health)
        ok = bool(store.get("ok"))
    except Exception as exc:  # the store is unusable: say so, with a 503
        store, ok = {"ok": False, "error": type(exc).__name__}, False
    body = {
        "status": "ok" if ok else "unavailable",
        "version": __version__,
        "store": store,
        "queue": {"depth": svc.writer.lag(), "bytes": svc.queue.size_bytes()},
        "writer": {
            "lag_events": svc.writer.lag(),
            "seconds_since_last_batch": round(time.time() - w.last_batch_at, 3)
            if w.last_batch_at
            else None,
            "events_written": w.events_written,
            "duplicates_skipped": w.duplicates_skipped,
            "dropped": w.dropped,
            "errors": w.errors,
        },
    }
    return JSON(body, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
