"""Request plumbing of the collection endpoints, on the raw ASGI scope.

:mod:`footfall.api.collect` (and :mod:`footfall.api.compat`) use these: :class:`Incoming`
reads what the handlers need from the header list in one pass and reads the body under a
size limit, :func:`read_body` does the same for a Starlette ``Request``, and
:class:`FastJSON` answers with pre-encoded headers. No decision about an event is made
here.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from footfall.api.clientip import client_ip
from footfall.api.responses import CORS_HEADERS

_BASE_HEADERS: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")] + [
    (k.encode("latin-1"), v.encode("latin-1")) for k, v in CORS_HEADERS.items()
]


class TooLarge(Exception):
    pass


class Disconnected(Exception):
    """The body ended before it was complete: the client went away, or (as Granian
    reports it) sent a malformed chunked body and waits for the answer."""


class FastJSON(Response):
    """A JSON response whose body and header list are already encoded.

    A Starlette ``Response`` (so the router accepts it) without its per-response header
    building: the collection endpoints answer with the same few headers every time.
    """

    media_type = "application/json"

    def __init__(
        self, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.status_code = status
        self.body = body
        self.background = None
        headers = _BASE_HEADERS + extra if extra else _BASE_HEADERS[:]
        headers.append((b"content-length", b"%d" % len(body)))
        self.raw_headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        await send({"type": "http.response.body", "body": self.body})


# The request headers the collection handlers read, by their place in Incoming's scan.
_WANTED = {name: i for i, name in enumerate((
    b"content-type", b"content-length", b"x-api-key", b"user-agent", b"dnt", b"sec-gpc",
    b"x-forwarded-for",
))}  # fmt: skip


class Incoming:
    """What the collection handlers need from a request, read from the raw scope once."""

    __slots__ = ("ctype", "dnt", "gpc", "key", "length", "receive", "scope", "ua", "xff")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope, self.receive = scope, receive
        found: list[bytes | None] = [None] * len(_WANTED)
        wanted = _WANTED.get
        # Backwards, so that the first of repeated headers wins (as Starlette's Headers.get);
        # one dict lookup per header is the cheapest scan (measured against an if/elif chain).
        for name, value in reversed(scope["headers"]):
            i = wanted(name)
            if i is not None:
                found[i] = value
        ctype, length, key, ua, dnt, gpc, xff = found
        # Header values are latin-1, as in Starlette's Headers.
        self.ctype = ctype.decode("latin-1") if ctype is not None else ""
        self.length = length.decode("latin-1") if length is not None else None
        self.key = key.decode("latin-1") if key is not None else None
        self.ua = ua.decode("latin-1") if ua is not None else ""
        self.dnt = dnt.decode("latin-1") if dnt is not None else None
        self.gpc = gpc.decode("latin-1") if gpc is not None else None
        self.xff = xff is not None

    def client_ip(self, trusted_proxies: int) -> str:
        if trusted_proxies > 0 and self.xff:
            return client_ip(HTTPConnection(self.scope), trusted_proxies)
        client = self.scope.get("client")
        return client[0] if client else ""

    def query_key(self) -> str | None:
        qs = self.scope.get("query_string", b"")
        return QueryParams(qs).get("api_key") if qs else None

    async def body(self, limit: int) -> bytes:
        declared = self.length
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise TooLarge
        message = await self.receive()
        if message["type"] != "http.request":
            raise Disconnected
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            if len(body) > limit:
                raise TooLarge
            return body
        chunks = [body]
        size = len(body)
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                raise Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
