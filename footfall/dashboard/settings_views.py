"""Site settings (site admins and the owner; viewers get 403): name, domains, time zone,
the ingest key (rotate), read tokens, members, public shared links, the snippet, the
"verify installation" check, and deleting the site with all its data. Privacy,
exclusions, retention, goals and funnels are actions of :mod:`.prefs_views`; e-mail
report recipients and per-table retention of :mod:`.rights_views`.

Every change is a form POST carrying the session's CSRF token. Secrets (a new ingest key
or read token) are shown once, on the page that answers the POST that made them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from footfall.dashboard import prefs_views, rights_views
from footfall.dashboard.access import Denied, guarded, posted_form, site_access
from footfall.dashboard.render import redirect, render
from footfall.dashboard.sessions import accounts, services
from footfall.dashboard.siteops import delete_site, snippet, verify_installation
from footfall.meta.repo import SiteInfo
from footfall.meta.values import MetaValidationError

Result = dict[str, Any]


def origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def settings_context(request: Request, site: SiteInfo, role: str) -> Result:
    svc, acc = services(request), accounts(request)
    return {
        "site": site, "role": role, "new_key": None, "new_token": None, "notice": None,
        "error": None, "origin": origin(request),
        "ingest_keys": svc.meta.list_ingest_keys(site.id),
        "read_tokens": svc.meta.list_read_tokens(site.id),
        "shares": acc.shares(site.id), "members": acc.members(site.id),
        "installation": verify_installation(svc, site),
        "retention_days": svc.settings.retention_days,
        "snippet": snippet(origin(request), None),
        **prefs_views.prefs_context(request, site),
        **rights_views.rights_context(request, site),
    }  # fmt: skip


@guarded
async def settings_page(request: Request) -> Response:
    site, role = await site_access(request, "admin")
    ctx = await run_in_threadpool(settings_context, request, site, role)
    return render(request, "settings.html", ctx)


def _int(form: FormData, name: str) -> int:
    value = str(form.get(name, ""))
    if not value.isdigit():
        raise MetaValidationError(name, "expected a number")
    return int(value)


def _general(request: Request, site: SiteInfo, form: FormData) -> Result:
    domains = str(form.get("domains", "")).replace(",", " ").split()
    services(request).meta.update_site(
        site.id, name=str(form.get("name", "")), domains=domains,
        timezone=str(form.get("timezone", "")) or "UTC",
    )  # fmt: skip
    services(request).sites.invalidate()
    return {"notice": "Settings saved."}


def _rotate(request: Request, site: SiteInfo, form: FormData) -> Result:
    key = services(request).meta.rotate_ingest_key(site.id)
    services(request).sites.invalidate()
    return {"new_key": key, "notice": "New ingest key made; the old one no longer works."}


def _token_create(request: Request, site: SiteInfo, form: FormData) -> Result:
    return {"new_token": services(request).meta.create_read_token(site.id)}


def _token_revoke(request: Request, site: SiteInfo, form: FormData) -> Result:
    done = services(request).meta.revoke_read_token(_int(form, "token_id"), site_id=site.id)
    return {"notice": "Token revoked." if done else "No such live token."}


def _share_create(request: Request, site: SiteInfo, form: FormData) -> Result:
    password = str(form.get("password", "")) or None
    accounts(request).create_share(site.id, str(form.get("label", "")), password)
    return {"notice": "Shared link created."}


def _share_delete(request: Request, site: SiteInfo, form: FormData) -> Result:
    done = accounts(request).delete_share(site.id, _int(form, "share_id"))
    return {"notice": "Shared link deleted." if done else "No such link."}


def _member_add(request: Request, site: SiteInfo, form: FormData) -> Result:
    acc, email = accounts(request), str(form.get("email", ""))
    user = acc.get_user(email)
    if user is None:
        password = str(form.get("password", ""))
        if not password:
            raise MetaValidationError("password", "no such user: give a password to create one")
        user = acc.create_user(email, password)
    acc.grant(user.id, site.id, str(form.get("role", "viewer")))
    return {"notice": f"{user.email} added."}


def _member_remove(request: Request, site: SiteInfo, form: FormData) -> Result:
    done = accounts(request).revoke(_int(form, "user_id"), site.id)
    return {"notice": "Member removed." if done else "No such member."}


ACTIONS: dict[str, Callable[[Request, SiteInfo, FormData], Result]] = {
    "general": _general, "rotate-key": _rotate, "token-create": _token_create,
    "token-revoke": _token_revoke, "share-create": _share_create,
    "share-delete": _share_delete, "member-add": _member_add, "member-remove": _member_remove,
    **prefs_views.ACTIONS, **rights_views.ACTIONS,
}  # fmt: skip


@guarded
async def settings_action(request: Request) -> Response:
    site, role = await site_access(request, "admin")
    form = await posted_form(request)
    action = request.path_params["action"]
    if action == "delete":
        if str(form.get("confirm", "")) != site.name:
            raise Denied(400, "Type the site's name exactly to delete it.")
        await run_in_threadpool(delete_site, services(request), site)
        return redirect("/")
    handler = ACTIONS.get(action)
    if handler is None:
        raise Denied(404, "Unknown setting")
    status, outcome = 200, {}
    try:
        outcome = await run_in_threadpool(handler, request, site, form)
    except MetaValidationError as exc:
        status, outcome = 400, {"error": f"{exc.field}: {exc.message}"}
    fresh = await run_in_threadpool(services(request).meta.get_site, site.id)
    ctx = await run_in_threadpool(settings_context, request, fresh or site, role)
    ctx.update(outcome)
    if ctx["new_key"]:
        ctx["snippet"] = snippet(origin(request), ctx["new_key"])
    return render(request, "settings.html", ctx, status)
