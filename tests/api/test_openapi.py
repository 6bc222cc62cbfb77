"""The OpenAPI document (every route of the app in it) and the /docs viewer page."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.routing import Mount, Route

from tests.conftest import Footfall


def test_openapi_document(footfall: Footfall) -> None:
    r = footfall.client.get("/api/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc: dict[str, Any] = json.loads(r.content)
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in (
        "/api/v2/query",
        "/api/event",
        "/api/events",
        "/api/stats",
        "/api/v1/summary",
        "/api/v1/sessions/{session_id}",
        "/api/v1/export",
    ):
        assert path in paths, path
    query = paths["/api/v2/query"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = query["$ref"].rsplit("/", 1)[-1]
    schema = doc["components"]["schemas"][name]
    assert {"site_id", "metrics", "date_range"} <= set(schema["required"])
    event = doc["components"]["schemas"]["NativeEvent"]
    assert "event_type" in event["properties"]
    # Every $ref resolves.
    refs = [v for v in _walk(doc) if isinstance(v, str) and v.startswith("#/components/schemas/")]
    assert refs and all(ref.rsplit("/", 1)[-1] in doc["components"]["schemas"] for ref in refs)


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node


def served_operations(app: Any) -> set[tuple[str, str]]:
    """(path, method) of every route the app answers; a mount serves its files."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):
            found.add((route.path + "/{path}", "get"))
            continue
        assert isinstance(route, Route), route
        # Starlette adds HEAD to every GET route; only an explicit HEAD is documented.
        methods = route.methods or set()
        implicit = {"HEAD"} if "GET" in methods else set()
        found |= {(route.path, m.lower()) for m in methods - implicit}
    return found


def test_every_route_of_the_app_is_documented_and_nothing_else(footfall: Footfall) -> None:
    doc = footfall.client.get("/api/openapi.json").json()
    documented = {(path, m) for path, ops in doc["paths"].items() for m in ops if m != "head"}
    served = served_operations(footfall.client.app)
    assert served - documented == set(), "served but not in /api/openapi.json"
    assert documented - served == set(), "documented but not served"
    for path in ("/api/site/create", "/api/tokens", "/api/admin/jobs/{name}", "/metrics"):
        assert doc["paths"][path], path
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["responses"], (path, method)
            assert set(op["tags"]) <= {t["name"] for t in doc["tags"]}, (path, method)
    site = doc["paths"]["/api/site/create"]["post"]
    assert site["security"] == [{"admin": []}]
    schema = doc["components"]["schemas"]["SiteCreate"]
    assert {"name", "domains"} <= set(schema["required"])


def test_docs_page_loads_the_viewer_from_this_server(footfall: Footfall) -> None:
    r = footfall.client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp
    page = r.text
    assert "http://" not in page and "https://" not in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/static/vendor/swagger-ui-bundle.js" in sources
    for url in sources:
        asset = footfall.client.get(url)
        assert asset.status_code == 200 and asset.content, url
