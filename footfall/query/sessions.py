"""Visits one by one: the sessions list, one visit's timeline, one person's journey.

These read rows rather than aggregates, so they query the store directly, in portable SQL
with every value a bound parameter. The list pages by keyset on ``(start_ts, session_id)``
(newest first) behind an opaque cursor, so visits that start later (new inserts) can never
shift the pages after the first. The list takes the v2 query's filters, compiled by the
query builder exactly as for every report (a filter on an event dimension keeps the visits
having a matching event in the period).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from footfall.ingest.validate import FieldError
from footfall.meta.repo import SiteInfo
from footfall.query import builder
from footfall.query.model import Filter
from footfall.query.period import Period
from footfall.query.runner import QueryRunner
from footfall.store.base import EventStore

_COLUMNS = ("session_id, visitor_id, user_id, start_ts, end_ts, pageviews, events, entry_page, "
            "exit_page, referrer_source, device, browser, country")  # fmt: skip
_EVENT_COLUMNS = "session_id, name, pathname, ts, props"
MAX_ID = (1 << 64) - 1


def _iso(ts: datetime) -> str:
    """A stored naive-UTC time as RFC 3339 with milliseconds."""
    return ts.replace(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_id(value: str, name: str) -> int:
    """An unsigned 64-bit id given as a decimal string."""
    if not value.isascii() or not value.isdigit() or int(value) > MAX_ID:
        raise FieldError(name, "must be an unsigned 64-bit integer in decimal")
    return int(value)


def encode_cursor(start: datetime, session_id: int) -> str:
    raw = f"{start.isoformat()}|{session_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, _, sid = raw.partition("|")
        return datetime.fromisoformat(start), parse_id(sid, "cursor")
    except (ValueError, binascii.Error, UnicodeDecodeError, FieldError):
        raise FieldError("cursor", "not a cursor returned by this endpoint") from None


def _session(row: tuple[Any, ...]) -> dict[str, Any]:
    sid, vid, uid, start, end, pv, ev, entry, exit_, source, device, browser, country = row
    return {
        "session_id": str(sid), "visitor_id": str(vid), "user_id": uid or None,
        "start": _iso(start), "end": _iso(end),
        "duration": round((end - start).total_seconds()),
        "pageviews": pv, "events": ev, "entry_page": entry, "exit_page": exit_,
        "source": source or "Direct / None", "device": device, "browser": browser,
        "country": country,
    }  # fmt: skip


def _event(row: tuple[Any, ...]) -> dict[str, Any]:
    _, name, pathname, ts, props = row
    return {"name": name, "pathname": pathname, "ts": _iso(ts), "props": dict(props or {})}


def list_sessions(
    runner: QueryRunner, site: SiteInfo, p: Period, filters: tuple[Filter, ...], limit: int,
    cursor: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Visits that started in ``p`` and pass ``filters`` (a parsed query's), newest first,
    ``limit`` per page."""
    scope = builder.Scope(site.id, p.start_utc, p.end_utc, ZoneInfo(site.timezone),
                          runner.dialect, None)  # fmt: skip
    where, params = builder.where(scope, filters, "sessions")
    sql = f"SELECT {_COLUMNS} FROM sessions WHERE {where}"
    if cursor:
        after_ts, after_id = decode_cursor(cursor)
        sql += " AND (start_ts < ? OR (start_ts = ? AND session_id < ?))"
        params += [after_ts, after_ts, after_id]
    sql += " ORDER BY start_ts DESC, session_id DESC LIMIT ?"
    rows = runner.store.query(sql, [*params, limit + 1])
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if rows else None
    return {
        "sessions": [_session(r) for r in rows],
        "next_cursor": encode_cursor(last[3], int(last[0])) if more and last else None,
    }


def timeline(store: EventStore, site_id: str, session_id: int) -> dict[str, Any] | None:
    """One visit and its events in time order; None when the site has no such visit."""
    found = store.query(
        f"SELECT {_COLUMNS} FROM sessions WHERE site_id = ? AND session_id = ?",
        [site_id, session_id],
    )
    events = store.query(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE site_id = ? AND session_id = ? "
        "ORDER BY ts, event_id",
        [site_id, session_id],
    )
    if not found and not events:
        return None
    return {
        "session": _session(found[0]) if found else None,
        "events": [_event(e) for e in events],
    }


def journey(
    store: EventStore, site_id: str, *, user_id: str | None = None,
    visitor_id: int | None = None, limit: int = 100,
) -> dict[str, Any]:  # fmt: skip
    """A user's (events carrying ``user_id``) or visitor's visits, oldest first, each with
    its events in time order."""
    if user_id is not None:
        where = (
            "site_id = ? AND session_id IN "
            "(SELECT session_id FROM events WHERE site_id = ? AND user_id = ?)"
        )
        params: list[Any] = [site_id, site_id, user_id]
    else:
        where, params = "site_id = ? AND visitor_id = ?", [site_id, visitor_id]
    rows = store.query(
        f"SELECT {_COLUMNS} FROM sessions WHERE {where} ORDER BY start_ts, session_id LIMIT ?",
        [*params, limit],
    )
    sessions = [{**_session(r), "events": []} for r in rows]
    if rows:
        by_id = {int(r[0]): s for r, s in zip(rows, sessions, strict=True)}
        marks = ", ".join("?" for _ in by_id)
        for e in store.query(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE site_id = ? AND session_id IN ({marks}) "
            "ORDER BY ts, event_id",
            [site_id, *by_id],
        ):
            by_id[int(e[0])]["events"].append(_event(e))
    return {"sessions": sessions}
