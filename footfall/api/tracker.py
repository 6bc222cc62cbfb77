"""Serves the built tracker scripts from ``footfall/dashboard/static/js``.

- ``/js/footfall.js`` and ``/js/footfall.ext.js``: the names site owners paste into their
  pages, so they are cached briefly (``max-age=300``) with an ETag; a matching
  ``If-None-Match`` gets a 304 without the body.
- ``/js/footfall.<hash>.js`` and ``/js/footfall.ext.<hash>.js``: the same bytes under a name
  derived from their content, cached for a year as ``immutable``. A new release has a new
  hash, so nothing stale is ever served under it. ``/js/manifest.json`` lists them.

The files are read once per process (they change only with a release).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

STATIC_JS = Path(__file__).resolve().parent.parent / "dashboard" / "static" / "js"
SCRIPTS = ("footfall.js", "footfall.ext.js")
SHORT_CACHE = "public, max-age=300"
LONG_CACHE = "public, max-age=31536000, immutable"
JS_TYPE = "application/javascript; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Script:
    """One built tracker file, with its content hash and the ETag derived from it."""

    name: str
    body: bytes
    digest: str

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'

    @property
    def hashed_name(self) -> str:
        stem = self.name.removesuffix(".js")
        return f"{stem}.{self.digest}.js"


@cache
def scripts() -> dict[str, Script]:
    """Every servable name (plain and hashed) → its script; missing builds are skipped."""
    served: dict[str, Script] = {}
    for name in SCRIPTS:
        path = STATIC_JS / name
        if not path.is_file():
            continue
        body = path.read_bytes()
        script = Script(name, body, hashlib.sha256(body).hexdigest()[:16])
        served[name] = script
        served[script.hashed_name] = script
    return served


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


async def get_script(request: Request) -> Response:
    name = request.path_params["name"]
    script = scripts().get(name)
    if script is None:
        return Response("Not found\n", 404, media_type="text/plain")
    immutable = name != script.name
    headers = {
        "cache-control": LONG_CACHE if immutable else SHORT_CACHE,
        "etag": script.etag,
        # Lets pages use Subresource Integrity (integrity=, crossorigin=anonymous).
        "access-control-allow-origin": "*",
    }
    if _not_modified(request, script.etag):
        return Response(status_code=304, headers=headers)
    return Response(script.body, 200, headers=headers, media_type=JS_TYPE)


async def get_manifest(request: Request) -> Response:
    """The content-hashed URL of each script, for pages that want the year-long cache."""
    urls = {s.name: f"/js/{s.hashed_name}" for s in scripts().values()}
    return JSONResponse(urls, headers={"cache-control": "no-cache"})
