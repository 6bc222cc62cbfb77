"""``POST /api/v2/query``: the Plausible-v2-shaped query endpoint (thin over QueryRunner).

``body_site`` and ``site_query`` are shared with the query export (``POST /api/v1/export``),
so a body answers the same there: the site by id or domain, the site's goals attached.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall.api.auth import AuthError, readable_site, site_id_or_domain
from footfall.api.responses import JSON, error
from footfall.ingest.validate import FieldError
from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import SiteInfo
from footfall.query.goals import attach, uses_goals
from footfall.query.model import Query, parse_query, query_body
from footfall.query.plausible import check_v2, message
from footfall.query.revenue import METRICS as REVENUE
from footfall.query.revenue import shape
from footfall.query.shape import plausible_changes
from footfall.runtime import Services
from footfall.telemetry import QUERY_SECONDS

MAX_BODY = 256 << 10


def body_site(request: Request, raw: dict[str, Any]) -> SiteInfo:
    """The site a v2 body's ``site_id`` names (its id or one of its domains), if readable."""
    return readable_site(request, site_id_or_domain(request, raw["site_id"]))


def site_query(request: Request, raw: dict[str, Any], site: SiteInfo) -> Query:
    """The body as a Query, with the site's goals when it asks about ``event:goal``."""
    query = parse_query(raw)
    if "money_value" in query.include:  # the endpoint's own switch, never a client's
        query = replace(query, include={k: v for k, v in query.include.items()
                                        if k != "money_value"})  # fmt: skip
    check_v2(query)
    if uses_goals(query):
        svc: Services = request.app.state.services
        query = attach(query, SitePrefs(svc.meta).goals(site.id))
    return query


def refused(exc: FieldError) -> Response:
    """A 400 a Plausible client can show: ``error`` is the message (Plausible's own words
    for what Plausible refuses too); ``details`` names the field, as native errors do."""
    body = {"success": False, "error": message(exc), "details": [exc.as_json()]}
    return JSON(body, status_code=400)


ROLLUPS_HEADER = "x-footfall-rollups"


async def post_query(request: Request) -> Response:
    started = time.perf_counter()
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(
            413, f"Query larger than {MAX_BODY} bytes", [{"field": "body", "message": "too large"}]
        )
    try:
        raw = query_body(body)
        site = body_site(request, raw)
    except FieldError as exc:
        return refused(exc)
    except AuthError as exc:
        return error(exc.status, exc.message)
    svc: Services = request.app.state.services
    try:
        query = site_query(request, raw, site)
        if any(m in REVENUE for m in query.metrics):  # money objects carry Plausible's value
            query = replace(query, include={**query.include, "money_value": True})
        with QUERY_SECONDS.time():
            result = await run_in_threadpool(svc.runner.run, query, site)
        result = plausible_changes(result, query)
        if any(m in REVENUE for m in query.metrics):
            # Revenue goals' currencies make Plausible's money objects, or null (revenue.py).
            prefs = SitePrefs(svc.meta)
            goals = await run_in_threadpool(prefs.goals, site.id) if uses_goals(query) else []
            result = shape(result, query, goals)
    except FieldError as exc:
        return refused(exc)
    result["meta"]["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 3)
    # Outside the Plausible-shaped body: the dashboard says its panels may be slow while
    # a rollups build (after a bulk load, at 10M events a minute or two) takes the store.
    building = svc.store.building_rollups()
    return JSON(result, headers={ROLLUPS_HEADER: "building"} if building else None)
