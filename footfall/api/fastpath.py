"""The application class, with a raw ASGI front for the two hot collection endpoints.

``POST /api/event`` and ``POST /api/events`` take most of the traffic; sending them
through Starlette's error and exception middleware and its router costs more CPU than
the handler itself. ``FootfallApp`` calls their handlers directly and passes everything
else to Starlette. Unexpected errors still become a JSON 500 (and a log line), as the
middleware would have made them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from footfall.api.responses import CORS_HEADERS, error

log = logging.getLogger("footfall.collect")

Handler = Callable[[Request], Awaitable[Response]]


class FootfallApp(Starlette):
    def __init__(self, *args: Any, fast_routes: Mapping[str, Handler], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast_routes = fast_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.fast_routes.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # handlers reach app.state.services through the request
        try:
            response = await handler(Request(scope, receive))
        except Exception:
            log.exception("collection handler failed")
            response = error(500, "Internal error", headers=CORS_HEADERS)
        await response(scope, receive, send)
