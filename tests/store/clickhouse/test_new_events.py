"""A ClickHouse round hands its new events to the server built column-wise
(``rows.new_events``): each visit value a dictionary over the round's visits, every event
carrying its visit's values, the re-stamped ones included."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from footfall.ingest.record import ENCODER
from footfall.queue.writer import Writer
from tests.contract.test_store_writes import T0, open_parts, record

MIN = 60_000
NUMBER = {str(uuid.UUID(int=i + 1)): i for i in range(1, 6)}  # record(i)'s event id


def test_new_events_carry_their_visits_values_as_dictionaries(
    tmp_path: Path, store_url: str
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    ch: Any = store.ch  # type: ignore[attr-defined]
    sent: list[pa.Table] = []
    real = ch.insert

    def insert(table: str, data: pa.Table, token: str = "") -> None:
        if table == "events":
            sent.append(data)
        real(table, data, token)

    ch.insert = insert
    try:
        writer = Writer(spool, store, lambda s: ("s.com",))
        # Round 1: visitor 1's visit starts at +10 min in Germany; visitor 2's in Spain.
        spool.append_sync(
            [
                ENCODER.encode(record(1, ts=T0 + 10 * MIN, visitor_id=1, pathname="/b", country="DE")),
                ENCODER.encode(record(2, ts=T0, visitor_id=2, pathname="/x", country="ES")),
            ]
        )  # fmt: skip
        assert writer.run_once() == 2
        # Round 2: a late event moves visitor 1's start to +0 (from France, on /a), so the
        # stored event is re-stamped, and the round's new events carry the new values too.
        spool.append_sync(
            [
                ENCODER.encode(record(3, ts=T0, visitor_id=1, pathname="/a", country="FR")),
                ENCODER.encode(record(4, ts=T0 + 15 * MIN, visitor_id=1, pathname="/c", country="IT")),
                ENCODER.encode(record(5, ts=T0 + 5 * MIN, visitor_id=2, pathname="/y", country="PT")),
            ]
        )  # fmt: skip
        assert writer.run_once() == 3
        assert len(sent) == 2
        for table in sent:
            for column in ("country", "entry_page", "referrer_source", "browser"):
                assert pa.types.is_dictionary(table.schema.field(column).type), column
        rows = {
            NUMBER[r["event_id"]]: (r["country"], r["entry_page"])
            for r in sent[1].to_pylist()  # the new events and the re-stamped copy of 1
        }
        assert rows == {1: ("FR", "/a"), 3: ("FR", "/a"), 4: ("FR", "/a"), 5: ("ES", "/x")}
        stored = store.query("SELECT event_id, country, entry_page FROM events")
        assert sorted((NUMBER[str(e)], c, p) for e, c, p in stored) == [
            (1, "FR", "/a"), (2, "ES", "/x"), (3, "FR", "/a"), (4, "FR", "/a"), (5, "ES", "/x"),
        ]  # fmt: skip
    finally:
        store.close()
        spool.close_sync()
