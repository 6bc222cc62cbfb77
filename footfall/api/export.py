"""``/api/v1/export``: raw events (GET) or a v2 query's rows (POST), streamed.

``?format=csv|jsonl|parquet``. Everything that can fail (auth, parameters, the query) is
checked before the first byte; the body is then a sync generator that Starlette drains in
its thread pool, one store batch at a time, so a 10M-event export never holds more than
a batch in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from footfall.api.auth import AuthError, refusal
from footfall.api.query import MAX_BODY, body_site, site_query
from footfall.api.reports import scope_of, site_of
from footfall.api.responses import error
from footfall.ingest.validate import FieldError
from footfall.query import export, reports
from footfall.query.model import query_body
from footfall.runtime import Services


def _stream(chunks: Iterator[bytes], fmt: str, name: str) -> StreamingResponse:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"content-disposition": f'attachment; filename="{name}-{stamp}.{fmt}"'}
    return StreamingResponse(chunks, media_type=export.FORMATS[fmt], headers=headers)


async def export_events(request: Request) -> Response:
    """Every stored column of the site's events in the period (default: all time)."""
    svc: Services = request.app.state.services
    q = request.query_params
    try:
        site = site_of(request)
        fmt = export.check_format(q.get("format", "csv"))
        scope = scope_of(q, site, default_period="all")
        p = await run_in_threadpool(reports.period_of, svc.runner, scope)
    except (AuthError, FieldError) as exc:
        return refusal(exc)
    chunks = export.raw_events(svc.store, site.id, p.start_utc, p.end_utc, fmt)
    return _stream(chunks, fmt, f"events-{site.id}")


async def export_query(request: Request) -> Response:
    """The rows of a v2 query body (as POST /api/v2/query would answer them)."""
    svc: Services = request.app.state.services
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, f"Query larger than {MAX_BODY} bytes",
                     [{"field": "body", "message": "too large"}])  # fmt: skip
    try:
        raw = query_body(body)
        site = body_site(request, raw)
        fmt = export.check_format(request.query_params.get("format", "csv"))
        query = site_query(request, raw, site)
        result = await run_in_threadpool(svc.runner.run, query, site)
    except (AuthError, FieldError) as exc:
        return refusal(exc)
    return _stream(export.query_rows(result, fmt), fmt, f"query-{site.id}")


ROUTES = [
    Route("/api/v1/export", export_events, methods=["GET"]),
    Route("/api/v1/export", export_query, methods=["POST"]),
]
