"""The ceiling for bench/ingest.py: a bare ASGI app that reads the request body and
answers ``202 {"success": true}``, served by the same Granian settings as ``footfall serve``.
"""

from __future__ import annotations

from typing import Any

BODY = b'{"success":true,"message":"Event queued successfully"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    status = 202 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
