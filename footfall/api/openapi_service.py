"""OpenAPI paths of everything but the stats reports: collection (native, Plausible,
Umami, their CORS preflights), the tracker scripts, admin, operations (health,
``/metrics``, this document) and the dashboard's pages and shared links.

Dashboard pages answer HTML and their forms redirect; they are listed so that ``/docs``
shows every route the server answers (a test walks the app's routes against it).
"""

from __future__ import annotations

from typing import Any

from footfall.api.openapi_parts import (
    ADMIN,
    KEY,
    OK,
    SESSION,
    Obj,
    content,
    object_of,
    op,
    param,
    path_param,
)
from footfall.dashboard.settings_views import ACTIONS

PREFLIGHT = {"204": {"description": "CORS preflight: any origin may post events"}}
HTML = content(200, "HTML page", "text/html")
MOVED = {"303": {"description": "Redirect (after a form post, or to /login)"}}
FORM = {
    "required": True,
    "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}},
}


def _collect(summary: str, body: str | None, ok: Obj, *codes: int, **extra: Any) -> Obj:
    """A collection endpoint (POST) with its CORS preflight (OPTIONS)."""
    return {
        "post": op(summary, "Collection", ok, *codes, body=body, **extra),
        "options": op("CORS preflight", "Collection", PREFLIGHT),
    }


def _collection() -> Obj:
    queued = content(202, "Durably queued (or dropped by policy: it says so)", "application/json")
    umami = content(200, "Umami's answer", "application/json")
    return {
        "/api/event": _collect(
            "Collect one event (native; Plausible Events API bodies too)", "NativeEvent",
            queued, 400, 401, 413, 415, 429, 503, security=KEY,
            description="An event whose page host is not among the site's domains is "
            "answered 202 and dropped with the reason `hostname`; see /metrics and the "
            "settings page's Verify installation.",
        ),
        "/api/events": _collect(
            "Collect a batch of events (each judged on its own)", "BatchBody",
            content(202, "Accepted, rejected (by index) and dropped counts", "application/json"),
            400, 401, 413, 415, 429, 503, security=KEY,
        ),
        "/api/send": _collect("Umami-compatible collection (one {type, payload})", None,
                              umami, 400, 413, 415, 429, 503),
        "/api/batch": _collect("Umami-compatible batch collection (a list of them)", None,
                               umami, 400, 413, 415, 429, 503),
    }  # fmt: skip


def _tracker() -> Obj:
    script = {
        **content(200, "The script (ETag; 5 minutes, or a year when hashed)", "text/javascript"),
        "304": {"description": "Not modified (If-None-Match)"},
        "404": {"description": "No such script"},
    }
    name = path_param("name", "footfall.js, footfall.ext.js or a hashed name from the manifest")
    get = op("The browser tracker", "Tracker", script, parameters=[name])
    return {
        "/js/{name}": {"get": get, "head": {**get, "summary": "The tracker's headers only"}},
        "/js/manifest.json": {"get": op(
            "Content-hashed URL of each tracker build", "Tracker",
            content(200, "{name: url}", "application/json", {"type": "object"}))},
    }  # fmt: skip


def _admin() -> Obj:
    site = object_of("success:boolean site_id:string api_key:string")
    token = object_of("success:boolean token:string site_id:string")
    job = object_of("success:boolean job:string result:object")
    name = path_param("name", "retention, salts or rollups (when the store has rollups)")
    return {
        "/api/site/create": {"post": op(
            "Create a site; answers its ingest key (shown once)", "Admin",
            content(201, "Created", "application/json", site), 400, 401, 403,
            body="SiteCreate", security=ADMIN)},
        "/api/tokens": {"post": op(
            "Create a read token for a site (shown once)", "Admin",
            content(201, "Created", "application/json", token), 400, 401, 403, 404,
            body="TokenCreate", security=ADMIN)},
        "/api/admin/jobs/{name}": {"post": op(
            "Run a background job now", "Admin",
            content(200, "Its result", "application/json", job), 401, 403, 404,
            security=ADMIN, parameters=[name])},
    }  # fmt: skip


def _operations() -> Obj:
    health = object_of(
        "status:string version:string store:object queue:object writer:object freshness:object"
    )
    metrics = content(200, "Prometheus text format", "text/plain")
    return {
        "/api/health": {"get": op(
            "Store, queue depth, writer lag and version", "Operations",
            {**content(200, "Healthy", "application/json", health),
             **content(503, "The store is unusable", "application/json", health)})},
        "/api/health/live": {"get": op(
            "Liveness: the process answers", "Operations",
            content(200, "Alive", "application/json", object_of("status:string")))},
        "/api/health/ready": {"get": op(
            "Readiness: the queue accepts and the store can be written", "Operations",
            {**content(200, "Ready", "application/json", object_of("status:string")),
             **content(503, "Not ready, with the reasons", "application/json",
                       object_of("status:string reasons:array"))})},
        "/metrics": {"get": op(
            "Prometheus metrics", "Operations", metrics,
            description="Counters of received, accepted, dropped (by reason, in "
            "`footfall_events_dropped_total`) and rejected events, the queue's and the "
            "writer's figures, and query times.")},
        "/api/openapi.json": {"get": op(
            "This document (OpenAPI 3.1)", "Operations",
            content(200, "OpenAPI document", "application/json"))},
        "/docs": {"get": op("This API viewer", "Operations", HTML)},
    }  # fmt: skip


def _page(summary: str, *params: Obj, security: list[Obj] = SESSION) -> Obj:
    return op(summary, "Dashboard", {**HTML, **MOVED}, security=security,
              parameters=list(params))  # fmt: skip


def _form(summary: str, *params: Obj, security: list[Obj] = SESSION) -> Obj:
    return {**_page(summary, *params, security=security), "requestBody": FORM}


def _dashboard() -> Obj:
    site = path_param("site_id", "The site")
    visit = path_param("session_id", "Visit id")
    action = param("action", "Which settings form", True, [*ACTIONS, "delete"], "path")
    slug = path_param("slug", "The shared link's slug")
    stream = content(200, "Server-sent events", "text/event-stream")
    public: list[Obj] = []
    return {
        "/": {"get": _page("Site list: each site's visitors over the range, by day, and the "
                           "change against the previous period",
                           param("period", "7d, 30d (default) or 90d"))},
        "/login": {"get": _page("Login form", security=public),
                   "post": _form("Log in", security=public)},
        "/logout": {"post": _form("Log out")},
        "/account": {"get": _page("Account page")},
        "/account/password": {"post": _form("Change password")},
        "/setup": {"get": _page("First-run setup form", security=public),
                   "post": _form("Create the owner account", security=public)},
        "/sites": {"post": _form("Create a site (the owner, or a user the owner allows)")},
        "/sites.json": {"get": op(
            "The sites this user can open (the site switcher)", "Dashboard",
            content(200, "Site ids and names", "application/json", object_of("sites:array")),
            security=SESSION)},
        "/users": {"get": _page("Users (owner)"), "post": _form("Create a user (owner)")},
        "/users/site-creation": {"post": _form("Allow or stop a user creating sites (owner)")},
        "/sites/{site_id}": {"get": _page("A site's dashboard", site)},
        "/sites/{site_id}/realtime": {"get": _page("Realtime view", site)},
        "/sites/{site_id}/live": {"get": op("Live visitor count", "Dashboard", stream,
                                            security=SESSION, parameters=[site])},
        "/sites/{site_id}/props": {"get": op(
            "Property keys an event carried", "Dashboard",
            content(200, "Keys, most used first", "application/json",
                    object_of("event:string keys:array")), security=SESSION,
            parameters=[site, param("event", "Event name")])},
        "/sites/{site_id}/sessions": {"get": _page("Visits list", site)},
        "/sites/{site_id}/sessions/{session_id}": {"get": _page("One visit", site, visit)},
        "/sites/{site_id}/settings": {"get": _page(
            "Site settings, with Verify installation (events dropped in the last hour, "
            "by reason)", site)},
        "/sites/{site_id}/settings/{action}": {"post": _form("Save a settings form", site,
                                                              action)},
        "/share/{slug}": {"get": _page("A shared dashboard", slug, security=public),
                          "post": _form("Unlock a password-protected link", slug,
                                        security=public)},
        "/share/{slug}/query": {"post": op(
            "/api/v2/query for the link's site", "Shared links",
            {"200": {"description": "As /api/v2/query"}}, 400, 401, 404, body="QueryBody",
            parameters=[slug])},
        "/share/{slug}/funnel": {"get": op(
            "/api/v1/funnel for the link's site", "Shared links",
            {"200": {"description": "As /api/v1/funnel"}}, 400, 401, 404, parameters=[slug])},
        "/share/{slug}/live": {"get": op("Live visitor count of the link's site",
                                         "Shared links", stream, parameters=[slug])},
        "/static/{path}": {"get": op(
            "Dashboard assets (CSS, scripts, vendored libraries)", "Dashboard",
            {**OK, "404": {"description": "No such file"}},
            parameters=[path_param("path", "File under footfall/dashboard/static")])},
    }  # fmt: skip


def service_paths() -> Obj:
    return {**_collection(), **_tracker(), **_admin(), **_privacy(), **_operations(),
            **_dashboard()}  # fmt: skip


def _privacy() -> Obj:
    person = [
        param("site_id", "The site", True),
        param("user_id", "The user id the site sent (identify); or visitor_id"),
        param("visitor_id", "The stored visitor id, in decimal; or user_id"),
    ]
    deleted = object_of("success:boolean site_id:string deleted:object queue_drained:boolean")
    return {
        "/api/v1/visitors": {"delete": op(
            "Delete every visit of one person (events, visits, rollups)", "Data rights",
            content(200, "Rows deleted per table", "application/json", deleted),
            400, 401, 403, 404, security=ADMIN, parameters=person)},
        "/api/v1/visitors/export": {"get": op(
            "One person's events (every stored column), as JSON lines", "Data rights",
            content(200, "JSON lines", "application/x-ndjson"), 400, 401, 403, 404,
            security=ADMIN, parameters=person)},
        "/api/admin/reports/send": {"post": op(
            "Send one e-mail report now (the last complete week or month)", "Admin",
            content(200, "Sent", "application/json",
                    object_of("success:boolean site_id:string to:string period:string")),
            400, 401, 403, 404, 503, security=ADMIN,
            requestBody={"required": True, "content": {"application/json": {"schema": object_of(
                "site_id:string to:string kind:string")}}})},
        "/unsubscribe/{token}": {
            method: op("Unsubscribe (the signed link in every e-mail)", "Data rights",
                       HTML, 400, parameters=[path_param("token", "From the e-mail")])
            for method in ("get", "post")},
    }  # fmt: skip
