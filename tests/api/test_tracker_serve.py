"""GET /js/footfall.js and friends: short cache + ETag/304, content-hashed immutable URLs."""

from __future__ import annotations

import hashlib

from footfall.api.tracker import STATIC_JS
from tests.conftest import Footfall


def test_plain_names_are_short_cached_with_etag(footfall: Footfall) -> None:
    for name in ("footfall.js", "footfall.ext.js"):
        r = footfall.client.get(f"/js/{name}")
        assert r.status_code == 200
        assert r.content == (STATIC_JS / name).read_bytes()
        assert r.headers["content-type"].startswith("application/javascript")
        assert r.headers["cache-control"] == "public, max-age=300"
        etag = r.headers["etag"]
        again = footfall.client.get(f"/js/{name}", headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b""
        other = footfall.client.get(f"/js/{name}", headers={"if-none-match": '"nope"'})
        assert other.status_code == 200


def test_hashed_names_are_immutable(footfall: Footfall) -> None:
    manifest = footfall.client.get("/js/manifest.json").json()
    body = (STATIC_JS / "footfall.js").read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:16]
    assert manifest["footfall.js"] == f"/js/footfall.{digest}.js"
    r = footfall.client.get(manifest["footfall.js"])
    assert r.status_code == 200 and r.content == body
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    ext = footfall.client.get(manifest["footfall.ext.js"])
    assert ext.content == (STATIC_JS / "footfall.ext.js").read_bytes()


def test_unknown_scripts_are_404(footfall: Footfall) -> None:
    for name in ("nope.js", "footfall.0000000000000000.js", "..%2Fapp.py", "footfall"):
        assert footfall.client.get(f"/js/{name}").status_code == 404
