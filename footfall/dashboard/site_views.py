"""Pages of a logged-in user: the site list with each site's visitors over a range (and
creating a site), a site's dashboard and realtime view, its sessions list and one session's
timeline, the live count stream, and the sites the site switcher offers.

The dashboard and realtime pages are shells: they render at once and the browser fetches
every figure from ``POST /api/v2/query`` (authorised by the session cookie).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from footfall.dashboard.access import Denied, guarded, posted_form, require_login, site_access
from footfall.dashboard.live import live_response
from footfall.dashboard.render import redirect, render
from footfall.dashboard.sessions import accounts, services
from footfall.dashboard.settings_views import origin, settings_context
from footfall.dashboard.siteops import property_keys, snippet
from footfall.ingest.validate import FieldError
from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import SiteInfo
from footfall.meta.values import MetaValidationError, NotAllowedError
from footfall.query import overview
from footfall.query import sessions as visits
from footfall.query.model import parse_query


def _readable_sites(request: Request) -> list[SiteInfo]:
    login = require_login(request)
    ids = accounts(request).site_ids_for(login.user)
    sites = services(request).meta.list_sites()
    return sites if ids is None else [s for s in sites if s.id in set(ids)]


async def index(request: Request) -> Response:
    if await run_in_threadpool(accounts(request).count_users) == 0:
        return redirect("/setup")
    return await _index(request)


@guarded
async def _index(request: Request) -> Response:
    try:
        period = overview.check_range(request.query_params.get("period"))
    except FieldError as exc:
        raise Denied(400, f"{exc.field}: {exc.message}") from None
    sites = await run_in_threadpool(_readable_sites, request)
    trends = await run_in_threadpool(overview.trends, services(request).runner, sites, period)
    can_create = require_login(request).user.can_create_sites
    return render(request, "sites.html", {
        "sites": sites, "error": None, "form": {}, "can_create": can_create, "trends": trends,
        "period": period, "ranges": overview.RANGES, "sparkline": overview.sparkline,
    })  # fmt: skip


@guarded
async def site_choices(request: Request) -> Response:
    """The sites this user can open, for the site switcher on every site page."""
    sites = await run_in_threadpool(_readable_sites, request)
    choices = [{"id": s.id, "name": s.name} for s in sites]
    return JSONResponse({"sites": choices}, headers={"cache-control": "no-store"})


@guarded
async def create_site(request: Request) -> Response:
    """A new site (the owner, or a user the owner allows; the maker becomes its admin)."""
    login = require_login(request)
    form = await posted_form(request)
    name, tz = str(form.get("name", "")), str(form.get("timezone", "UTC")) or "UTC"
    domains = str(form.get("domains", "")).replace(",", " ").split()
    create = accounts(request).create_site
    try:
        site, key = await run_in_threadpool(create, login.user, name, domains, tz)
    except NotAllowedError as exc:
        raise Denied(403, str(exc)) from None
    except MetaValidationError as exc:
        sites = await run_in_threadpool(_readable_sites, request)
        return render(request, "sites.html", {
            "sites": sites, "error": f"{exc.field}: {exc.message}", "can_create": True,
            "form": {"name": name, "domains": " ".join(domains), "timezone": tz},
        }, 400)  # fmt: skip
    ctx = await run_in_threadpool(settings_context, request, site, "admin")
    ctx.update(new_key=key, notice="Site created.", snippet=snippet(origin(request), key))
    return render(request, "settings.html", ctx)


def _shell(request: Request, site: SiteInfo, role: str, mode: str) -> dict[str, Any]:
    base = f"/sites/{site.id}"
    return {
        "site": site, "role": role, "mode": mode, "query_url": "/api/v2/query",
        "live_url": f"{base}/live", "props_url": f"{base}/props", "base_url": base,
        "funnel_url": "/api/v1/funnel",
    }  # fmt: skip


def goal_specs(request: Request, site: SiteInfo) -> list[dict[str, Any]]:
    """The site's goals, in the order the dashboard's goals table lists them (goals.js
    reads their figures from one ``event:goal`` breakdown), with the filters that select
    each one's completions."""
    return [
        {"name": g.name, "filters": g.query_filters()}
        for g in SitePrefs(services(request).meta).goals(site.id)
    ]


def funnel_specs(request: Request, site: SiteInfo) -> list[dict[str, Any]]:
    """The site's funnels as the dashboard's funnel panel lists them (see funnels.js); the
    figures come from the funnel endpoint (``/api/v1/funnel``, or a shared link's own)."""
    return [f.listing() for f in SitePrefs(services(request).meta).funnels(site.id)]


async def _dashboard_page(request: Request, view: str) -> Response:
    """The one-page dashboard; ``view`` picks the tab it opens on (dashboard or realtime)."""
    site, role = await site_access(request)
    ctx = _shell(request, site, role, view)
    ctx["goals"] = await run_in_threadpool(goal_specs, request, site)
    ctx["funnels"] = await run_in_threadpool(funnel_specs, request, site)
    return render(request, "dashboard.html", ctx)


@guarded
async def dashboard(request: Request) -> Response:
    return await _dashboard_page(request, "dashboard")


@guarded
async def realtime(request: Request) -> Response:
    return await _dashboard_page(request, "realtime")


@guarded
async def live(request: Request) -> Response:
    site, _ = await site_access(request)
    return live_response(request, services(request), site)


@guarded
async def props(request: Request) -> Response:
    site, _ = await site_access(request)
    event = request.query_params.get("event", "")[:200]
    keys = await run_in_threadpool(property_keys, services(request), site, event)
    return JSONResponse({"event": event, "keys": keys}, headers={"cache-control": "no-store"})


def _sessions_page(request: Request, site: SiteInfo) -> dict[str, Any]:
    svc = services(request)
    rng = request.query_params.get("period", "30d")
    query = parse_query({"site_id": site.id, "metrics": ["visitors"], "date_range": rng})
    p = svc.runner.resolve(query, site)
    cursor = request.query_params.get("cursor") or None
    page = visits.list_sessions(svc.runner, site, p, query.filters, 50, cursor)
    return {"site": site, "period": rng, "page": page, "first": p.first, "last": p.last}


@guarded
async def sessions_list(request: Request) -> Response:
    site, role = await site_access(request)
    try:
        ctx = await run_in_threadpool(_sessions_page, request, site)
    except FieldError as exc:
        raise Denied(400, f"{exc.field}: {exc.message}") from None
    return render(request, "sessions.html", {**ctx, "role": role})


@guarded
async def session_timeline(request: Request) -> Response:
    site, role = await site_access(request)
    try:
        sid = visits.parse_id(request.path_params["session_id"], "session_id")
    except FieldError:
        raise Denied(404, "No such visit") from None
    found = await run_in_threadpool(visits.timeline, services(request).store, site.id, sid)
    if found is None:
        raise Denied(404, "No such visit")
    return render(request, "session.html", {"site": site, "role": role, **found})
