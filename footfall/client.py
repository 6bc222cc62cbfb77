"""Server-side helper for sending events to Footfall's native collection API.

Standard library only, so a backend can copy this file as is::

    from footfall.client import Client

    client = Client("https://stats.example.com", "ffk_...")
    client.track("signup", "/register", user_id="u42", props={"plan": "pro"},
                 ip=request_ip, user_agent=request_ua)

or, with ``FOOTFALL_URL`` and ``FOOTFALL_API_KEY`` set, ``footfall.client.track(...)``.

Every event gets a client ``event_id`` (a UUID) and a ``timestamp`` before its first send,
so a retried request carries the same bytes and the server stores it exactly once.
Requests answered 429/502/503/504, or that fail to connect or time out, are retried up to
``max_retries`` times, waiting ``Retry-After`` when the server sends it and 0.5, 1, 2 ... s
otherwise, never more than 30 s. Other 4xx answers raise :class:`FootfallError` at once.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from footfall import __version__

__all__ = ["BatchResult", "Client", "FootfallError", "Rows", "Stats", "track"]

MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = (1 << 20) - 1024  # the server's 1 MiB, less room for the envelope
MAX_DELAY = 30.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = f"footfall-python/{__version__}"  # urllib's default UA is filtered as a bot


class FootfallError(Exception):
    """A request Footfall refused (4xx) or that still failed after the retries.

    ``status`` is the HTTP status, or 0 when no answer came (connection refused, timeout,
    missing configuration); ``field`` names the offending field as the server reported it
    (``path``, ``metadata``, ``x-api-key``, ``body`` ...).
    """

    def __init__(self, status: int, field: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {field}: {message}")
        self.status, self.field, self.message = status, field, message
        self.body = body  # the decoded response body, when there was one


@dataclass
class BatchResult:
    """Outcome of :meth:`Client.track_many`; indexes refer to the list passed in."""

    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {index, field, message}
    event_ids: list[str] = field(default_factory=list)  # in input order


class Client:
    """A Footfall ingest client for one site (its ingest key). Safe to share across threads."""

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 5.0, max_retries: int = 3
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries

    def track(
        self,
        event_type: str,
        path: str,
        *,
        url: str | None = None,
        referrer: str | None = None,
        user_id: str | None = None,
        visitor_id: str | None = None,
        session_id: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        props: dict[str, Any] | None = None,
        user_props: dict[str, Any] | None = None,
        revenue: float | None = None,
        timestamp: datetime | str | int | None = None,
        event_id: str | None = None,
    ) -> str:
        """Send one event (``POST /api/event``) and return the ``event_id`` it carried.

        ``ip`` and ``user_agent`` are the end user's, for the cookieless visitor hash and
        device reports; without them all events look like one visitor (your server)
        unless ``user_id`` or ``visitor_id`` is given. ``props`` become the event's
        metadata (at most 30 scalar values).
        """
        event: dict[str, Any] = {"event_type": event_type, "path": path}
        optional = {
            "url": url,
            "referrer": referrer,
            "user_id": user_id,
            "visitor_id": visitor_id,
            "session_id": session_id,
            "ip": ip,
            "user_agent": user_agent,
            "metadata": props,
            "user_props": user_props,
            "revenue": revenue,
            "timestamp": timestamp,
            "event_id": event_id,
        }
        event.update({k: v for k, v in optional.items() if v is not None})
        event = _prepare(event)
        self._post("/api/event", event)
        return str(event["event_id"])

    def track_many(self, events: list[dict[str, Any]]) -> BatchResult:
        """Send native-API event dicts (``POST /api/events``) in chunks of at most 1,000
        events / 1 MiB. Each event is judged on its own: bad ones come back in
        ``rejected`` with their index in ``events``; the rest are stored. Events lacking an
        ``event_id`` get one (the input dicts are not modified)."""
        prepared = [_prepare(e) for e in events]
        result = BatchResult(event_ids=[str(e["event_id"]) for e in prepared])
        chunk: list[tuple[int, bytes]] = []
        size = 0
        for index, event in enumerate(prepared):
            encoded = json.dumps(event, separators=(",", ":"), default=str).encode()
            if chunk and (
                len(chunk) >= MAX_BATCH_EVENTS or size + len(encoded) + 1 > MAX_BATCH_BYTES
            ):
                self._send_chunk(chunk, result)
                chunk, size = [], 0
            chunk.append((index, encoded))
            size += len(encoded) + 1
        if chunk:
            self._send_chunk(chunk, result)
        return result

    def _send_chunk(self, chunk: list[tuple[int, bytes]], result: BatchResult) -> None:
        body = b'{"events":[' + b",".join(e for _, e in chunk) + b"]}"
        try:
            answer = self._post("/api/events", body)
        except FootfallError as exc:
            # 400 "none accepted" still lists the rejections; anything else is an error.
            if exc.status != 400 or not isinstance(exc.body, dict) or "rejected" not in exc.body:
                raise
            answer = exc.body
        result.accepted += int(answer.get("accepted", 0))
        for item in answer.get("rejected", []):
            result.rejected.append({**item, "index": chunk[int(item["index"])][0]})

    def _post(self, path: str, payload: dict[str, Any] | bytes) -> Any:
        data = payload if isinstance(payload, bytes) else json.dumps(payload, default=str).encode()
        headers = {
            "content-type": "application/json",
            "x-api-key": self.api_key,
            "user-agent": USER_AGENT,
        }
        attempt = 0
        while True:
            # S310: base_url is checked to be http(s) in __init__.
            request = urllib.request.Request(  # noqa: S310
                self.base_url + path, data=data, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return _json(response.read())
            except urllib.error.HTTPError as exc:
                body = _json(exc.read())
                error = _error(exc.code, body)
                if exc.code not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise error from None
                delay = _retry_after(exc.headers.get("retry-after"))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                if attempt >= self.max_retries:
                    raise FootfallError(
                        0, "connection", f"{self.base_url}{path}: {reason}"
                    ) from None
                delay = None
            time.sleep(min(MAX_DELAY, delay if delay is not None else 0.5 * 2**attempt))
            attempt += 1


def _prepare(event: dict[str, Any]) -> dict[str, Any]:
    """A copy with ``event_id`` and ``timestamp`` fixed now, so retries resend them as is."""
    out = dict(event)
    if "props" in out and "metadata" not in out:
        out["metadata"] = out.pop("props")
    if not out.get("event_id"):
        out["event_id"] = str(uuid.uuid4())
    ts = out.get("timestamp")
    if ts is None:
        out["timestamp"] = int(time.time() * 1000)
    elif isinstance(ts, datetime):
        out["timestamp"] = ts.isoformat()  # naive datetimes are read as UTC by the server
    return out


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def _error(status: int, body: Any) -> FootfallError:
    """The native envelope: {"error": ..., "details": [{"field", "message"}]}."""
    field_name, message = "body", str(body)
    if isinstance(body, dict):
        message = str(body.get("error", message))
        details = body.get("details") or body.get("rejected") or []
        if details and isinstance(details[0], dict):
            field_name = str(details[0].get("field", field_name))
            message = str(details[0].get("message", message))
    return FootfallError(status, field_name, message, body)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The client behind :func:`track`, made on first use from ``FOOTFALL_URL`` and
    ``FOOTFALL_API_KEY``."""
    global _default
    with _default_lock:
        if _default is None:
            url, key = os.environ.get("FOOTFALL_URL"), os.environ.get("FOOTFALL_API_KEY")
            if not url or not key:
                raise FootfallError(
                    0,
                    "FOOTFALL_URL" if not url else "FOOTFALL_API_KEY",
                    "environment variable not set",
                )
            _default = Client(url, key)
        return _default


def track(event_type: str, path: str, **fields: Any) -> str:
    """:meth:`Client.track` on the default client; returns the event id."""
    return default_client().track(event_type, path, **fields)


# Reading (a module of its own; it imports FootfallError from here when it needs it).
from footfall.stats_client import Rows, Stats  # noqa: E402
