"""One person's data: find it by ``user_id`` or ``visitor_id``, export it, delete it.

Both operations work on the person's *visits*: every visit holding an event with the
given ``user_id`` (set by ``identify``) or stored ``visitor_id`` (the decimal id the
journey and visit APIs show). Deleting goes through the store port
(``EventStore.delete_person``), which also mends the rollups, so every report afterwards
equals what it would be had those visits never been sent. Exporting streams the same
events as JSON lines with every stored column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from footfall.ingest.validate import FieldError
from footfall.query import export
from footfall.query.dialects import DIALECTS
from footfall.query.rollup import spec
from footfall.query.sessions import parse_id
from footfall.store.base import EventStore

MAX_USER_ID = 256
_AS_TEXT = {"event_id", "visitor_id", "session_id"}


@dataclass(frozen=True, slots=True)
class Person:
    site_id: str
    column: str  # "user_id" or "visitor_id"
    value: str | int

    @classmethod
    def of(cls, site_id: str, user_id: str | None, visitor_id: str | None) -> Person:
        """The person named by exactly one of ``user_id`` and ``visitor_id`` (FieldError
        naming the field otherwise)."""
        if (user_id is None) == (visitor_id is None):
            raise FieldError("user_id", "give exactly one of user_id or visitor_id")
        if user_id is not None:
            if not user_id or len(user_id) > MAX_USER_ID:
                raise FieldError("user_id", f"must be 1 to {MAX_USER_ID} characters")
            return cls(site_id, "user_id", user_id)
        assert visitor_id is not None
        return cls(site_id, "visitor_id", parse_id(visitor_id, "visitor_id"))

    def describe(self) -> dict[str, Any]:
        return {"site_id": self.site_id, self.column: str(self.value)}


def forget(store: EventStore, person: Person) -> dict[str, Any]:
    """Delete the person's visits and mend the rollups; the rows deleted per table."""
    rollups = spec(DIALECTS[store.capabilities.sql_dialect])
    deleted = store.delete_person(person.site_id, person.column, person.value, rollups)
    return {**person.describe(), "deleted": deleted}


def events_sql(person: Person) -> tuple[str, list[Any]]:
    """Every stored column of the events of the person's visits, oldest first."""
    # As the site export's columns (query/export.py): ids as text, which JSON keeps exact.
    cols = ", ".join(
        f"CAST({c} AS VARCHAR) AS {c}" if c in _AS_TEXT else c for c in export.RAW_COLUMNS
    )
    where = (
        "site_id = ? AND session_id IN "
        f"(SELECT session_id FROM events WHERE site_id = ? AND {person.column} = ?)"
    )
    return f"SELECT {cols} FROM events WHERE {where} ORDER BY ts, event_id", [
        person.site_id, person.site_id, person.value
    ]  # fmt: skip


def export_jsonl(store: EventStore, person: Person) -> Iterator[bytes]:
    """The person's events as JSON lines, a store batch at a time."""
    sql, params = events_sql(person)
    return export.encode(store.stream(sql, params, export.BATCH_ROWS), "jsonl")
