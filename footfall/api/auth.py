"""Who is asking: the admin token, a site's read token, or nobody.

A missing or bad token is 401; a site the caller may not see is 404 whether or not it
exists (DESIGN.md), so a token for one site learns nothing about others.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.requests import Request

from footfall.meta.repo import SiteInfo
from footfall.runtime import Services


@dataclass(frozen=True, slots=True)
class Caller:
    admin: bool
    site_id: str | None  # the one site a read token grants


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_admin(svc: Services, token: str | None) -> bool:
    admin = svc.settings.admin_token
    return bool(admin and token and hmac.compare_digest(admin.encode(), token.encode()))


def require_admin(request: Request) -> Services:
    svc: Services = request.app.state.services
    if not svc.settings.admin_token:
        raise AuthError(403, "Admin API disabled: set FOOTFALL_ADMIN_TOKEN or use the CLI")
    if not is_admin(svc, bearer(request)):
        raise AuthError(401, "Missing or invalid admin token")
    return svc


def readable_site(request: Request, site_id: str) -> SiteInfo:
    """The site, if the caller may read it; raises AuthError(401/404) otherwise."""
    svc: Services = request.app.state.services
    token = bearer(request)
    if token is None:
        raise AuthError(401, "Missing Authorization: Bearer token")
    if is_admin(svc, token):
        site = svc.meta.get_site(site_id)
    else:
        site = svc.meta.site_for_read_token(token)
        if site is None:
            raise AuthError(401, "Invalid token")
        if site.id != site_id:
            site = None
    if site is None:
        raise AuthError(404, "Site not found")
    return site
