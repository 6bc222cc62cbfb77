"""GET /api/v1/paths and /api/v1/paths/tree: the page after or before a page in the same
visit, exits and entries, and the paths from an entry page. Hand-built visits with
repeated pages (a reload counts once), a single-page visit, a custom event in between, and
one visitor with two visits; every expected figure is a literal worked out from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.product.conftest import World

T0 = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=2)


def pv(who: str, minute: int, path: str, name: str = "pageview") -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    return {"event_type": name, "path": path, "visitor_id": who, "timestamp": at}


VISITS = [
    # A: a reload of /pricing, and a custom event between /signup and /done
    [pv("a", 0, "/"), pv("a", 1, "/pricing"), pv("a", 2, "/pricing"), pv("a", 3, "/signup"),
     pv("a", 4, "/signup", "Signup"), pv("a", 5, "/done")],
    # B: /pricing twice, not in a row; it left on /pricing
    [pv("b", 0, "/pricing"), pv("b", 1, "/"), pv("b", 2, "/pricing")],
    [pv("c", 0, "/"), pv("c", 1, "/blog")],
    [pv("a", 120, "/pricing"), pv("a", 121, "/signup")],  # a's second visit
    [pv("e", 0, "/pricing")],  # entry and exit at once
]  # fmt: skip


@pytest.fixture(scope="module")
def site(world: World) -> str:
    s = world.site("paths.example")
    world.send(s, [e for visit in VISITS for e in visit])
    out: str = s["site_id"]
    return out


def paths(world: World, site: str, **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = world.get("/api/v1/paths", site_id=site, period="7d", **params)
    return out


def test_next_pages_and_exits(world: World, site: str) -> None:
    got = paths(world, site, page="/pricing", direction="next")
    assert got == {
        "page": "/pricing", "direction": "next", "exits": 2,  # B and E left there
        "results": [{"page": "/signup", "visitors": 1, "transitions": 2},  # a, twice
                    {"page": "/", "visitors": 1, "transitions": 1}],
    }  # fmt: skip


def test_previous_pages_and_entries(world: World, site: str) -> None:
    got = paths(world, site, page="/pricing", direction="previous")
    assert got["results"] == [{"page": "/", "visitors": 2, "transitions": 2}]
    assert got["entries"] == 3  # B, a's second visit and E entered on /pricing


def test_the_last_page_of_a_visit_has_only_exits(world: World, site: str) -> None:
    assert paths(world, site, page="/done") == {
        "page": "/done",
        "direction": "next",
        "results": [],
        "exits": 1,
    }
    got = paths(world, site, page="/done", direction="previous")
    assert got["results"] == [{"page": "/signup", "visitors": 1, "transitions": 1}]
    assert got["entries"] == 0


def test_filters_keep_whole_visits(world: World, site: str) -> None:
    flt = '[["is", "visit:entry_page", ["/pricing"]]]'
    got = paths(world, site, page="/pricing", filters=flt)
    # a's first visit entered on /: gone. Equal counts come by page.
    assert got["results"] == [{"page": "/", "visitors": 1, "transitions": 1},
                              {"page": "/signup", "visitors": 1, "transitions": 1}]  # fmt: skip
    assert got["exits"] == 2
    assert paths(world, site, page="/pricing", limit=1)["results"][0]["page"] == "/signup"


def node(page: str, visits: int, exits: int = 0, *children: dict[str, Any], continued: int = 0
         ) -> dict[str, Any]:  # fmt: skip
    return {"page": page, "visits": visits, "exits": exits, "continued": continued,
            "children": list(children)}  # fmt: skip


def test_paths_from_an_entry_page_as_a_tree(world: World, site: str) -> None:
    got = world.get("/api/v1/paths/tree", site_id=site, period="7d", page="/")
    assert got == {"depth": 5, "tree": node(
        "/", 2, 0,
        node("/blog", 1, 1),
        node("/pricing", 1, 0, node("/signup", 1, 0, node("/done", 1, 1))),
    )}  # fmt: skip
    got = world.get("/api/v1/paths/tree", site_id=site, period="7d", page="/pricing")
    assert got["tree"] == node(
        "/pricing", 3, 1, node("/", 1, 0, node("/pricing", 1, 1)), node("/signup", 1, 1)
    )


def test_a_shallow_tree_says_how_many_went_on(world: World, site: str) -> None:
    got = world.get("/api/v1/paths/tree", site_id=site, period="7d", page="/", depth=2, limit=1)
    assert got["tree"] == node("/", 2, 0, node("/blog", 1, 1))
    got = world.get("/api/v1/paths/tree", site_id=site, period="7d", page="/", depth=2)
    assert got["tree"]["children"][1] == node("/pricing", 1, 0, continued=1)


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/paths", {"direction": "sideways", "page": "/"}, "direction"),
    ("/api/v1/paths", {}, "page"),
    ("/api/v1/paths", {"page": "pricing"}, "page"),
    ("/api/v1/paths", {"page": "/", "limit": "0"}, "limit"),
    ("/api/v1/paths/tree", {"page": "/", "depth": "9"}, "depth"),
    ("/api/v1/paths/tree", {"page": "/", "period": "custom"}, "from"),
])  # fmt: skip
def test_bad_parameters_are_400_naming_them(
    world: World, site: str, path: str, params: dict[str, str], field: str
) -> None:
    body = world.get(path, 400, site_id=site, **params)
    assert [d["field"] for d in body["details"]] == [field]
