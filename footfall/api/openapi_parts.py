"""Building blocks of the OpenAPI document (:mod:`footfall.api.openapi`): parameters,
responses, operations and the security schemes they name, so that each path's entry is
one short call."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
REF = "#/components/schemas/{name}"
BEARER: list[Obj] = [{"bearer": []}]
ADMIN: list[Obj] = [{"admin": []}]
KEY: list[Obj] = [{"ingestKey": []}]
SESSION: list[Obj] = [{"session": []}]
OK = {"200": {"description": "ok"}}

SECURITY_SCHEMES: Obj = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A site's read token (`POST /api/tokens`), or the admin token.",
    },
    "admin": {
        "type": "http",
        "scheme": "bearer",
        "description": "The instance's admin token (`FOOTFALL_ADMIN_TOKEN`).",
    },
    "ingestKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "A site's ingest key (also accepted as `api_key` in the body or query).",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "ff_session",
        "description": "A dashboard login (`POST /login`); form posts also carry a CSRF token.",
    },
}

# The viewer's sections, in this order.
TAGS: list[Obj] = [
    {"name": n, "description": d}
    for n, d in (
        ("Collection", "Events in: native, Plausible- and Umami-compatible (ingest key)."),
        ("Tracker", "The browser tracker scripts."),
        ("Stats", "Reading stats (read token)."),
        ("Export", "Raw events and query rows as CSV, JSON lines or Parquet (read token)."),
        ("Admin", "Sites, read tokens and jobs (admin token)."),
        ("Data rights", "One person's data: delete it, export it (admin token)."),
        ("Operations", "Health, Prometheus metrics and this document."),
        ("Dashboard", "The dashboard's pages and forms (login session)."),
        ("Shared links", "What a public shared dashboard reads."),
    )
]


def param(
    name: str, doc: str, required: bool = False, enum: Any = None, where: str = "query"
) -> Obj:
    schema: Obj = {"type": "string"} if enum is None else {"type": "string", "enum": list(enum)}
    return {"name": name, "in": where, "required": required, "description": doc, "schema": schema}


def path_param(name: str, doc: str) -> Obj:
    return param(name, doc, True, where="path")


def ok(doc: str, data: Obj | None = None) -> Obj:
    """A 200 with the ``{"success": true, "data": ...}`` envelope of the stats API."""
    body = {"type": "object", "properties": {"success": {"const": True}, "data": data or {}}}
    return {"description": doc, "content": {"application/json": {"schema": body}}}


def content(status: int, doc: str, media: str, schema: Obj | None = None) -> Obj:
    """One response of ``media`` type (any body unless ``schema`` is given)."""
    return {str(status): {"description": doc, "content": {media: {"schema": schema or {}}}}}


def errors(*codes: int) -> Obj:
    schema = {"$ref": REF.format(name="Error")}
    err = {"description": "Error", "content": {"application/json": {"schema": schema}}}
    return {str(c): err for c in codes}


def json_body(name: str) -> Obj:
    schema = {"$ref": REF.format(name=name)}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def op(summary: str, tag: str, responses: Obj, *codes: int, body: str | None = None,
       **extra: Any) -> Obj:  # fmt: skip
    """One operation: ``responses`` plus the error envelope for each of ``codes``."""
    found: Obj = {"summary": summary, "tags": [tag], **extra}
    found["responses"] = {**responses, **errors(*codes)}
    if body:
        found["requestBody"] = json_body(body)
    return found


def read(summary: str, site: Obj, params: list[Obj], data: Obj | None = None) -> Obj:
    """A GET report of the stats API: the site, its own parameters, the envelope."""
    return {
        "get": op(summary, "Stats", {"200": ok(summary, data)}, 400, 401, 404,
                  security=BEARER, parameters=[site, *params])
    }  # fmt: skip


def rows(*names: str) -> Obj:
    return {"type": "array", "items": {"type": "object", "properties": {n: {} for n in names}}}


def object_of(spec: str) -> Obj:
    """An object schema from ``"name:type name:type ..."`` (JSON types)."""
    pairs = (item.split(":") for item in spec.split())
    return {"type": "object", "properties": {k: {"type": t} for k, t in pairs}}
