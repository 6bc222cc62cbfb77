"""The OpenAPI entries of the product-analytics routes (:mod:`footfall.api.product`,
:mod:`footfall.api.goals`): retention, paths, and goals and funnels over the API."""

from __future__ import annotations

from footfall.api.goals import FunnelBody, GoalBody
from footfall.api.openapi_parts import (
    ADMIN,
    BEARER,
    SESSION,
    Obj,
    ok,
    op,
    param,
    path_param,
    read,
    rows,
)
from footfall.query import paths, retention

SCHEMAS = (GoalBody, FunnelBody)
SITE = param("site_id", "The site to read.", required=True)
PERIOD = [
    param("period", "Named period in the site's zone (as every /api/v1 report), or custom."),
    param("from", "First day of a custom period (YYYY-MM-DD)."),
    param("to", "Last day of a custom period, inclusive."),
    param("date", "Reference day for named periods (default: today in the site's zone)."),
    param("filters", "JSON-encoded v2 filter list; on paths, filters keep whole visits."),
]
PAGE = param("page", "A page path, e.g. /pricing", required=True)
COHORT = rows("cohort", "visitors", "returning", "percentages")


def _crud(kind: str, body: str, summary: str) -> tuple[Obj, Obj]:
    site = path_param("site_id", "The site")
    item = path_param(f"{kind}_id", f"The {kind}'s id")
    who = [*ADMIN, *SESSION]
    many = {
        "get": op(f"The site's {kind}s", "Stats", {"200": ok(f"{kind}s")}, 401, 404,
                  security=BEARER, parameters=[site]),
        "post": op(f"Create a {kind}: {summary}", "Admin", {"201": ok(f"The new {kind}")},
                   400, 401, 403, 404, body=body, security=who, parameters=[site]),
    }  # fmt: skip
    one = {
        "put": op(f"Replace a {kind}", "Admin", {"200": ok(f"The {kind}")}, 400, 401, 403, 404,
                  body=body, security=who, parameters=[site, item]),
        "delete": op(f"Delete a {kind}", "Admin", {"200": ok("Deleted")}, 400, 401, 403, 404,
                     security=who, parameters=[site, item]),
    }  # fmt: skip
    return many, one


def product_paths() -> Obj:
    goals, goal = _crud("goal", "GoalBody", "a page pattern or an event name")
    funnels, funnel = _crud("funnel", "FunnelBody", "2 to 8 goal ids in order")
    interval = param("interval", "Cohort size (default week)", enum=retention.INTERVALS)
    direction = param("direction", "next (default) or previous", enum=paths.DIRECTIONS)
    return {
        "/api/v1/retention": read(
            "Retention cohorts of visitors with a lasting identity (user id or persistent id)",
            SITE, [*PERIOD, interval],
            {"type": "object", "properties": {"interval": {}, "eligible_visitors": {},
                                              "cohorts": COHORT}}),
        "/api/v1/returning": read(
            "New and returning visitors and visits per visitor (lasting identities only)",
            SITE, PERIOD),
        "/api/v1/paths": read(
            "The pages right after or before a page in the same visit, exits and entries",
            SITE, [*PERIOD, PAGE, direction, param("limit", "Most pages (1-1000, default 10)")],
            {"type": "object", "properties": {"results": rows("page", "visitors", "transitions"),
                                              "exits": {}, "entries": {}}}),
        "/api/v1/paths/tree": read(
            "The most common paths of up to 5 pages from an entry page, as a tree",
            SITE, [*PERIOD, PAGE, param("depth", "Pages per path, 2-5 (default 5)"),
                   param("limit", "Most children per page (default 5)")]),
        "/api/v1/sites/{site_id}/goals": goals,
        "/api/v1/sites/{site_id}/goals/{goal_id}": goal,
        "/api/v1/sites/{site_id}/funnels": funnels,
        "/api/v1/sites/{site_id}/funnels/{funnel_id}": funnel,
    }  # fmt: skip
