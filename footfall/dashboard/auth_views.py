"""Login, logout, the first-run setup page, and changing one's own password.

Login is rate limited per client address (30 tries in 5 minutes) and per address and
email (10), never per email alone, so failing on purpose elsewhere cannot lock an account's
owner out; a wrong email and a wrong password get the same answer in about the same time. The setup
page creates the instance owner and only works while no user exists.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall.api.ratelimit import retry_after_header
from footfall.dashboard.access import guarded, posted_form, require_login
from footfall.dashboard.render import error_page, redirect, render
from footfall.dashboard.sessions import (
    SESSION_COOKIE,
    DashboardState,
    accounts,
    client_key,
    csrf_ok,
    current_user,
    log_in,
    log_out,
)
from footfall.meta.values import MetaValidationError


def safe_next(value: object) -> str:
    """A local path to go to after login; anything else (other hosts, ``//x``) is ``/``."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    return "/" if parts.scheme or parts.netloc or "\\" in value else value


async def login_page(request: Request) -> Response:
    if await run_in_threadpool(accounts(request).count_users) == 0:
        return redirect("/setup")
    if current_user(request) is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return render(
        request,
        "login.html",
        {"error": None, "email": "", "next": safe_next(request.query_params.get("next"))},
    )


async def login_submit(request: Request) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    nxt = safe_next(form.get("next"))
    ctx = {"email": email, "next": nxt}
    if not csrf_ok(request, form.get("csrf")):
        return render(request, "login.html", {**ctx, "error": "Your form expired; try again."}, 403)
    wait = await DashboardState.of(request).password_try(client_key(request), email.strip().lower())
    if wait is not None:
        response: Response = render(
            request, "login.html",
            {**ctx, "error": "Too many login attempts. Wait a few minutes and try again."}, 429,
        )  # fmt: skip
        response.headers["retry-after"] = retry_after_header(wait)
        return response
    user = await run_in_threadpool(accounts(request).authenticate, email, password)
    if user is None:
        return render(request, "login.html", {**ctx, "error": "Wrong email or password."}, 401)
    response = redirect(nxt)
    await run_in_threadpool(log_in, request, response, user)
    return response


async def logout(request: Request) -> Response:
    form = await request.form()
    if current_user(request) is not None and not csrf_ok(request, form.get("csrf")):
        return error_page(request, 403, "Your form expired; reload the page and try again.")
    response = redirect("/login")
    await run_in_threadpool(log_out, request, response)
    return response


async def setup_page(request: Request) -> Response:
    if await run_in_threadpool(accounts(request).count_users) > 0:
        return error_page(request, 404, "Setup is finished: log in instead.")
    return render(request, "setup.html", {"error": None, "email": ""})


async def setup_submit(request: Request) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    if await run_in_threadpool(accounts(request).count_users) > 0:
        return error_page(request, 404, "Setup is finished: log in instead.")
    if not csrf_ok(request, form.get("csrf")):
        return render(request, "setup.html",
                      {"email": email, "error": "Your form expired; try again."}, 403)  # fmt: skip
    if password != str(form.get("password2", "")):
        return render(request, "setup.html",
                      {"email": email, "error": "The passwords differ."}, 400)  # fmt: skip
    try:
        user = await run_in_threadpool(accounts(request).create_first_owner, email, password)
    except MetaValidationError as exc:
        return render(request, "setup.html",
                      {"email": email, "error": f"{exc.field}: {exc.message}"}, 400)  # fmt: skip
    if user is None:
        return error_page(request, 404, "Setup is finished: log in instead.")
    response = redirect("/")
    await run_in_threadpool(log_in, request, response, user)
    return response


@guarded
async def account_page(request: Request) -> Response:
    require_login(request)
    return render(request, "account.html", {"error": None, "notice": None})


@guarded
async def change_password(request: Request) -> Response:
    """Change one's own password: this browser stays logged in, every other session ends."""
    login = require_login(request)
    form = await posted_form(request)
    acc, new = accounts(request), str(form.get("password", ""))
    ctx: dict[str, str | None] = {"error": None, "notice": None}
    current = await run_in_threadpool(acc.authenticate, login.user.email, str(form.get("current")))
    if current is None:
        return render(
            request, "account.html", {**ctx, "error": "The current password is wrong."}, 400
        )
    if new != str(form.get("password2", "")):
        return render(request, "account.html", {**ctx, "error": "The new passwords differ."}, 400)
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        await run_in_threadpool(acc.set_password, login.user.email, new, keep_token=token)
    except MetaValidationError as exc:
        return render(request, "account.html", {**ctx, "error": f"{exc.field}: {exc.message}"}, 400)
    notice = "Password changed; your other sessions were logged out."
    return render(request, "account.html", {**ctx, "notice": notice})
