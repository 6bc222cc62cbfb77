"""``GET /api/stats``: the seed API's summary for one site and one day or date range."""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall.api.auth import AuthError, readable_site
from footfall.api.responses import JSON, error, validation_failed
from footfall.ingest.validate import FieldError
from footfall.query.period import parse_date, period, today_in
from footfall.query.stats import summary
from footfall.runtime import Services
from footfall.telemetry import QUERY_SECONDS


async def get_stats(request: Request) -> Response:
    started = time.perf_counter()
    q = request.query_params
    site_id = q.get("site_id", "")
    if not site_id:
        return validation_failed([FieldError("site_id", "required")])
    try:
        site = readable_site(request, site_id)
    except AuthError as exc:
        return error(exc.status, exc.message)
    try:
        if "from" in q or "to" in q:
            first = parse_date(q.get("from", ""), "from")
            last = parse_date(q.get("to", ""), "to")
        else:
            first = last = parse_date(q["date"], "date") if "date" in q else today_in(site.timezone)
        p = period(first, last, site.timezone)
    except FieldError as exc:
        return validation_failed([exc])
    svc: Services = request.app.state.services
    with QUERY_SECONDS.time():
        data = await run_in_threadpool(summary, svc.runner, site, p)
    body = {
        "site_id": site.id,
        "date": first.isoformat(),
        "from": first.isoformat(),
        "to": last.isoformat(),
        "total_views": data["pageviews"],
        "unique_users_count": data["visitors"],
        **data,
    }
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return JSON({"success": True, "data": body, "processing_time_ms": elapsed})
