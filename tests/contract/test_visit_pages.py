"""The store contract for a visit's one-event values, on every store: its entry and exit
pages, the exit page's hostname, its hostname and user id are those of the events its
times say (the earliest pageview, the latest pageview, the earliest event), checked
against a plain-Python fold of the events, whether written at once or in shuffled pieces
(late events then precede, extend or bridge stored visits)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.writer import Writer
from tests.contract.test_store_writes import T0, open_parts, record

TIMEOUT_S = 30 * 60  # the writer's default session timeout


def _events(seed: int) -> list[SpoolRecord]:
    rng = random.Random(seed)
    # Distinct seconds: no two events of a visitor share a time (ties are arbitrary).
    seconds = rng.sample(range(12 * 3600), 150)
    return [
        record(
            i,
            ts=T0 + s * 1000,
            visitor_id=1 + i % 6,
            name=rng.choice(["pageview", "pageview", "signup", "engagement"]),
            pathname=f"/{rng.randrange(9)}",
            hostname=rng.choice(["s.com", "shop.s.com", "blog.s.com"]),
            user_id=rng.choice(["", "u1", "u2"]),
        )
        for i, s in enumerate(seconds)
    ]


def _reference(events: list[SpoolRecord]) -> list[tuple[object, ...]]:
    """Each visitor's events by time, a new visit after a gap above the timeout; per visit
    (visitor, entry page, exit page, exit hostname, hostname, user id, pageviews, events)."""
    visits: list[list[SpoolRecord]] = []
    for visitor in sorted({e.visitor_id for e in events}):
        mine = sorted((e for e in events if e.visitor_id == visitor), key=lambda e: e.ts)
        for e in mine:
            if (
                visits
                and visits[-1][0].visitor_id == visitor
                and e.ts - visits[-1][-1].ts <= TIMEOUT_S * 1000
            ):
                visits[-1].append(e)
            else:
                visits.append([e])
    out = []
    for v in visits:
        pages = [e for e in v if e.name == "pageview"]
        out.append((
            v[0].visitor_id,
            pages[0].pathname if pages else None,
            pages[-1].pathname if pages else None,
            pages[-1].hostname if pages else None,
            v[0].hostname,
            v[0].user_id,
            len(pages),
            sum(e.name != "engagement" for e in v),
        ))  # fmt: skip
    return out


@pytest.mark.parametrize("pieces", [1, 4])
def test_a_visits_pages_hostnames_and_user_follow_its_events_times(
    tmp_path: Path, store_url: str, pieces: int
) -> None:
    events = _events(pieces)
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",))
    shuffled = events[:]
    random.Random(pieces).shuffle(shuffled)  # later pieces hold earlier events
    size = -(-len(shuffled) // pieces)
    for k in range(pieces):
        spool.append_sync([ENCODER.encode(r) for r in shuffled[k * size : (k + 1) * size]])
        writer.run_once()
    got = store.query(
        "SELECT visitor_id, entry_page, exit_page, exit_hostname, hostname, user_id, pageviews, "
        "events FROM sessions ORDER BY visitor_id, start_ts"
    )
    expected = _reference(events)
    assert len(expected) > 6  # some visitors came back after the timeout
    assert [tuple(r) for r in got] == expected
