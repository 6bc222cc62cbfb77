"""The OpenAPI document and the offline /docs page."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Footfall


def test_openapi_document(footfall: Footfall) -> None:
    r = footfall.client.get("/api/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc: dict[str, Any] = json.loads(r.content)
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in ("/api/v2/query", "/api/event", "/api/events", "/api/stats", "/api/v1/summary",
                 "/api/v1/sessions/{session_id}", "/api/v1/export"):
        assert path in paths, path
    query = paths["/api/v2/query"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = query["$ref"].rsplit("/", 1)[-1]
    schema = doc["components"]["schemas"][name]
    assert {"site_id", "metrics", "date_range"} <= set(schema["required"])
    event = doc["components"]["schemas"]["NativeEvent"]
    assert "event_type" in event["properties"]
    # Every route the app serves under /api/v1 is documented.
    served = {r.path for r in footfall.client.app.routes if getattr(r, "path", "").startswith("/api/v1/")}  # type: ignore[attr-defined]
    assert served <= set(paths)
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


def test_docs_page_is_self_contained(footfall: Footfall) -> None:
    r = footfall.client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "/api/openapi.json" in page and "/api/v2/query" in page and "QueryBody" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
