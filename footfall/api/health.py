"""``GET /api/health`` (store, queue depth, writer lag, version) and ``GET /metrics``."""

from __future__ import annotations

import math

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall import __version__
from footfall.api.responses import JSON
from footfall.runtime import Services
from footfall.telemetry import REGISTRY, flush_tallies


async def health(request: Request) -> Response:
    svc: Services = request.app.state.services
    # The same figures /metrics shows; off the event loop, as a Redis queue's depth is a
    # round trip that a slow Redis would otherwise make every request wait for.
    m = await run_in_threadpool(svc.metrics_state)
    since = m["writer_seconds_since_last_batch"]
    reason = None
    try:
        store = await run_in_threadpool(svc.store.health)
        if not store.get("ok"):
            reason = "store unavailable"
    except Exception as exc:  # the store is unusable: say so, with a 503
        store, reason = {"ok": False, "error": type(exc).__name__}, "store unavailable"
    refusal = svc.queue.refusal()
    if refusal is not None and reason is None:
        reason = f"collection refused: {refusal}"
    ok = reason is None
    body = {
        "status": "ok" if ok else "unavailable",
        **({} if ok else {"reason": reason}),
        "version": __version__,
        "store": store,
        "queue": {
            "depth": m["queue_depth_events"],
            "bytes": m["queue_bytes"],
            "accepting": refusal is None,
        },
        "writer": {
            "lag_events": m["queue_depth_events"],
            "seconds_since_last_batch": None if math.isnan(since) else round(since, 3),
            **{
                k: m[f"writer_{k}"]
                for k in ("events_written", "duplicates_skipped", "dropped", "errors")
            },
        },
    }
    return JSON(body, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    flush_tallies()  # on the loop, where the tallies are kept: see telemetry.LoopTally
    # Collecting asks the queue for its depth (a Redis round trip): not on the loop.
    body = await run_in_threadpool(generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
