"""The store contract for writes, on every store: the writer moves spool records into the
store exactly once across crashes and retries; duplicates, bots, visits (late events,
client session ids, visits written in pieces) come out the same on DuckDB and ClickHouse."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from footfall.config import Settings
from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.spool import Spool
from footfall.queue.writer import Writer
from footfall.store import open_store
from footfall.store.base import SESSION_FIRST_EVENT_COLUMNS, EventStore
from footfall.store.duckdb import DuckDBStore
from tests.contract.conftest import sibling

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"
T0 = 1_700_000_000_000


def record(i: int, **kw: object) -> SpoolRecord:
    base: dict[str, object] = dict(
        event_id=str(uuid.UUID(int=i + 1)),
        site_id="s",
        ts=T0 + i * 1000,
        name="pageview",
        hostname="s.com",
        pathname=f"/{i % 7}",
        url_query="",
        referrer="",
        user_agent=UA,
        visitor_id=1 + i % 13,
        session_id=0,
        user_id="",
        screen="",
        language="",
        country="",
        region="",
        city="",
        title="",
        interactive=True,
        props={"i": str(i)},
    )
    base.update(kw)
    return SpoolRecord(**base)  # type: ignore[arg-type]


def out_of_order(n: int, seed: int) -> list[SpoolRecord]:
    """``n`` records of 11 visitors at random times over three hours, so that later rounds
    merge into (and re-stamp) the visits of earlier ones."""
    rng = random.Random(seed)
    return [
        record(i, ts=1_700_000_000_000 + rng.randrange(0, 3 * 3600_000), visitor_id=1 + i % 11)
        for i in range(n)
    ]


def open_parts(
    tmp_path: Path,
    url: str = "",
    segment_bytes: int = 1 << 16,
    store_class: type[DuckDBStore] | None = None,
) -> tuple[Spool, EventStore]:
    """A spool and the store ``url`` names (``store_class``: a DuckDB store subclass)."""
    spool = Spool(tmp_path / "spool", segment_bytes=segment_bytes)
    spool.open()
    if store_class is not None:
        store: EventStore = store_class(tmp_path / "events.duckdb")
        store.open()
    else:
        store = open_store(Settings(data_dir=tmp_path, store_url=url))
    return spool, store


def count(store: EventStore) -> tuple[int, int]:
    return store.query("SELECT count(*), count(DISTINCT event_id) FROM events")[0]


def test_drains_in_batches_and_releases_segments(tmp_path: Path, store_url: str) -> None:
    spool, store = open_parts(tmp_path, store_url)
    spool.append_sync([ENCODER.encode(record(i)) for i in range(3000)])
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=700)
    rounds = 0
    while writer.run_once():
        rounds += 1
    assert rounds == 5
    assert count(store) == (3000, 3000)
    assert store.query("SELECT count(*) FROM sessions")[0][0] == 13  # 13 visitors, 1 s apart
    assert store.query("SELECT sum(pageviews) FROM sessions")[0][0] == 3000
    segments = sorted((tmp_path / "spool").glob("*.seg"))
    assert len(segments) <= 2, "consumed segments must be deleted"
    assert store.query("SELECT props['i'] FROM events ORDER BY ts LIMIT 1")[0][0] == "0"


def test_restart_after_crash_between_commit_and_release_is_exactly_once(
    tmp_path: Path, store_url: str
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    spool.append_sync([ENCODER.encode(record(i)) for i in range(1000)])
    Writer(spool, store, lambda s: ("s.com",), batch_size=400).run_once()
    assert count(store) == (400, 400)
    # "Crash": drop the writer and spool objects without releasing, reopen both.
    spool.close_sync()
    store.close()
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=400)
    while writer.run_once():
        pass
    assert count(store) == (1000, 1000)


def fail_second_round(store: EventStore) -> None:
    """The store's second round fails after all the batch steps ran, before its commit."""
    real, calls = store.begin_batch, [0]

    @contextmanager
    def begin_batch(progress: tuple[int, int] | None, partition: int = 0) -> Iterator[Any]:
        calls[0] += 1
        with real(progress, partition) as target:
            yield target
            if calls[0] == 2:
                raise OSError("disk full")

    store.begin_batch = begin_batch  # type: ignore[method-assign]


def test_failed_batch_rolls_back_and_is_retried(tmp_path: Path, store_url: str) -> None:
    spool, store = open_parts(tmp_path, store_url, 64 << 20)
    fail_second_round(store)
    spool.append_sync([ENCODER.encode(record(i)) for i in range(900)])
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=300)
    writer.run_once()
    with pytest.raises(Exception):
        writer.run_once()
    assert count(store) == (300, 300)
    assert store.read_progress() is not None
    while writer.run_once():
        pass
    assert count(store) == (900, 900)
    assert store.query("SELECT sum(pageviews) FROM sessions")[0][0] == 900


def test_duplicate_event_ids_are_stored_once(tmp_path: Path, store_url: str) -> None:
    spool, store = open_parts(tmp_path, store_url)
    recs = [ENCODER.encode(record(i)) for i in range(50)]
    spool.append_sync(recs + recs[:10])  # repeated in one batch
    writer = Writer(spool, store, lambda s: ("s.com",))
    writer.run_once()
    spool.append_sync(recs[20:30])  # repeated in a later batch
    writer.run_once()
    assert count(store) == (50, 50)
    assert writer.stats.duplicates_skipped == 20


def test_bots_are_counted_not_stored(tmp_path: Path, store_url: str) -> None:
    spool, store = open_parts(tmp_path, store_url)
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    spool.append_sync(
        [ENCODER.encode(record(i, user_agent=bot if i % 4 == 0 else UA)) for i in range(100)]
    )
    Writer(spool, store, lambda s: ("s.com",)).run_once()
    assert count(store)[0] == 75
    assert store.query("SELECT reason, sum(n) FROM dropped_events GROUP BY reason") == [("bot", 25)]


def test_client_session_keeps_its_first_visitor(tmp_path: Path, store_url: str) -> None:
    """identify() mid-visit changes the visitor id the client sends; the visit keeps its own."""
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",))
    spool.append_sync([ENCODER.encode(record(0, session_id=99, visitor_id=5))])
    writer.run_once()
    spool.append_sync([ENCODER.encode(record(1, session_id=99, visitor_id=6, user_id="alice"))])
    writer = Writer(
        spool, store, lambda s: ("s.com",)
    )  # a fresh cache must learn it from the store
    writer.run_once()
    assert store.query("SELECT DISTINCT visitor_id FROM events") == [(5,)]
    assert store.query("SELECT visitor_id, pageviews FROM sessions") == [(5, 2)]


def test_events_carry_their_visits_attributes_even_after_a_late_first_event(
    tmp_path: Path, store_url: str
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",))
    # A visit from Google: landing on /a, then /b (whose own referrer is internal).
    spool.append_sync(
        [
            ENCODER.encode(
                record(10, visitor_id=7, pathname="/a", referrer="https://www.google.com/")
            ),
            ENCODER.encode(record(20, visitor_id=7, pathname="/b", referrer="https://s.com/a")),
        ]
    )
    writer.run_once()
    rows = store.query("SELECT pathname, referrer_source, entry_page FROM events ORDER BY ts")
    assert rows == [("/a", "Google", "/a"), ("/b", "Google", "/a")]
    # A late event 5 s before the landing, from Bing, on /start: the visit's first event.
    spool.append_sync(
        [
            ENCODER.encode(
                record(5, visitor_id=7, pathname="/start", referrer="https://www.bing.com/")
            )
        ]
    )
    writer.run_once()
    rows = store.query("SELECT pathname, referrer_source, entry_page FROM events ORDER BY ts")
    assert rows == [
        ("/start", "Bing", "/start"),
        ("/a", "Bing", "/start"),
        ("/b", "Bing", "/start"),
    ]
    assert store.query(
        "SELECT referrer_source, entry_page, exit_page, pageviews FROM sessions"
    ) == [("Bing", "/start", "/b", 3)]


def test_new_events_of_a_re_stamped_visit_carry_its_new_first_event(
    tmp_path: Path, store_url: str
) -> None:
    """A batch that both precedes a stored visit (a late first event) and extends it: the
    batch's later event is stored with the visit's new first event's source and entry
    page, like the stored events re-stamped around it."""
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",))
    spool.append_sync(
        [
            ENCODER.encode(
                record(10, visitor_id=7, pathname="/a", referrer="https://www.google.com/")
            )
        ]
    )
    writer.run_once()
    spool.append_sync(
        [
            ENCODER.encode(record(30, visitor_id=7, pathname="/c", referrer="https://s.com/a")),
            ENCODER.encode(
                record(5, visitor_id=7, pathname="/start", referrer="https://www.bing.com/")
            ),
            ENCODER.encode(record(40, visitor_id=7, name="engagement", pathname="/c")),
        ]
    )
    writer.run_once()
    rows = store.query("SELECT pathname, name, referrer_source, entry_page FROM events ORDER BY ts")
    assert rows == [
        ("/start", "pageview", "Bing", "/start"),
        ("/a", "pageview", "Bing", "/start"),
        ("/c", "pageview", "Bing", "/start"),
        ("/c", "engagement", "Bing", "/start"),
    ]
    assert store.query("SELECT count(DISTINCT session_id), count(*) FROM events") == [(1, 4)]
    assert store.query(
        "SELECT referrer_source, entry_page, exit_page, pageviews FROM sessions"
    ) == [("Bing", "/start", "/c", 3)]


def test_a_visit_without_pageviews_re_stamped_by_a_late_event_stays_one(
    tmp_path: Path, store_url: str
) -> None:
    """A visit of custom events only, preceded and extended by one batch: every event,
    stored or new, carries the visit's row's source and entry page (none: no pageview),
    the same on every store."""
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",))
    signup = dict(visitor_id=9, name="signup", referrer="https://www.google.com/")
    spool.append_sync([ENCODER.encode(record(10, **signup))])
    writer.run_once()
    late = dict(signup, referrer="https://www.bing.com/")
    spool.append_sync([ENCODER.encode(record(30, **signup)), ENCODER.encode(record(5, **late))])
    writer.run_once()
    visit = store.query("SELECT referrer_source, entry_page, pageviews, events FROM sessions")
    assert visit == [("Bing", None, 0, 3)]
    rows = store.query("SELECT ts, referrer_source, entry_page FROM events ORDER BY ts")
    assert [(r[1], r[2]) for r in rows] == [("Bing", None)] * 3


# Every column of a visit's row but its id (the id depends on which round stored it first).
SESSION_COLUMNS = ("site_id", "start_ts", "end_ts", "entry_page", "entry_ts", "exit_page",
                   "exit_ts", "pageviews", "events", "interactive_events",
                   *SESSION_FIRST_EVENT_COLUMNS)  # fmt: skip


def _visits(store: EventStore) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Sessions and events with each visit named by its earliest event id, not its id."""
    first = "(SELECT session_id, argMin(event_id, ts) AS first FROM events GROUP BY session_id) f"
    stamped = ", ".join(("referrer_source", "browser", "screen", "country", "entry_page"))
    sessions = store.query(
        f"SELECT f.first, {', '.join('s.' + c for c in SESSION_COLUMNS)} FROM sessions s "
        f"JOIN {first} ON s.session_id = f.session_id ORDER BY f.first"
    )
    events = store.query(
        f"SELECT e.event_id, f.first, e.visitor_id, {stamped} FROM events e "
        f"JOIN {first} ON e.session_id = f.session_id ORDER BY e.event_id"
    )
    return sessions, events


@pytest.mark.parametrize("pieces", [2, 5])
def test_visits_written_in_pieces_equal_visits_written_at_once(
    tmp_path: Path, store_url: str, pieces: int
) -> None:
    """Late events that extend, bridge (merge) or precede stored visits give the same visits,
    visit attributes and entry pages as writing every event in one batch."""
    import random

    rng = random.Random(pieces)
    refs = ["", "https://www.google.com/", "https://www.bing.com/", "https://s.com/x"]
    recs = [
        record(
            i,
            ts=T0 + rng.randrange(0, 6 * 3600_000),
            visitor_id=1 + i % 9,
            referrer=rng.choice(refs),
            screen=rng.choice(["1x1", "2x2"]),
            country=rng.choice(["DE", "US"]),
            name=rng.choice(["pageview", "pageview", "signup", "engagement"]),
            pathname=f"/{rng.randrange(6)}",
        )
        for i in range(400)
    ]
    at_once, store_a = open_parts(tmp_path / "a", sibling(store_url, "a"))
    at_once.append_sync([ENCODER.encode(r) for r in recs])
    Writer(at_once, store_a, lambda s: ("s.com",), batch_size=10_000).run_once()
    spool_b, store_b = open_parts(tmp_path / "b", sibling(store_url, "b"))
    writer = Writer(spool_b, store_b, lambda s: ("s.com",))
    rng.shuffle(recs)  # arrival order is not event order: later batches hold earlier events
    size = -(-len(recs) // pieces)
    for k in range(pieces):
        spool_b.append_sync([ENCODER.encode(r) for r in recs[k * size : (k + 1) * size]])
        writer.run_once()
    assert store_b.query("SELECT count(*) FROM sessions")[0][0] < 400  # visits were merged
    assert _visits(store_b) == _visits(store_a)


def test_stored_visits_a_batch_only_reads_are_left_as_they_are(
    tmp_path: Path, store_url: str
) -> None:
    """Two stored visits of one visitor that overlap (one with a client session id, one
    cookieless) are read by a later batch of that visitor whose event starts a new visit:
    both stored visits keep their rows and their events, and the new visit is a third."""
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",))
    spool.append_sync(
        [
            ENCODER.encode(record(0, session_id=99, visitor_id=5, pathname="/app")),
            ENCODER.encode(record(20, session_id=99, visitor_id=5, pathname="/app/2")),
            ENCODER.encode(record(5, visitor_id=5, pathname="/blog")),
        ]
    )
    writer.run_once()
    before = store.query(
        "SELECT session_id, entry_page, pageviews FROM sessions ORDER BY entry_page"
    )
    assert [(r[1], r[2]) for r in before] == [("/app", 2), ("/blog", 1)]
    # Another visitor's event early in the batch makes the batch read visitor 5's visits;
    # visitor 5's own event comes two hours later: a visit of its own.
    spool.append_sync(
        [
            ENCODER.encode(record(30, visitor_id=8, pathname="/x")),
            ENCODER.encode(record(7200, visitor_id=5, pathname="/later")),
        ]
    )
    writer.run_once()
    after = store.query(
        "SELECT session_id, entry_page, pageviews FROM sessions ORDER BY entry_page"
    )
    assert [(r[1], r[2]) for r in after] == [("/app", 2), ("/blog", 1), ("/later", 1), ("/x", 1)]
    assert set(before) <= set(after)
    per_visit = store.query(
        "SELECT count(DISTINCT session_id), count(*) FROM events WHERE visitor_id = 5"
    )
    assert per_visit == [(3, 4)]


def test_a_visit_takes_its_first_events_source_campaign_and_device(
    tmp_path: Path, store_url: str
) -> None:
    """The visit's attributes are its first event's: a referrer names the source, else the
    tagged link's utm_source does; later events of the visit carry the same ones."""
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",))
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    tagged = "utm_source=fb&utm_medium=social&utm_campaign=spring"
    records = [
        # visitor 1: a tagged link and no referrer, then a page from a search engine
        record(0, visitor_id=1, url_query=tagged, country="DE", screen="1920x1080"),
        record(1, visitor_id=1, referrer="https://www.google.com/", user_agent=firefox),
        # visitor 2: a referrer and a tag: the referrer names the source, the tags stay
        record(2, visitor_id=2, referrer="https://news.ycombinator.com/", url_query=tagged),
        # visitor 3: neither
        record(3, visitor_id=3, user_agent=firefox, language="fr-FR"),
    ]
    spool.append_sync([ENCODER.encode(r) for r in records])
    writer.run_once()
    cols = "visitor_id, referrer_source, utm_source, utm_medium, utm_campaign, browser, country"
    events = store.query(f"SELECT {cols}, screen, language FROM events ORDER BY ts")
    safari = ("Safari",)
    assert [e[:5] for e in events] == [
        (1, "Facebook", "fb", "social", "spring"),
        (1, "Facebook", "fb", "social", "spring"),
        (2, "Hacker News", "fb", "social", "spring"),
        (3, "", "", "", ""),
    ]
    assert [(e[5], e[6], e[7], e[8]) for e in events] == [
        (*safari, "DE", "1920x1080", ""), (*safari, "DE", "1920x1080", ""),
        (*safari, "", "", ""), ("Firefox", "", "", "fr-FR"),
    ]  # fmt: skip
    visits = store.query(f"SELECT {cols}, pageviews FROM sessions ORDER BY visitor_id")
    assert visits == [
        (1, "Facebook", "fb", "social", "spring", "Safari", "DE", 2),
        (2, "Hacker News", "fb", "social", "spring", "Safari", "", 1),
        (3, "", "", "", "", "Firefox", "", 1),
    ]
    # A later batch continues visitor 1's visit: it keeps the first event's attributes.
    spool.append_sync([ENCODER.encode(record(4, visitor_id=1, user_agent=firefox))])
    writer.run_once()
    later = store.query(f"SELECT {cols} FROM events WHERE event_id = ?", [str(uuid.UUID(int=5))])
    assert later == [(1, "Facebook", "fb", "social", "spring", "Safari", "DE")]


def test_queries_keep_answering_while_rounds_commit(tmp_path: Path, store_url: str) -> None:
    """Queries on other threads while the writer commits rounds neither fail nor hang, and
    see each round whole or not at all."""
    import threading

    if store_url:
        spool, store = open_parts(tmp_path, store_url)
    else:  # DuckDB on two threads, as on this machine's server
        spool, store = open_parts(tmp_path)
        store.close()
        store = DuckDBStore(tmp_path / "events.duckdb", threads=2)
        store.open()
    writer = Writer(spool, store, lambda s: ("s.com",))
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(store.query("SELECT count(*) FROM events")[0][0])
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        for n in range(40):
            spool.append_sync([ENCODER.encode(record(n * 5 + i)) for i in range(5)])
            assert writer.run_once() == 5
    finally:
        done.set()
        for r in readers:
            r.join(10)
    assert not any(r.is_alive() for r in readers) and errors == []
    assert len(seen) > 40 and all(c % 5 == 0 for c in seen) and max(seen) <= 200
    assert count(store) == (200, 200)
