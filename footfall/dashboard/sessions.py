"""Who is logged in, and the cookies and CSRF tokens that say so.

A login is a server-side session (:class:`~footfall.meta.users.LoginInfo`): the
``ff_session`` cookie carries a random token (HttpOnly, SameSite=Lax, Secure when the
request came over https, directly or through a trusted proxy). Every form of a logged-in
page carries the session's CSRF token in a hidden field; forms shown before login (login,
setup, shared-link password) use a double-submit token: a random ``ff_csrf`` cookie that
the hidden field must repeat. JSON calls made with the cookie send the session token in
an ``X-CSRF-Token`` header instead.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from footfall.api.clientip import client_ip
from footfall.api.ratelimit import RateLimiter
from footfall.meta.users import Accounts, LoginInfo, UserInfo
from footfall.runtime import Services

SESSION_COOKIE = "ff_session"
CSRF_COOKIE = "ff_csrf"
# Password tries per 5 minutes: from one address in all, and from one address for one
# email (or one shared link). Nothing counts per email alone: a limit that anyone could
# use up from anywhere would lock the account's owner out (OWASP, "Account lockout").
LOGIN_TRIES_PER_ADDRESS, LOGIN_TRIES_PER_EMAIL, LOGIN_WINDOW_S = 30, 10, 300
_UNSET = object()


@dataclass
class DashboardState:
    """The dashboard's password-try rate limits: in process, or shared by every server
    through Redis (``footfall/shared/``), so that more servers give no more tries."""

    tries_by_address: RateLimiter
    tries_by_address_and_name: RateLimiter

    @classmethod
    def of(cls, request: Request) -> DashboardState:
        state: DashboardState | None = getattr(request.app.state, "dashboard", None)
        if state is None:
            limiter = services(request).shared.limiter
            state = cls(
                limiter("login", LOGIN_TRIES_PER_ADDRESS / LOGIN_WINDOW_S, LOGIN_TRIES_PER_ADDRESS),
                limiter(
                    "login-name", LOGIN_TRIES_PER_EMAIL / LOGIN_WINDOW_S, LOGIN_TRIES_PER_EMAIL
                ),
            )
            request.app.state.dashboard = state
        return state

    async def password_try(self, address: str, name: str) -> float | None:
        """Charge one password try for ``name`` (an email, a shared link) from ``address``;
        None when allowed, else the seconds to wait."""
        return await self.tries_by_address.hit(address) or await self.tries_by_address_and_name.hit(
            f"{address}\n{name}"
        )


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def accounts(request: Request) -> Accounts:
    return Accounts(services(request).meta)


def current_login(request: Request) -> LoginInfo | None:
    """The request's live login session, if its cookie names one (looked up once)."""
    cached: object = getattr(request.state, "login", _UNSET)
    if cached is not _UNSET:
        return cached if isinstance(cached, LoginInfo) else None
    token = request.cookies.get(SESSION_COOKIE, "")
    login = accounts(request).session_for(token) if token else None
    request.state.login = login
    return login


def current_user(request: Request) -> UserInfo | None:
    login = current_login(request)
    return login.user if login else None


def is_https(request: Request) -> bool:
    """Whether the browser's connection is https (trusting X-Forwarded-Proto only from a
    configured proxy)."""
    if request.url.scheme == "https":
        return True
    if services(request).settings.trusted_proxies > 0:
        proto = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        return proto == "https"
    return False


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
        secure=is_https(request),
    )  # fmt: skip


def log_in(request: Request, response: Response, user: UserInfo) -> LoginInfo:
    token, login = accounts(request).start_session(user)
    set_cookie(request, response, SESSION_COOKIE, token, 14 * 86400)
    request.state.login = login
    return login


def log_out(request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        accounts(request).end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def client_key(request: Request) -> str:
    return client_ip(request, services(request).settings.trusted_proxies)


# -- CSRF ------------------------------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def anonymous_csrf(request: Request) -> str:
    """The double-submit token for forms shown before login (cookie set by ``render``)."""
    token: str | None = getattr(request.state, "csrf_anon", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        request.state.csrf_anon = token
    return token


def csrf_token(request: Request) -> str:
    login = current_login(request)
    return login.csrf_token if login else anonymous_csrf(request)


def csrf_ok(request: Request, submitted: object) -> bool:
    """Whether a form's token matches the login session's (or, before login, the cookie's)."""
    if not isinstance(submitted, str):
        return False
    login = current_login(request)
    if login is not None:
        return _same(submitted, login.csrf_token)
    return _same(submitted, request.cookies.get(CSRF_COOKIE, ""))


def csrf_header_ok(request: Request, login: LoginInfo) -> bool:
    return _same(request.headers.get("x-csrf-token", ""), login.csrf_token)
