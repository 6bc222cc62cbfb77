"""Login, logout and the first-run setup page.

Login is rate limited per client IP and per email (10 attempts in 5 minutes each); a
wrong email and a wrong password get the same answer in about the same time. The setup
page creates the instance owner and only works while no user exists.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall.api.ratelimit import retry_after_header
from footfall.dashboard.render import error_page, redirect, render
from footfall.dashboard.sessions import (
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
    state = DashboardState.of(request)
    wait = state.login_by_ip.hit(client_key(request)) or state.login_by_email.hit(
        email.strip().lower()
    )
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
