"""The application class, with a raw ASGI front for the two hot collection endpoints.

``POST /api/event`` and ``POST /api/events`` take most of the traffic; sending them
through Starlette's error and exception middleware and its router costs more CPU than
the handler itself. ``FootfallApp`` calls their raw ASGI form directly (a handler's
``asgi`` attribute, see :mod:`footfall.api.collect`) and passes everything else to
Starlette. Unexpected errors still become a JSON 500 (and a log line), as the middleware
would have made them.

A body that cannot be read (Granian reports a malformed chunked body as a disconnect,
which Starlette raises as ``ClientDisconnect`` from ``request.body()``, ``stream()`` and
``form()``) is a 400 on every route: the handler registered here answers it for all of
Starlette's routes, and the collection handlers answer it themselves. A store that
cannot answer a read for now (``StoreBusy``: short of memory beside a rollups build) is a
503 with ``Retry-After`` on every route, not a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ExceptionHandler, Receive, Scope, Send

from footfall import tracing
from footfall.api import reqlog
from footfall.api.responses import CORS_HEADERS, error, unreadable_body
from footfall.store.base import StoreBusy

log = logging.getLogger("footfall.collect")

Handler = Callable[[Request], Awaitable[Response]]
RawHandler = Callable[[Scope, Receive, Send], Awaitable[None]]


async def store_busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreBusy)
    log.warning("answered 503: %s", exc.reason)
    return error(503, exc.reason, headers={"retry-after": str(exc.retry_after)})


def _raw(handler: Handler) -> RawHandler:
    """The handler's own raw ASGI form, or an adapter that builds a Request for it."""
    raw: RawHandler | None = getattr(handler, "asgi", None)
    if raw is not None:
        return raw

    async def adapter(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await handler(Request(scope, receive))
        except ClientDisconnect as exc:
            response = await unreadable_body(Request(scope, receive), exc)
        except Exception:
            log.exception("collection handler failed")
            response = error(500, "Internal error", headers=CORS_HEADERS)
        await response(scope, receive, send)

    return adapter


class FootfallApp(Starlette):
    def __init__(
        self,
        *,
        fast_routes: Mapping[str, Handler],
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        **kwargs: Any,
    ) -> None:
        handlers = {
            ClientDisconnect: unreadable_body,
            StoreBusy: store_busy,
            **(exception_handlers or {}),
        }
        super().__init__(exception_handlers=handlers, **kwargs)
        self.fast_routes = fast_routes
        self._fast = {path: _raw(handler) for path, handler in fast_routes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # One log line and an X-Request-ID per request (footfall/api/reqlog.py).
            # Inside it, the request's span when tracing is on (footfall/tracing.py).
            app = self._traced if tracing.active() else self._dispatch
            await reqlog.handle(app, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        await tracing.http(self._dispatch, scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            handler = self._fast.get(scope["path"])
            if handler is not None:
                scope["app"] = self  # handlers reach app.state.services through it
                scope["footfall.route"] = scope["path"]
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
