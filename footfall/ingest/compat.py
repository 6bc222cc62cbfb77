"""Plausible- and Umami-shaped events as native events (docs/design.md "Collection APIs").

Both forms carry no key: a Plausible event names its site by registered domain (``d``, a
comma list sends one event to each), an Umami event by the site's id or its public UUID
(``website``). The translation only reshapes; limits, the time window, the page-host
check and everything after are the native pipeline's, so every tracker is judged alike.
Client mistakes raise :class:`CompatError` naming the field in the original's own terms.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from footfall.ingest.validate import FieldError, NativeEvent, decode_event
from footfall.meta.repo import Metadata, SiteInfo

MAX_PROPS = 30
# Native field → the name a Plausible client knows it by.
_PLAUSIBLE_FIELDS = {
    "event_type": "name",
    "path": "url",
    "url": "url",
    "metadata": "props",
    "referrer": "referrer",
    "revenue": "revenue",
    "engaged_ms": "e",
    "scroll_depth": "sd",
}


def _split(url: str, field: str) -> SplitResult:
    """urlsplit, with its ValueError (e.g. an unbalanced '[') turned into a 400."""
    try:
        return urlsplit(url)
    except ValueError:
        raise CompatError(field, "is invalid") from None


class CompatError(ValueError):
    """Bad input in a compatible form: the field (in the client's terms) and the problem."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def is_plausible(raw: dict[str, Any]) -> bool:
    """A body for ``POST /api/event`` is Plausible's when it is not native and has its keys."""
    return "event_type" not in raw and any(k in raw for k in ("n", "name", "d", "domain", "u"))


def _pick(raw: dict[str, Any], short: str, long: str) -> Any:
    return raw[short] if short in raw else raw.get(long)


def _text(value: Any, field: str, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise CompatError(field, "can't be blank")
        return ""
    if not isinstance(value, str):
        raise CompatError(field, "must be a string")
    return value


def _revenue(value: Any) -> float | None:
    """Plausible sends ``{"currency": "EUR", "amount": "12.50"}``; a bare number is allowed."""
    if value is None:
        return None
    amount: Any = value.get("amount") if isinstance(value, dict) else value
    if isinstance(amount, bool):
        raise CompatError("revenue", "amount must be a number")
    try:
        return float(amount)
    except (TypeError, ValueError):
        raise CompatError("revenue", "amount must be a number") from None


def _props(value: Any, field: str) -> dict[str, Any] | None:
    """Props as a dict of scalars: a JSON string is decoded, nested values are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise CompatError(field, "must be an object") from None
    if not isinstance(value, dict):
        raise CompatError(field, "must be an object")
    if len(value) > MAX_PROPS:
        raise CompatError(field, f"at most {MAX_PROPS} properties")
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise CompatError(field, f"property {key[:64]!r} must be a string, number or boolean")
    return value


def _native(fields: dict[str, Any], names: dict[str, str]) -> NativeEvent:
    try:
        return decode_event(fields)
    except FieldError as exc:
        raise CompatError(names.get(exc.field, exc.field), exc.message) from None


def plausible_event(raw: dict[str, Any]) -> tuple[list[str], NativeEvent]:
    """(domains, event) from a Plausible Events API body; raises CompatError."""
    name = _text(_pick(raw, "n", "name"), "name")
    url = _text(_pick(raw, "u", "url"), "url")
    domains = [d.strip() for d in _text(_pick(raw, "d", "domain"), "domain").split(",")]
    domains = [d for d in domains if d]
    if not domains:
        raise CompatError("domain", "can't be blank")
    parts = _split(url, "url")
    if parts.scheme not in ("http", "https") and not parts.scheme.startswith("app"):
        raise CompatError("url", "is invalid")
    path = parts.path or "/"
    if _pick(raw, "h", "hashMode") and parts.fragment:
        path += "#" + parts.fragment
    interactive = _pick(raw, "i", "interactive")
    fields: dict[str, Any] = {
        "event_type": name,
        "path": path,
        "url": url,
        "referrer": _text(_pick(raw, "r", "referrer"), "referrer", required=False),
        "interactive": interactive is not False if name != "engagement" else False,
        "metadata": _props(_pick(raw, "p", "props") or raw.get("m") or raw.get("meta"), "props"),
        "revenue": _revenue(raw["$"] if "$" in raw else raw.get("revenue")),
    }
    if name == "engagement":  # the new Plausible tracker's scroll depth / engaged time
        fields["engaged_ms"] = raw.get("e")
        fields["scroll_depth"] = raw.get("sd")
    return domains, _native({k: v for k, v in fields.items() if v is not None}, _PLAUSIBLE_FIELDS)


def _flatten(data: Any) -> dict[str, Any] | None:
    """Umami event data may nest; keys become dotted paths, lists become JSON text."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CompatError("payload.data", "must be an object")
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(f"{prefix}{key}.", item)
        elif isinstance(value, dict | list):
            out[prefix[:-1]] = json.dumps(value, separators=(",", ":"))[:1024]
        else:
            out[prefix[:-1]] = value[:1024] if isinstance(value, str) else value

    if not data:
        return None
    walk("", data)
    if len(out) > MAX_PROPS:
        raise CompatError("payload.data", f"at most {MAX_PROPS} properties")
    return out


def umami_event(body: Any) -> tuple[str, str, NativeEvent | None]:
    """(type, website, event) from an Umami ``/api/send`` body; ``identify`` gives no event."""
    if not isinstance(body, dict):
        raise CompatError("body", "must be an object")
    kind = body.get("type")
    if kind not in ("event", "identify"):
        raise CompatError("type", "must be 'event' or 'identify'")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise CompatError("payload", "is required")
    website = _text(payload.get("website"), "payload.website")
    if kind == "identify":
        _flatten(payload.get("data"))  # validated, but Footfall keeps no session data
        return kind, website, None
    hostname = _text(payload.get("hostname"), "payload.hostname", required=False)
    url = _text(payload.get("url"), "payload.url", required=False) or "/"
    if url.startswith(("http://", "https://")):
        parts = _split(url, "payload.url")
        full, path = url, parts.path or "/"
    else:
        full = f"https://{hostname}{url}" if hostname else ""
        path = url if url.startswith("/") else "/" + url
    name = payload.get("name")
    fields = {
        "event_type": _text(name, "payload.name", required=False) or "pageview",
        "path": path.split("#", 1)[0] or "/",
        "url": full,
        "referrer": _text(payload.get("referrer"), "payload.referrer", required=False),
        "title": _text(payload.get("title"), "payload.title", required=False),
        "screen": _text(payload.get("screen"), "payload.screen", required=False),
        "language": _text(payload.get("language"), "payload.language", required=False),
        "metadata": _flatten(payload.get("data")),
        "user_id": payload.get("id") if isinstance(payload.get("id"), str) else None,
    }
    names = {k: "payload." + k for k in fields}
    names |= {"event_type": "payload.name", "path": "payload.url", "metadata": "payload.data"}
    return kind, website, _native({k: v for k, v in fields.items() if v is not None}, names)


class CompatSites:
    """Small TTL cache of domain → sites and alias → site for the keyless collectors."""

    def __init__(self, meta: Metadata, ttl: float = 30.0) -> None:
        self.meta, self.ttl = meta, ttl
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def for_domain(self, domain: str) -> list[SiteInfo]:
        found: list[SiteInfo] = self._get("d:" + domain, lambda: self.meta.sites_for_domain(domain))
        return found

    def for_alias(self, alias: str) -> SiteInfo | None:
        found: SiteInfo | None = self._get("a:" + alias, lambda: self.meta.site_for_alias(alias))
        return found

    def _get(self, key: str, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._cache) > 50_000:  # names from the internet must not grow this forever
                self._cache.clear()
            # Misses expire fast, so a site created a moment ago is found soon.
            self._cache[key] = (now + (self.ttl if value else 2.0), value)
        return value
