"""JSON responses encoded with msgspec, and the native error envelope."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from footfall.ingest.validate import FieldError

_encode = msgspec.json.Encoder().encode

CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type, x-api-key",
    "access-control-max-age": "86400",
}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)


def error(
    status: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSON:
    body: dict[str, Any] = {"success": False, "error": message}
    if details is not None:
        body["details"] = details
    return JSON(body, status_code=status, headers=headers)


def validation_failed(errors: list[FieldError], headers: dict[str, str] | None = None) -> JSON:
    return error(400, "Validation failed", [e.as_json() for e in errors], headers)


# Granian reports a body it cannot parse (a bad chunk size, a chunk shorter than declared)
# as the client's disconnect; the connection is still open and the client waits.
UNREADABLE_BODY = "Malformed request body"
UNREADABLE_DETAIL = "could not be read: malformed chunked encoding, or the connection closed"


async def unreadable_body(request: Request, exc: Exception) -> Response:
    """The answer to a request whose body could not be read (``ClientDisconnect``)."""
    return error(400, UNREADABLE_BODY, [{"field": "body", "message": UNREADABLE_DETAIL}])
