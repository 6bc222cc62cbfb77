"""The instance owner's user list: every user, their roles, a form to add one, and who
besides the owner may create sites.

Only the owner sees it (anyone else gets 403). Site roles are given on each site's
settings page (or with ``footfall users grant``); site creation is allowed here or with
``footfall users allow-sites``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall.dashboard.access import Denied, guarded, posted_form, require_login
from footfall.dashboard.render import render
from footfall.dashboard.sessions import accounts, services
from footfall.meta.values import MetaValidationError


def _require_owner(request: Request) -> None:
    if not require_login(request).user.is_owner:
        raise Denied(403, "Only the instance owner manages users.")


def _context(request: Request) -> dict[str, Any]:
    acc = accounts(request)
    roles: dict[int, list[tuple[str, str]]] = {}
    for site in services(request).meta.list_sites():
        for user, role in acc.members(site.id):
            roles.setdefault(user.id, []).append((site.name, role))
    return {"users": acc.list_users(), "roles": roles, "error": None, "notice": None}


@guarded
async def users_page(request: Request) -> Response:
    _require_owner(request)
    return render(request, "users.html", await run_in_threadpool(_context, request))


@guarded
async def create_user(request: Request) -> Response:
    _require_owner(request)
    form = await posted_form(request)
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    owner, maker = form.get("owner") == "on", form.get("may_create_sites") == "on"
    create = accounts(request).create_user
    status, outcome = 200, {}
    try:
        user = await run_in_threadpool(create, email, password, owner=owner, may_create_sites=maker)
        outcome = {"notice": f"{user.email} created."}
    except MetaValidationError as exc:
        status, outcome = 400, {"error": f"{exc.field}: {exc.message}"}
    ctx = await run_in_threadpool(_context, request)
    return render(request, "users.html", {**ctx, **outcome}, status)


@guarded
async def site_creation(request: Request) -> Response:
    """Allow a user to create sites (``allow=on``) or stop them (anything else)."""
    _require_owner(request)
    form = await posted_form(request)
    user_id, allowed = str(form.get("user_id", "")), form.get("allow") == "on"
    if not user_id.isdigit():
        raise Denied(400, "user_id: expected a number")
    done = await run_in_threadpool(accounts(request).allow_site_creation, int(user_id), allowed)
    if not done:
        raise Denied(404, "No such user")
    ctx = await run_in_threadpool(_context, request)
    notice = "May now create sites." if allowed else "May no longer create sites."
    return render(request, "users.html", {**ctx, "notice": notice})
