"""Public shared links: one site's dashboard, read only, without login, and nothing else.

A link may carry a password; entering it sets a cookie signed (itsdangerous) with the
link's own password hash, so changing or deleting the link invalidates it. The page's
queries go to ``POST /share/{slug}/query`` and its funnel panel's to
``GET /share/{slug}/funnel``, which run the same code as ``/api/v2/query`` and
``/api/v1/funnel`` but only ever for the link's site.
"""

from __future__ import annotations

import time

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall.api.query import MAX_BODY, site_query
from footfall.api.ratelimit import retry_after_header
from footfall.api.reports import answer, funnel
from footfall.api.responses import JSON, error, validation_failed
from footfall.dashboard.live import live_response
from footfall.dashboard.render import error_page, redirect, render
from footfall.dashboard.sessions import (
    DashboardState,
    accounts,
    client_key,
    csrf_ok,
    services,
    set_cookie,
)
from footfall.dashboard.site_views import funnel_specs, goal_specs
from footfall.ingest.validate import FieldError
from footfall.meta.repo import SiteInfo
from footfall.meta.users import ShareInfo, verify_password
from footfall.query.model import query_body

ACCESS_MAX_AGE = 86400


def _cookie_name(share: ShareInfo) -> str:
    return f"ff_share_{share.id}"


def _signer(share: ShareInfo) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(share.password_hash or "", salt="footfall-share")


def _unlocked(request: Request, share: ShareInfo) -> bool:
    if not share.has_password:
        return True
    value = request.cookies.get(_cookie_name(share), "")
    try:
        return bool(value) and _signer(share).loads(value, max_age=ACCESS_MAX_AGE) == share.slug
    except BadSignature:
        return False


def _lookup(request: Request) -> tuple[ShareInfo, SiteInfo] | None:
    share = accounts(request).share_for(request.path_params["slug"])
    site = services(request).meta.get_site(share.site_id) if share else None
    return (share, site) if share and site else None


async def share_page(request: Request) -> Response:
    found = await run_in_threadpool(_lookup, request)
    if found is None:
        return error_page(request, 404, "This link does not exist (any more).")
    share, site = found
    if not _unlocked(request, share):
        return render(request, "share_password.html", {"slug": share.slug, "error": None})
    base = f"/share/{share.slug}"
    # The goals panel too, as on the owner's dashboard: its queries go through the link's
    # own query endpoint, which answers for this site only.
    goals = await run_in_threadpool(goal_specs, request, site)
    funnels = await run_in_threadpool(funnel_specs, request, site)
    return render(request, "dashboard.html", {
        "site": site, "role": "viewer", "mode": "dashboard", "shared": True,
        "query_url": f"{base}/query", "live_url": f"{base}/live", "props_url": "",
        "funnel_url": f"{base}/funnel", "base_url": base, "goals": goals, "funnels": funnels,
    })  # fmt: skip


async def share_unlock(request: Request) -> Response:
    found = await run_in_threadpool(_lookup, request)
    if found is None:
        return error_page(request, 404, "This link does not exist (any more).")
    share, _ = found
    form = await request.form()
    ctx = {"slug": share.slug}
    if not csrf_ok(request, form.get("csrf")):
        return render(request, "share_password.html", {**ctx, "error": "Try again."}, 403)
    wait = await DashboardState.of(request).password_try(client_key(request), "share:" + share.slug)
    if wait is not None:
        busy = {**ctx, "error": "Too many attempts; wait a few minutes."}
        response: Response = render(request, "share_password.html", busy, 429)
        response.headers["retry-after"] = retry_after_header(wait)
        return response
    ok = await run_in_threadpool(verify_password, share.password_hash, str(form.get("password")))
    if not ok:
        return render(request, "share_password.html", {**ctx, "error": "Wrong password."}, 401)
    response = redirect(f"/share/{share.slug}")
    set_cookie(request, response, _cookie_name(share), _signer(share).dumps(share.slug),
               ACCESS_MAX_AGE)  # fmt: skip
    return response


async def _allowed(request: Request) -> tuple[ShareInfo, SiteInfo] | Response:
    found = await run_in_threadpool(_lookup, request)
    if found is None:
        return error(404, "Site not found")
    if not _unlocked(request, found[0]):
        return error(401, "This link needs its password")
    return found


async def share_query(request: Request) -> Response:
    """``/api/v2/query`` for the link's site only (any other site_id is 404)."""
    started = time.perf_counter()
    allowed = await _allowed(request)
    if isinstance(allowed, Response):
        return allowed
    _, site = allowed
    body = await request.body()
    if len(body) > MAX_BODY:
        return validation_failed([FieldError("body", f"larger than {MAX_BODY} bytes")])
    try:
        raw = query_body(body)
        if raw["site_id"] != site.id:
            return error(404, "Site not found")
        query = await run_in_threadpool(site_query, request, raw, site)  # goals attached
        result = await run_in_threadpool(services(request).runner.run, query, site)
    except FieldError as exc:
        return validation_failed([exc])
    result["meta"]["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return JSON(result)


async def share_funnel(request: Request) -> Response:
    """``/api/v1/funnel`` for the link's site only (any other site_id is 404)."""
    allowed = await _allowed(request)
    if isinstance(allowed, Response):
        return allowed
    _, site = allowed
    if request.query_params.get("site_id", site.id) != site.id:
        return error(404, "Site not found")
    return await answer(funnel, request, site)


async def share_live(request: Request) -> Response:
    allowed = await _allowed(request)
    if isinstance(allowed, Response):
        return allowed
    return live_response(request, services(request), allowed[1])
