"""Who may see which dashboard page: login required, then a role on the site.

Handlers raise :class:`Denied` (or :class:`NotLoggedIn`); :func:`guarded` turns those into
a redirect to the login page or an error page, so handlers stay straight-line code. A site
the user may not read is "not found", whether or not it exists (docs/design.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from footfall.dashboard.render import error_page, redirect
from footfall.dashboard.sessions import accounts, csrf_ok, current_login, services
from footfall.meta.repo import SiteInfo
from footfall.meta.users import LoginInfo

Handler = Callable[[Request], Awaitable[Response]]


class Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class NotLoggedIn(Exception):
    pass


async def posted_form(request: Request) -> FormData:
    """The submitted form of a logged-in page; :class:`Denied` (403) when its CSRF token is
    not this session's (a stale page, or another site posting here)."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise Denied(403, "Your form expired; reload the page and try again.")
    return form


def require_login(request: Request) -> LoginInfo:
    login = current_login(request)
    if login is None:
        raise NotLoggedIn
    return login


def _site_and_role(request: Request, site_id: str) -> tuple[SiteInfo, str]:
    login = require_login(request)
    role = accounts(request).role_on(login.user, site_id)
    site = services(request).meta.get_site(site_id) if role else None
    if site is None or role is None:
        raise Denied(404, "Site not found")
    return site, role


async def site_access(request: Request, need: str = "viewer") -> tuple[SiteInfo, str]:
    """The path's site and the user's role on it; ``need="admin"`` refuses viewers (403)."""
    site, role = await run_in_threadpool(_site_and_role, request, request.path_params["site_id"])
    if need == "admin" and role != "admin":
        raise Denied(403, "Only the site's admins may change its settings.")
    return site, role


def guarded(handler: Handler) -> Handler:
    """Run a page handler, answering NotLoggedIn with the login page and Denied with an
    error page."""

    @wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except NotLoggedIn:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                return error_page(request, 401, "Log in first.")
            return redirect("/login?next=" + quote(target, safe=""))
        except Denied as exc:
            return error_page(request, exc.status, exc.message)

    return wrapper
