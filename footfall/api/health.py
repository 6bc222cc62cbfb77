"""``GET /api/health`` (store, queue depth, writer lag, data freshness, version),
``/api/health/live`` and ``/api/health/ready`` (for orchestrators' probes), ``GET /metrics``.

Live: the process answers. Ready: it can take events and store them: the queue accepts
(not full, reachable), the store answers, and the writer's last round did not fail after
its last success (a store that cannot be written fails every round). Freshness, the age
of each site's newest stored event, is in ``/api/health`` for the admin token only (site
ids are not for anonymous callers); others see the freshest site's age.
"""

from __future__ import annotations

import math

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall import __version__
from footfall.api.auth import bearer, is_admin
from footfall.api.responses import JSON
from footfall.query.freshness import Freshness
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
    body["freshness"] = await run_in_threadpool(_freshness, request, svc)
    return JSON(body, 200 if ok else 503)


def _freshness(request: Request, svc: Services) -> dict[str, object]:
    try:
        ages = _tracker(request, svc).ages()
    except Exception as exc:  # reported above as the store's state
        return {"error": type(exc).__name__}
    out: dict[str, object] = {"newest_event_age_seconds": min(ages.values(), default=None)}
    if is_admin(svc, bearer(request)):
        out["sites"] = ages
    return out


def _tracker(request: Request, svc: Services) -> Freshness:
    found = getattr(request.app.state, "freshness", None)
    if not isinstance(found, Freshness) or found.store is not svc.store:
        found = request.app.state.freshness = Freshness(svc.store)
    return found


async def live(request: Request) -> Response:
    return JSON({"status": "ok"})


async def ready(request: Request) -> Response:
    svc: Services = request.app.state.services
    reasons = []
    refusal = svc.queue.refusal()
    if refusal is not None:
        reasons.append(f"queue: {refusal}")
    try:
        store = await run_in_threadpool(svc.store.health)
        if not store.get("ok"):
            reasons.append("store: unavailable")
    except Exception as exc:
        reasons.append(f"store: {type(exc).__name__}")
    w = svc.writer.stats if svc.writer is not None else None  # the Redis shape: workers write
    if w is not None and w.last_error_at and w.last_error_at > w.last_batch_at:
        reasons.append("writer: its last round failed (the store cannot be written)")
    if reasons:
        return JSON({"status": "not ready", "reasons": reasons}, 503)
    return JSON({"status": "ready"})


async def metrics(request: Request) -> Response:
    flush_tallies()  # on the loop, where the tallies are kept: see telemetry.LoopTally
    # Collecting asks the queue for its depth (a Redis round trip): not on the loop.
    body = await run_in_threadpool(generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
