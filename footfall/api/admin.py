"""Admin endpoints: create sites and read tokens, run a job now. Admin token only."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from footfall.api.auth import REFUSED, AuthError, refusal, require_admin
from footfall.api.responses import JSON, error
from footfall.ingest.validate import FieldError, field_error


class SiteCreate(msgspec.Struct):
    """A new site. A domain belongs to one site: one that another site has, in any spelling
    (letter case, ``www.``, a trailing dot, a port), is refused with 400 naming ``domains``."""

    name: Annotated[str, Meta(min_length=1, max_length=100)]
    domains: Annotated[
        list[Annotated[str, Meta(max_length=253)]], Meta(min_length=1, max_length=50)
    ]
    timezone: Annotated[str, Meta(max_length=64)] = "UTC"


class TokenCreate(msgspec.Struct):
    site_id: Annotated[str, Meta(min_length=1, max_length=100)]


async def _body(request: Request, kind: type[msgspec.Struct]) -> msgspec.Struct:
    raw = await request.body()
    if len(raw) > 64 << 10:
        raise FieldError("body", "too large")
    try:
        return msgspec.json.decode(raw, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise field_error(exc) from None
    except UnicodeDecodeError:
        raise FieldError("body", "is not valid UTF-8") from None
    except RecursionError:  # an unknown field's value is skipped by recursing into it
        raise FieldError("body", "Invalid JSON: nested too deeply") from None


async def create_site(request: Request) -> Response:
    try:
        svc = require_admin(request)
        body = await _body(request, SiteCreate)
        assert isinstance(body, SiteCreate)
        site, key = await run_in_threadpool(
            svc.meta.create_site, body.name, body.domains, body.timezone
        )
    except REFUSED as exc:
        return refusal(exc)
    return JSON({"success": True, "site_id": site.id, "api_key": key}, 201)


async def create_token(request: Request) -> Response:
    try:
        svc = require_admin(request)
        body = await _body(request, TokenCreate)
        assert isinstance(body, TokenCreate)
        if svc.meta.get_site(body.site_id) is None:
            return error(404, "Site not found")
        token = await run_in_threadpool(svc.meta.create_read_token, body.site_id)
    except (AuthError, FieldError) as exc:
        return refusal(exc)
    return JSON({"success": True, "token": token, "site_id": body.site_id}, 201)


async def run_job(request: Request) -> Response:
    try:
        svc = require_admin(request)
    except AuthError as exc:
        return error(exc.status, exc.message)
    name = request.path_params["name"]
    if name not in svc.scheduler.jobs:
        return error(404, f"No job named {name!r}", [{"field": "name", "message": "unknown job"}])
    result = await run_in_threadpool(svc.scheduler.run, name)
    return JSON({"success": True, "job": name, "result": result})
