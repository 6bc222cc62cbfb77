"""Mail endpoints: ``/unsubscribe/{token}`` (the link in every mail; GET from a mail
reader, POST for RFC 8058 one-click) and ``POST /api/admin/reports/send`` (send one report
now, what ``footfall reports send`` asks a running server to do)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from footfall.api.auth import REFUSED, refusal, require_admin
from footfall.api.responses import JSON, error
from footfall.ingest.validate import FieldError, field_error
from footfall.mail import smtp, unsubscribe
from footfall.mail.schedule import Mailer
from footfall.meta.rights import RightsPrefs, check_email
from footfall.runtime import Services

_DONE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Unsubscribed</title></head><body style="font-family: system-ui, sans-serif">
<h1>Unsubscribed</h1><p>This address will no longer receive this mail from this site.</p>
</body></html>"""


async def unsubscribe_link(request: Request) -> Response:
    svc: Services = request.app.state.services
    found = await run_in_threadpool(unsubscribe.read, svc.meta, request.path_params["token"])
    if found is None:
        return error(400, "Not an unsubscribe link of this server",
                     [{"field": "token", "message": "invalid or altered"}])  # fmt: skip
    prefs = RightsPrefs(svc.meta)
    await run_in_threadpool(prefs.remove_recipient, found.site_id, found.email, found.kind)
    # Unsubscribing twice is no error: the second click finds nothing left to remove.
    return HTMLResponse(_DONE)


class SendReport(msgspec.Struct):
    site_id: Annotated[str, Meta(min_length=1, max_length=100)]
    to: Annotated[str, Meta(min_length=3, max_length=254)]
    kind: str = "weekly"


async def send_report(request: Request) -> Response:
    try:
        svc = require_admin(request)
        try:
            body = msgspec.json.decode(await request.body(), type=SendReport)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise field_error(exc) from None
        to = check_email(body.to, "to")
        if body.kind not in ("weekly", "monthly"):
            raise FieldError("kind", "use weekly or monthly")
        site = svc.meta.get_site(body.site_id)
        if site is None:
            return error(404, "Site not found")
        mailer = Mailer(svc.settings, svc.meta, svc.runner)
        label = await run_in_threadpool(mailer.send_report, site, to, body.kind)
    except REFUSED as exc:
        return refusal(exc)
    except smtp.MailError as exc:
        return error(503, str(exc))
    return JSON({"success": True, "site_id": site.id, "to": to, "period": label})


ROUTES = [
    Route("/unsubscribe/{token}", unsubscribe_link, methods=["GET", "POST"]),
    Route("/api/admin/reports/send", send_report, methods=["POST"]),
]
