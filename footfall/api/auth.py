"""Who is asking: the admin token, a site's read token, a dashboard login, or nobody.

Without a bearer token, the dashboard's session cookie is consulted: a logged-in user may
read the sites they are a member of (the owner: every site), and the owner may call the
admin endpoints (with the session's CSRF token in ``X-CSRF-Token``). Bearer tokens
behave exactly as before whether or not a cookie is present.

A missing or bad token is 401; a site the caller may not see is 404 whether or not it
exists (docs/design.md), so a token for one site learns nothing about others.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from footfall.api.responses import JSON, error, validation_failed
from footfall.dashboard.sessions import csrf_header_ok, current_login
from footfall.ingest.validate import FieldError
from footfall.meta.repo import SiteInfo
from footfall.meta.users import Accounts
from footfall.meta.values import MetaValidationError
from footfall.runtime import Services


@dataclass(frozen=True, slots=True)
class Caller:
    admin: bool
    site_id: str | None  # the one site a read token grants


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


# What handlers answer in the native error envelope: who is asking (its own status), or
# what they sent (400 naming the field; the metadata layer's checks too).
REFUSED = (AuthError, FieldError, MetaValidationError)


def refusal(
    exc: AuthError | FieldError | MetaValidationError, fields: Mapping[str, str] | None = None
) -> JSON:
    """The answer to a refused request; ``fields`` renames a metadata field to the name the
    request used for it."""
    if isinstance(exc, AuthError):
        return error(exc.status, exc.message)
    if isinstance(exc, MetaValidationError):
        name = (fields or {}).get(exc.field, exc.field)
        return validation_failed([FieldError(name, exc.message)])
    return validation_failed([exc])


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_admin(svc: Services, token: str | None) -> bool:
    admin = svc.settings.admin_token
    return bool(admin and token and hmac.compare_digest(admin.encode(), token.encode()))


def require_admin(request: Request) -> Services:
    """The admin token, or (without a bearer token) a logged-in instance owner whose
    request carries the session's CSRF token in ``X-CSRF-Token``."""
    svc: Services = request.app.state.services
    if bearer(request) is None:
        login = current_login(request)
        if login is not None and login.user.is_owner:
            if not csrf_header_ok(request, login):
                raise AuthError(403, "Missing or invalid X-CSRF-Token for a cookie login")
            return svc
    if not svc.settings.admin_token:
        raise AuthError(403, "Admin API disabled: set FOOTFALL_ADMIN_TOKEN or use the CLI")
    if not is_admin(svc, bearer(request)):
        raise AuthError(401, "Missing or invalid admin token")
    return svc


def site_id_or_domain(request: Request, value: str) -> str:
    """The site id ``value`` names: a site's id, or a domain one site owns (Plausible's
    clients send the domain as ``site_id``). Unknown values are returned as they are, for
    the caller's 404."""
    meta = request.app.state.services.meta
    if meta.get_site(value) is not None:
        return value
    owner = meta.site_for_domain(value)
    return owner.id if owner is not None else value


def readable_site(request: Request, site_id: str) -> SiteInfo:
    """The site, if the caller may read it; raises AuthError(401/404) otherwise."""
    svc: Services = request.app.state.services
    token = bearer(request)
    if token is None:
        login = current_login(request)
        if login is None:
            raise AuthError(401, "Missing Authorization: Bearer token")
        role = Accounts(svc.meta).role_on(login.user, site_id) if isinstance(site_id, str) else None
        found = svc.meta.get_site(site_id) if role else None
        if found is None:
            raise AuthError(404, "Site not found")
        return found
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
