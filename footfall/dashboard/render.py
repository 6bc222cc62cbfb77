"""Rendering pages: one Jinja2 environment (autoescape on for every template, strict
undefined variables) and the security headers every dashboard page carries.

The Content-Security-Policy allows scripts from this origin only, so even a string that
slipped past escaping could not run: no inline scripts exist in any template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from footfall import __version__
from footfall.dashboard.humanize import counted, duration, local_time
from footfall.dashboard.sessions import (
    CSRF_COOKIE,
    anonymous_csrf,
    csrf_token,
    current_user,
    set_cookie,
)

TEMPLATES = Path(__file__).parent / "templates"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'; object-src 'none'")  # fmt: skip
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template, whatever its file name
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["local_time"] = local_time
env.filters["duration"] = duration
env.filters["counted"] = counted


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render ``template`` with the viewer, CSRF token and version in its context."""
    ctx: dict[str, Any] = {
        "request": request,
        "user": current_user(request),
        "csrf": csrf_token(request),
        "version": __version__,
        "shared": False,
    }
    ctx.update(context or {})
    response = HTMLResponse(env.get_template(template).render(ctx), status, SECURITY_HEADERS)
    if ctx["user"] is None and request.cookies.get(CSRF_COOKIE) != anonymous_csrf(request):
        set_cookie(request, response, CSRF_COOKIE, anonymous_csrf(request), 86400)
    return response


def redirect(url: str, status: int = 303) -> Response:
    return RedirectResponse(url, status, headers={"cache-control": "no-store"})


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message}, status)
