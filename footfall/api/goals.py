"""Goals and funnels over the API: ``/api/v1/sites/{site_id}/goals`` and ``/funnels``.

``GET`` lists them for anyone who may read the site; ``POST`` creates, ``PUT .../{id}``
replaces and ``DELETE .../{id}`` deletes, with admin rights only: the admin token, or a
dashboard login that is an admin of the site (with the session's ``X-CSRF-Token``). A
read token may list but not change (403). The rules are the settings page's
(:mod:`footfall.meta.siterules`); a bad value is a 400 naming the body field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from msgspec import Meta
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from footfall.api.admin import _body
from footfall.api.auth import REFUSED, AuthError, bearer, is_admin, readable_site, refusal
from footfall.api.responses import JSON, error
from footfall.dashboard.sessions import csrf_header_ok, current_login
from footfall.ingest.validate import FieldError
from footfall.meta.prefs import FunnelInfo, GoalInfo, SitePrefs
from footfall.meta.users import Accounts
from footfall.runtime import Services

# The settings form's field names -> this API's body fields.
FIELDS = {"goal_name": "name", "goal_kind": "kind", "goal_path": "target",
          "goal_event": "target", "goal_prop_key": "prop_key", "goal_prop_value": "prop_value",
          "goal_currency": "currency",
          "funnel_name": "name", "funnel_steps": "steps",
          "funnel_window": "window_hours"}  # fmt: skip


class GoalBody(msgspec.Struct, forbid_unknown_fields=True):
    """A goal: ``kind`` page (``target`` a path glob: ``*`` one segment, ``**`` any depth)
    or event (``target`` an event name), optionally narrowed by one property."""

    name: Annotated[str, Meta(max_length=100)]
    kind: str
    target: Annotated[str, Meta(max_length=500)]
    prop_key: Annotated[str, Meta(max_length=300)] = ""
    prop_value: Annotated[str, Meta(max_length=2000)] = ""
    currency: Annotated[str, Meta(max_length=3)] = ""  # a revenue goal's ISO 4217 code


class FunnelBody(msgspec.Struct, forbid_unknown_fields=True):
    """A funnel: 2 to 8 of the site's goal ids, in order, and its conversion window: the
    later steps within ``window_hours`` of the first by the same visitor (default 24), or
    0 for within the same visit."""

    name: Annotated[str, Meta(max_length=100)]
    steps: list[Annotated[int, Meta(ge=1, le=2**31 - 1)]]
    window_hours: int = 24


def goal_json(g: GoalInfo) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "kind": g.kind, "target": g.target,
            "prop_key": g.prop_key, "prop_value": g.prop_value,
            "currency": g.currency or None}  # fmt: skip


def funnel_json(f: FunnelInfo) -> dict[str, Any]:
    return {**f.listing(), "goal_ids": [g.id for g in f.steps], "window_hours": f.window_hours}


def _admin_of(request: Request, site_id: str) -> None:
    """Admin rights on the site, or AuthError (401 no caller, 403 no rights, 404 no site)."""
    svc: Services = request.app.state.services
    token = bearer(request)
    if token is not None and is_admin(svc, token):
        if svc.meta.get_site(site_id) is None:
            raise AuthError(404, "Site not found")
        return
    readable_site(request, site_id)  # 401/404 for callers who may not even read it
    login = current_login(request) if token is None else None
    if login is None or Accounts(svc.meta).role_on(login.user, site_id) != "admin":
        raise AuthError(403, "Changing goals and funnels needs admin rights on the site")
    if not csrf_header_ok(request, login):
        raise AuthError(403, "Missing or invalid X-CSRF-Token for a cookie login")


Action = Callable[[Request, SitePrefs, str], Awaitable[tuple[int, Any]]]


def handler(action: Action, write: bool) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        site_id = request.path_params["site_id"]
        svc: Services = request.app.state.services
        try:
            if write:
                await run_in_threadpool(_admin_of, request, site_id)
            else:
                await run_in_threadpool(readable_site, request, site_id)
            status, data = await action(request, SitePrefs(svc.meta), site_id)
        except REFUSED as exc:
            return refusal(exc, FIELDS)
        if data is None:
            return error(status, "Not found")
        return JSON({"success": True, "data": data}, status)

    return handle


def _id(request: Request, name: str) -> int:
    raw = request.path_params[name]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise FieldError(name, "must be a positive integer")
    return int(raw)


async def list_goals(request: Request, p: SitePrefs, site: str) -> tuple[int, Any]:
    return 200, [goal_json(g) for g in await run_in_threadpool(p.goals, site)]


async def create_goal(request: Request, p: SitePrefs, site: str) -> tuple[int, Any]:
    b = await _body(request, GoalBody)
    assert isinstance(b, GoalBody)
    goal = await run_in_threadpool(
        p.create_goal, site, b.name, b.kind, b.target, b.prop_key, b.prop_value, b.currency
    )
    return 201, goal_json(goal)


async def update_goal(request: Request, p: SitePrefs, site: str) -> tuple[int, Any]:
    goal_id = _id(request, "goal_id")
    b = await _body(request, GoalBody)
    assert isinstance(b, GoalBody)
    goal = await run_in_threadpool(
        p.update_goal,
        site,
        goal_id,
        b.name,
        b.kind,
        b.target,
        b.prop_key,
        b.prop_value,
        b.currency,
    )
    return (200, goal_json(goal)) if goal else (404, None)


async def delete_goal(request: Request, p: SitePrefs, site: str) -> tuple[int, Any]:
    done = await run_in_threadpool(p.delete_goal, site, _id(request, "goal_id"))
    return (200, {"deleted": True}) if done else (404, None)


async def list_funnels(request: Request, p: SitePrefs, site: str) -> tuple[int, Any]:
    return 200, [funnel_json(f) for f in await run_in_threadpool(p.funnels, site)]


async def create_funnel(request: Request, p: SitePrefs, site: str) -> tuple[int, Any]:
    b = await _body(request, FunnelBody)
    assert isinstance(b, FunnelBody)
    funnel = await run_in_threadpool(p.create_funnel, site, b.name, b.steps, b.window_hours)
    return 201, funnel_json(funnel)


async def update_funnel(request: Request, p: SitePrefs, site: str) -> tuple[int, Any]:
    funnel_id = _id(request, "funnel_id")
    b = await _body(request, FunnelBody)
    assert isinstance(b, FunnelBody)
    funnel = await run_in_threadpool(
        p.update_funnel, site, funnel_id, b.name, b.steps, b.window_hours
    )
    return (200, funnel_json(funnel)) if funnel else (404, None)


async def delete_funnel(request: Request, p: SitePrefs, site: str) -> tuple[int, Any]:
    done = await run_in_threadpool(p.delete_funnel, site, _id(request, "funnel_id"))
    return (200, {"deleted": True}) if done else (404, None)


BASE = "/api/v1/sites/{site_id}"
ROUTES = [
    Route(f"{BASE}/goals", handler(list_goals, False), methods=["GET"]),
    Route(f"{BASE}/goals", handler(create_goal, True), methods=["POST"]),
    Route(f"{BASE}/goals/{{goal_id}}", handler(update_goal, True), methods=["PUT"]),
    Route(f"{BASE}/goals/{{goal_id}}", handler(delete_goal, True), methods=["DELETE"]),
    Route(f"{BASE}/funnels", handler(list_funnels, False), methods=["GET"]),
    Route(f"{BASE}/funnels", handler(create_funnel, True), methods=["POST"]),
    Route(f"{BASE}/funnels/{{funnel_id}}", handler(update_funnel, True), methods=["PUT"]),
    Route(f"{BASE}/funnels/{{funnel_id}}", handler(delete_funnel, True), methods=["DELETE"]),
]
