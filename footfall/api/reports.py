"""``GET /api/v1/...``: the seed systems' reports, as thin handlers over the query layer.

Every endpoint is authorised like /api/v2/query (a site's read token or the admin token;
401 without a valid one, 404 for a site the caller may not read), takes ``site_id`` and
most take ``period`` (day, 7d, 30d, month, year, ... or custom with ``from``/``to``),
``filters`` (a JSON-encoded v2 filter list), ``limit`` and ``with_imported`` (Plausible's
v1 name, or ``include_imports``: add imported aggregates where Plausible would; the
envelope's ``meta`` then says ``imports_included`` and, if not, ``imports_skip_reason``).
Bad input is a 400 naming the parameter, in the native envelope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from footfall.api.auth import AuthError, readable_site, refusal
from footfall.api.responses import JSON, error, validation_failed
from footfall.ingest.validate import FieldError
from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import SiteInfo
from footfall.query import funnels, reports, sessions
from footfall.query.model import decode_json
from footfall.query.reports import Scope
from footfall.runtime import Services
from footfall.telemetry import QUERY_SECONDS

Report = Callable[[QueryParams, SiteInfo, Services], Any]


# -- parameters ---------------------------------------------------------------------------


def site_of(request: Request) -> SiteInfo:
    """The readable site named by ``site_id``; FieldError if absent, AuthError if not yours."""
    site_id = request.query_params.get("site_id", "")
    if not site_id:
        raise FieldError("site_id", "required")
    return readable_site(request, site_id)


def int_param(q: QueryParams, name: str, default: int, lo: int = 1, hi: int = 1000) -> int:
    raw = q.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not lo <= int(raw) <= hi:
        raise FieldError(name, f"must be an integer from {lo} to {hi}")
    return int(raw)


def filters_param(q: QueryParams) -> list[Any]:
    raw = q.get("filters")
    if not raw:
        return []
    value = decode_json(raw, "filters")
    if not isinstance(value, list):
        raise FieldError("filters", "must be a JSON array of v2 filters")
    return value


def bool_param(q: QueryParams, name: str) -> bool:
    raw = q.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise FieldError(name, "must be true or false")
    return raw in ("true", "1")


# The imports' notes of the request being answered (a dict per request, see answer()).
_NOTES: ContextVar[dict[str, Any] | None] = ContextVar("footfall_report_notes", default=None)


def scope_of(q: QueryParams, site: SiteInfo, default_period: str = "30d") -> Scope:
    """The report's scope; ``with_imported=true`` (Plausible's v1 name; ``include_imports``
    too) adds imported aggregates where the query layer can (footfall/query/imported.py)."""
    rng = reports.date_range(q.get("period", default_period), q.get("from"), q.get("to"))
    name = "include_imports" if "include_imports" in q else "with_imported"
    imports = bool_param(q, name)
    notes = _NOTES.get()
    return Scope(site, rng, q.get("date") or None, filters_param(q), imports,
                 notes if notes is not None else {})  # fmt: skip


async def answer(report: Report, request: Request, site: SiteInfo) -> Response:
    """Run ``report`` for ``site`` off the event loop: ``{"success": true, "data"}``, a 400
    naming the parameter, or a 404 when the report finds nothing to answer about."""
    notes: dict[str, Any] = {}
    token = _NOTES.set(notes)
    try:
        with QUERY_SECONDS.time():
            data = await run_in_threadpool(
                report, request.query_params, site, request.app.state.services
            )
    except FieldError as exc:
        return validation_failed([exc])
    finally:
        _NOTES.reset(token)
    if data is None:
        return error(404, "Not found")
    # Asked for imports: whether the numbers hold them, as /api/v2/query's meta says.
    return JSON({"success": True, "data": data, **({"meta": notes} if notes else {})})


def endpoint(report: Report) -> Callable[[Request], Awaitable[Response]]:
    """Authorise by ``site_id`` and the caller's token or login, then :func:`answer`."""

    async def handle(request: Request) -> Response:
        try:
            site = site_of(request)
        except (AuthError, FieldError) as exc:
            return refusal(exc)
        return await answer(report, request, site)

    return handle


# -- reports over QueryRunner -------------------------------------------------------------


def summary(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    return reports.summary(svc.runner, scope_of(q, site))


def trends(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    metrics = [m.strip() for m in q.get("metrics", "visitors,pageviews").split(",") if m.strip()]
    if not metrics or len(metrics) != len(set(metrics)):
        raise FieldError("metrics", "a comma-separated list of distinct metrics")
    return reports.trends(svc.runner, scope_of(q, site), q.get("interval", "day"), metrics)


def pages(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    return reports.pages(
        svc.runner, scope_of(q, site), q.get("kind", "all"), int_param(q, "limit", 10)
    )


def _breakdown(report: str, default: str) -> Report:
    def run(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
        by = q.get("by", default)
        return reports.breakdown(
            svc.runner, scope_of(q, site), report, by, int_param(q, "limit", 10)
        )

    return run


def custom_events(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    name, prop = q.get("name") or None, q.get("property") or None
    return reports.custom_events(
        svc.runner, scope_of(q, site), name, prop, int_param(q, "limit", 10)
    )


def realtime(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    return reports.realtime(svc.runner, site, int_param(q, "limit", 10))


def performance(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    return reports.performance(svc.runner, scope_of(q, site), int_param(q, "limit", 10))


def funnel(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    """One of the site's funnels (``funnel_id``, from ``/api/v1/funnels``) over the period."""
    funnel_id = int_param(q, "funnel_id", 0, hi=2**31 - 1)
    if not funnel_id:
        raise FieldError("funnel_id", "required: an id from /api/v1/funnels")
    found = [f for f in SitePrefs(svc.meta).funnels(site.id) if f.id == funnel_id]
    if not found:
        return None  # 404: no such funnel on this site
    steps = [funnels.Step(g.name, g.query_filters()) for g in found[0].steps]
    data = funnels.report(
        svc.runner, scope_of(q, site), steps, found[0].window_hours, q.get("breakdown") or None,
        q.get("compare") or None, int_param(q, "limit", 10),
    )  # fmt: skip
    return {"funnel": {"id": funnel_id, "name": found[0].name}, **data}


def funnel_list(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    """The site's funnels with their steps' goal names, for ``/api/v1/funnel``."""
    return [f.listing() for f in SitePrefs(svc.meta).funnels(site.id)]


# -- visits one by one (direct SQL) -------------------------------------------------------


def session_list(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    query = reports.query(scope_of(q, site))
    p = svc.runner.resolve(query, site)
    limit = int_param(q, "limit", 50, hi=500)
    return sessions.list_sessions(svc.runner, site, p, query.filters, limit, q.get("cursor"))


def journey(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    user, visitor = q.get("user_id"), q.get("visitor_id")
    limit = int_param(q, "limit", 100)
    if bool(user) == bool(visitor):
        raise FieldError("user_id", "give exactly one of user_id or visitor_id")
    if visitor:
        vid = sessions.parse_id(visitor, "visitor_id")
        return sessions.journey(svc.store, site.id, visitor_id=vid, limit=limit)
    return sessions.journey(svc.store, site.id, user_id=user, limit=limit)


async def session_timeline(request: Request) -> Response:
    sid = request.path_params["session_id"]

    def run(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
        return sessions.timeline(svc.store, site.id, sessions.parse_id(sid, "session_id"))

    return await endpoint(run)(request)


ROUTES = [
    Route("/api/v1/summary", endpoint(summary), methods=["GET"]),
    Route("/api/v1/trends", endpoint(trends), methods=["GET"]),
    Route("/api/v1/pages", endpoint(pages), methods=["GET"]),
    Route("/api/v1/devices", endpoint(_breakdown("devices", "device")), methods=["GET"]),
    Route("/api/v1/sources", endpoint(_breakdown("sources", "source")), methods=["GET"]),
    Route("/api/v1/countries", endpoint(_breakdown("countries", "country")), methods=["GET"]),
    Route("/api/v1/events", endpoint(custom_events), methods=["GET"]),
    Route("/api/v1/realtime", endpoint(realtime), methods=["GET"]),
    Route("/api/v1/performance", endpoint(performance), methods=["GET"]),
    Route("/api/v1/funnels", endpoint(funnel_list), methods=["GET"]),
    Route("/api/v1/funnel", endpoint(funnel), methods=["GET"]),
    Route("/api/v1/sessions", endpoint(session_list), methods=["GET"]),
    Route("/api/v1/sessions/{session_id}", session_timeline, methods=["GET"]),
    Route("/api/v1/journey", endpoint(journey), methods=["GET"]),
]
