"""``DELETE /api/v1/visitors`` and ``GET /api/v1/visitors/export``: one person's data.

Both take ``site_id`` and exactly one of ``user_id`` or ``visitor_id`` (the decimal id the
journey and visit APIs show), and need admin rights (the admin token, or the instance
owner's dashboard login with its CSRF header), as deleting a whole site does. The work
is footfall/privacy/person.py's; these handlers only check the request and answer.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from footfall.api.auth import AuthError, refusal, require_admin
from footfall.api.responses import JSON
from footfall.ingest.validate import FieldError
from footfall.privacy import person as persons
from footfall.query import export
from footfall.runtime import Services

# How long a delete waits for the events already queued to reach the store, so that
# the person's events acknowledged just before the request go too.
DRAIN_SECONDS = 10.0


def _person(request: Request) -> tuple[Services, persons.Person]:
    svc = require_admin(request)
    q = request.query_params
    site_id = q.get("site_id", "")
    if not site_id:
        raise FieldError("site_id", "required")
    if svc.meta.get_site(site_id) is None:
        raise AuthError(404, "Site not found")
    return svc, persons.Person.of(site_id, q.get("user_id"), q.get("visitor_id"))


async def delete_visitor(request: Request) -> Response:
    try:
        svc, person = _person(request)
    except (AuthError, FieldError) as exc:
        return refusal(exc)
    drained = await run_in_threadpool(svc.wait_stored, DRAIN_SECONDS)
    result = await run_in_threadpool(persons.forget, svc.store, person)
    return JSON({"success": True, **result, "queue_drained": drained})


async def export_visitor(request: Request) -> Response:
    try:
        svc, person = _person(request)
    except (AuthError, FieldError) as exc:
        return refusal(exc)
    name = f"person-{person.site_id}.jsonl"  # the site id is a slug; user ids are not
    return StreamingResponse(
        persons.export_jsonl(svc.store, person),
        media_type=export.FORMATS["jsonl"],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [
    Route("/api/v1/visitors", delete_visitor, methods=["DELETE"]),
    Route("/api/v1/visitors/export", export_visitor, methods=["GET"]),
]
