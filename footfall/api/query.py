"""``POST /api/v2/query``: the Plausible-v2-shaped query endpoint (thin over QueryRunner)."""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall.api.auth import AuthError, readable_site, site_id_or_domain
from footfall.api.responses import JSON, error, validation_failed
from footfall.ingest.validate import FieldError
from footfall.meta.prefs import SitePrefs
from footfall.query.goals import attach, uses_goals
from footfall.query.model import parse_query, query_body
from footfall.runtime import Services
from footfall.telemetry import QUERY_SECONDS

MAX_BODY = 256 << 10


async def post_query(request: Request) -> Response:
    started = time.perf_counter()
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(
            413, f"Query larger than {MAX_BODY} bytes", [{"field": "body", "message": "too large"}]
        )
    try:
        raw = query_body(body)
        site = readable_site(request, site_id_or_domain(request, raw["site_id"]))
    except FieldError as exc:
        return validation_failed([exc])
    except AuthError as exc:
        return error(exc.status, exc.message)
    svc: Services = request.app.state.services
    try:
        query = parse_query(raw)
        if uses_goals(query):
            query = attach(query, SitePrefs(svc.meta).goals(site.id))
        with QUERY_SECONDS.time():
            result = await run_in_threadpool(svc.runner.run, query, site)
    except FieldError as exc:
        return validation_failed([exc])
    result["meta"]["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return JSON(result)
