"""One log line per HTTP request, and the request id in ``X-Request-ID``.

Wraps the whole ASGI application (:class:`footfall.api.fastpath.FootfallApp` calls
:func:`handle`), the collection fast path included. The line says the method, the route
*template* (``/api/v1/sessions/{session_id}``, never the path as sent, which may carry a
shared link's token), the status, the duration and the request id: never the client IP,
the query string, a key or a token. A sane incoming ``X-Request-ID`` (a proxy's) is kept,
so one id follows a request through every hop; anything else gets a fresh one.

An error a handler raised is logged here, traceback inside the one line, and the client
gets a JSON 500 if nothing was sent yet; it is not raised on to the server, which would
print its own multi-line traceback.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Awaitable, Callable

from starlette.types import Message, Receive, Scope, Send

from footfall import logs
from footfall.api.responses import error

log = logging.getLogger("footfall.http")

_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_id(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            if _SANE_ID.fullmatch(value):
                return bytes(value)
            break
    # Not a secret, only unique enough to find a request's lines: getrandbits is a
    # fraction of os.urandom's syscall (bench/request_log.py).
    return f"{random.getrandbits(64):016x}".encode()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return scope.get("footfall.route") or "(no route)"


async def handle(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    rid = request_id(scope)
    started = time.perf_counter()
    status = 0

    async def send_with_id(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
        await send(message)

    failed = False
    try:
        await app(scope, receive, send_with_id)
    except Exception:
        failed = True
        log.exception(
            "request failed", extra={"fields": _fields(scope, status or 500, started, rid)}
        )
        if not status:
            await error(500, "Internal error")(scope, receive, send_with_id)
    if not failed and log.isEnabledFor(logging.INFO):
        logs.fast_info(log, "request", _fields(scope, status, started, rid))


def _fields(scope: Scope, status: int, started: float, rid: bytes) -> dict[str, object]:
    return {
        "method": scope.get("method", ""),
        "route": _route(scope),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "request_id": rid.decode(),
    }
