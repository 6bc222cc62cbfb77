"""The writer moves spool records into DuckDB exactly once, across crashes and retries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.spool import Spool
from footfall.queue.writer import Writer
from footfall.store.duckdb import DuckDBStore

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


def open_parts(
    tmp_path: Path, store_class: type[DuckDBStore] = DuckDBStore, segment_bytes: int = 1 << 16
) -> tuple[Spool, DuckDBStore]:
    spool = Spool(tmp_path / "spool", segment_bytes=segment_bytes)
    spool.open()
    store = store_class(tmp_path / "events.duckdb")
    store.open()
    return spool, store


def count(store: DuckDBStore) -> tuple[int, int]:
    return store.query("SELECT count(*), count(DISTINCT event_id) FROM events")[0]


def test_drains_in_batches_and_releases_segments(tmp_path: Path) -> None:
    spool, store = open_parts(tmp_path)
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


def test_restart_after_crash_between_commit_and_release_is_exactly_once(tmp_path: Path) -> None:
    spool, store = open_parts(tmp_path)
    spool.append_sync([ENCODER.encode(record(i)) for i in range(1000)])
    Writer(spool, store, lambda s: ("s.com",), batch_size=400).run_once()
    assert count(store) == (400, 400)
    # "Crash": drop the writer and spool objects without releasing, reopen both.
    spool.close_sync()
    store.close()
    spool, store = open_parts(tmp_path)
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=400)
    while writer.run_once():
        pass
    assert count(store) == (1000, 1000)


class FailingStore(DuckDBStore):
    """A real DuckDB store whose second batch fails after all its work, before commit."""

    calls = 0

    @contextmanager
    def begin_batch(self, progress: tuple[int, int] | None) -> Iterator[Any]:
        FailingStore.calls += 1
        with super().begin_batch(progress) as target:
            yield target
            if FailingStore.calls == 2:  # all the steps ran; the commit is next
                raise OSError("disk full")


def test_failed_batch_rolls_back_and_is_retried(tmp_path: Path) -> None:
    spool, store = open_parts(tmp_path, FailingStore, 64 << 20)
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


def test_duplicate_event_ids_are_stored_once(tmp_path: Path) -> None:
    spool, store = open_parts(tmp_path)
    recs = [ENCODER.encode(record(i)) for i in range(50)]
    spool.append_sync(recs + recs[:10])  # repeated in one batch
    writer = Writer(spool, store, lambda s: ("s.com",))
    writer.run_once()
    spool.append_sync(recs[20:30])  # repeated in a later batch
    writer.run_once()
    assert count(store) == (50, 50)
    assert writer.stats.duplicates_skipped == 20


def test_bots_are_counted_not_stored(tmp_path: Path) -> None:
    spool, store = open_parts(tmp_path)
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    spool.append_sync(
        [ENCODER.encode(record(i, user_agent=bot if i % 4 == 0 else UA)) for i in range(100)]
    )
    Writer(spool, store, lambda s: ("s.com",)).run_once()
    assert count(store)[0] == 75
    assert store.query("SELECT reason, sum(n) FROM dropped_events GROUP BY reason") == [("bot", 25)]


def test_client_session_keeps_its_first_visitor(tmp_path: Path) -> None:
    """identify() mid-visit changes the visitor id the client sends; the visit keeps its own."""
    spool, store = open_parts(tmp_path)
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


def test_events_carry_their_visits_attributes_even_after_a_late_first_event(tmp_path: Path) -> None:
    spool, store = open_parts(tmp_path)
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


def _visits(store: DuckDBStore) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Sessions and events with each visit named by its earliest event id, not its id."""
    first = "(SELECT session_id, arg_min(event_id, ts) AS first FROM events GROUP BY session_id) f"
    stamped = ", ".join(("referrer_source", "browser", "screen", "country", "entry_page"))
    sessions = store.query(
        f"SELECT f.first, s.* EXCLUDE (session_id) FROM sessions s JOIN {first} USING (session_id) "
        "ORDER BY f.first"
    )
    events = store.query(
        f"SELECT e.event_id, f.first, e.visitor_id, {stamped} FROM events e "
        f"JOIN {first} USING (session_id) ORDER BY e.event_id"
    )
    return sessions, events


@pytest.mark.parametrize("pieces", [2, 5])
def test_visits_written_in_pieces_equal_visits_written_at_once(tmp_path: Path, pieces: int) -> None:
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
    at_once, store_a = open_parts(tmp_path / "a")
    at_once.append_sync([ENCODER.encode(r) for r in recs])
    Writer(at_once, store_a, lambda s: ("s.com",), batch_size=10_000).run_once()
    spool_b, store_b = open_parts(tmp_path / "b")
    writer = Writer(spool_b, store_b, lambda s: ("s.com",))
    rng.shuffle(recs)  # arrival order is not event order: later batches hold earlier events
    size = -(-len(recs) // pieces)
    for k in range(pieces):
        spool_b.append_sync([ENCODER.encode(r) for r in recs[k * size : (k + 1) * size]])
        writer.run_once()
    assert store_b.query("SELECT count(*) FROM sessions")[0][0] < 400  # visits were merged
    assert _visits(store_b) == _visits(store_a)


class IdleFailsOnce(DuckDBStore):
    """A store whose first idle checkpoint fails, as it does while a job's write
    transaction is open."""

    fails = 1

    def idle(self) -> None:
        if self.fails:
            self.fails -= 1
            raise RuntimeError("Cannot CHECKPOINT: there are other write transactions active")
        super().idle()


def test_a_failed_idle_checkpoint_does_not_stop_the_writer(tmp_path: Path) -> None:
    import time

    spool, store = open_parts(tmp_path, IdleFailsOnce, 64 << 20)
    writer = Writer(spool, store, lambda s: ("s.com",), interval_ms=10)
    writer.start()
    try:
        time.sleep(0.1)  # idle rounds: the first checkpoint fails
        assert store.fails == 0
        spool.append_sync([ENCODER.encode(record(i)) for i in range(10)])
        assert writer.wait_idle(5)
    finally:
        writer.stop()
    assert count(store) == (10, 10)
    assert writer.stats.errors == 0


def test_stored_visits_a_batch_only_reads_are_left_as_they_are(tmp_path: Path) -> None:
    """Two stored visits of one visitor that overlap (one with a client session id, one
    cookieless) are read by a later batch of that visitor whose event starts a new visit:
    both stored visits keep their rows and their events, and the new visit is a third."""
    spool, store = open_parts(tmp_path)
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


def test_rounds_start_an_interval_apart_stretched_under_load_up_to_a_second() -> None:
    from footfall.queue.writer import next_wait

    assert next_wait(700, 700, 3.0, 1.0) == 0.0  # a full round: a backlog, go on at once
    assert next_wait(0, 700, 0.0, 1.0) == 1.0  # nothing to do: the interval
    assert next_wait(5, 700, 0.1, 1.0) == pytest.approx(0.9)  # counted from the round's start
    assert next_wait(5000, 150_000, 0.3, 1.0) == pytest.approx(0.7)
    assert next_wait(5000, 150_000, 1.4, 1.0) == 0.0  # a round longer than the interval
    # A shorter interval is stretched after a costly round (busy a fifth of the time) ...
    assert next_wait(5000, 150_000, 0.02, 0.25) == pytest.approx(0.23)  # a cheap round
    assert next_wait(5000, 150_000, 0.1, 0.25) == pytest.approx(0.4)
    assert next_wait(5000, 150_000, 0.6, 0.25) == pytest.approx(0.4)  # ... up to 1 s apart
    assert next_wait(999, 150_000, 0.1, 0.25) == pytest.approx(0.15)  # light: freshness first
    assert next_wait(5000, 150_000, 0.9, 3.0) == pytest.approx(2.1)  # a longer interval stays


class SlowStore(DuckDBStore):
    """A store whose writes take at least 0.1 s (a costly round)."""

    @contextmanager
    def begin_batch(self, progress: tuple[int, int] | None) -> Iterator[Any]:
        import time

        time.sleep(0.1)
        with super().begin_batch(progress) as target:
            yield target


def test_the_loop_waits_longer_after_a_costly_round(tmp_path: Path) -> None:
    import time

    spool, store = open_parts(tmp_path, SlowStore, 64 << 20)
    writer = Writer(spool, store, lambda s: ("s.com",), interval_ms=50)
    waits: list[float] = []
    real_wait = writer._stop.wait

    def recording(timeout: float | None = None) -> bool:
        waits.append(timeout or 0.0)
        return real_wait(timeout)

    writer._stop.wait = recording  # type: ignore[method-assign]
    spool.append_sync([ENCODER.encode(record(i)) for i in range(1500)])
    writer.start()
    try:
        assert writer.wait_idle(5)
        time.sleep(1.2)  # past the long wait (at most 1 s), into the idle rounds
    finally:
        writer.stop()
    assert count(store) == (1500, 1500)
    # The round took >= 0.1 s: the wait after it is 4x that, far above the 50 ms interval.
    assert 0.35 <= waits[0] <= 0.9
    assert 0.05 in waits[1:]  # the empty rounds after it wait the plain interval


def test_a_visit_takes_its_first_events_source_campaign_and_device(tmp_path: Path) -> None:
    """The visit's attributes are its first event's: a referrer names the source, else the
    tagged link's utm_source does; later events of the visit carry the same ones."""
    spool, store = open_parts(tmp_path)
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


def test_queries_keep_answering_while_rounds_commit(tmp_path: Path) -> None:
    """Queries on other threads while the writer commits rounds neither fail nor hang, and
    see each round whole or not at all."""
    import threading

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
