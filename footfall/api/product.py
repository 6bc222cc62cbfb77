"""``GET /api/v1/retention``, ``/api/v1/returning``, ``/api/v1/paths`` and
``/api/v1/paths/tree``: product analytics reports, thin handlers over
:mod:`footfall.query.retention`, :mod:`.loyalty` and :mod:`.paths`, authorised and
parameterised as every ``/api/v1`` report (:mod:`footfall.api.reports`)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import QueryParams
from starlette.routing import Route

from footfall.api import goals
from footfall.api.reports import endpoint, int_param, scope_of
from footfall.ingest.validate import FieldError
from footfall.meta.repo import SiteInfo
from footfall.query import loyalty, paths, retention
from footfall.runtime import Services


def _page(q: QueryParams) -> str:
    page = q.get("page", "")
    if not page:
        raise FieldError("page", "required: a path such as /pricing")
    if len(page) > 2048:
        raise FieldError("page", "longer than 2048 characters")
    return page


def retention_report(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    return retention.report(svc.runner, scope_of(q, site), q.get("interval", "week"))


def returning_report(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    return loyalty.report(svc.runner, scope_of(q, site))


def paths_report(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    return paths.neighbours(
        svc.runner, scope_of(q, site), _page(q), q.get("direction", "next"),
        int_param(q, "limit", 10),
    )  # fmt: skip


def paths_tree(q: QueryParams, site: SiteInfo, svc: Services) -> Any:
    depth = int_param(q, "depth", paths.MAX_DEPTH, lo=2, hi=paths.MAX_DEPTH)
    return paths.tree(svc.runner, scope_of(q, site), _page(q), depth, int_param(q, "limit", 5))


ROUTES = [
    Route("/api/v1/retention", endpoint(retention_report), methods=["GET"]),
    Route("/api/v1/returning", endpoint(returning_report), methods=["GET"]),
    Route("/api/v1/paths", endpoint(paths_report), methods=["GET"]),
    Route("/api/v1/paths/tree", endpoint(paths_tree), methods=["GET"]),
    *goals.ROUTES,
]
