"""Daily salts and visitor hashes."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from footfall.meta import Metadata, SaltStore, stable_id, visitor_hash

DAY1 = datetime(2025, 3, 1, 0, 0, 5, tzinfo=UTC)


def test_same_salt_all_day_new_salt_next_day(meta: Metadata) -> None:
    store = SaltStore(meta)
    morning, none = store.salts_for(DAY1)
    assert none is None and len(morning) == 16
    assert store.salts_for(DAY1 + timedelta(hours=23, minutes=59))[0] == morning
    # a time in another zone that is still 1 March in UTC
    assert (
        store.salts_for(datetime(2025, 3, 1, 20, tzinfo=timezone(timedelta(hours=-3))))[0]
        == morning
    )
    next_day, yesterday = store.salts_for(DAY1 + timedelta(days=1))
    assert next_day != morning
    assert yesterday == morning


def test_naive_now_is_utc(meta: Metadata) -> None:
    store = SaltStore(meta)
    assert store.salts_for(DAY1.replace(tzinfo=None)) == store.salts_for(DAY1)


def test_salts_are_deleted_after_48_hours(meta: Metadata) -> None:
    store = SaltStore(meta)
    first, _ = store.salts_for(DAY1)
    second, _ = store.salts_for(DAY1 + timedelta(days=1))
    assert store.rotate(DAY1 + timedelta(days=1, hours=12)) == 0
    assert store.days() == [date(2025, 3, 1), date(2025, 3, 2)]
    assert store.rotate(DAY1 + timedelta(days=2)) == 1  # 48 h after the first was made
    assert store.days() == [date(2025, 3, 2), date(2025, 3, 3)]
    third, yesterday = store.salts_for(DAY1 + timedelta(days=2))
    assert yesterday == second
    assert third not in (first, second)
    # a fresh process sees what another one created; after a gap nothing is left over
    later = SaltStore(meta)
    assert later.salts_for(DAY1 + timedelta(days=3))[1] == third
    assert later.rotate(DAY1 + timedelta(days=5)) == 3  # 2, 3 and 4 March
    assert store.days() == [date(2025, 3, 6)]
    assert later.salts_for(DAY1 + timedelta(days=5))[1] is None


def test_two_stores_on_one_database_agree(meta: Metadata, db_url: str) -> None:
    other_meta = Metadata(db_url)
    try:
        stores = [SaltStore(meta), SaltStore(other_meta)]
        results: list[bytes] = []

        def fetch(store: SaltStore) -> None:
            results.append(store.salts_for(DAY1)[0])

        threads = [threading.Thread(target=fetch, args=(s,)) for s in stores * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 6 and len(set(results)) == 1
        assert stores[1].salts_for(DAY1) == stores[0].salts_for(DAY1)
    finally:
        other_meta.close()


def test_rotate_creates_todays_salt(meta: Metadata) -> None:
    store = SaltStore(meta)
    store.rotate(DAY1)
    assert store.days() == [date(2025, 3, 1)]


def test_visitor_hash_depends_on_every_input() -> None:
    base = visitor_hash(b"s" * 16, "site", "192.0.2.1", "Mozilla/5.0")
    assert base == visitor_hash(b"s" * 16, "site", "192.0.2.1", "Mozilla/5.0")
    assert 0 <= base < 2**64
    variants = {
        visitor_hash(b"t" * 16, "site", "192.0.2.1", "Mozilla/5.0"),
        visitor_hash(b"s" * 16, "other", "192.0.2.1", "Mozilla/5.0"),
        visitor_hash(b"s" * 16, "site", "192.0.2.2", "Mozilla/5.0"),
        visitor_hash(b"s" * 16, "site", "192.0.2.1", "Mozilla/5.1"),
    }
    assert base not in variants and len(variants) == 4


@given(st.binary(min_size=16, max_size=16), st.text(), st.text(), st.text())
def test_visitor_hash_is_an_unsigned_64_bit_int(salt: bytes, site: str, ip: str, ua: str) -> None:
    value = visitor_hash(salt, site, ip, ua)
    assert isinstance(value, int) and 0 <= value < 2**64
    assert value == visitor_hash(salt, site, ip, ua)


def test_stable_id() -> None:
    assert stable_id("user-42") == stable_id("user-42")
    assert stable_id("user-42") != stable_id("user-43")
    assert 0 <= stable_id("") < 2**64
    assert stable_id("\udcff") == stable_id("\udcff")  # lone surrogates do not raise
    # pinned: ids written to the event store must never change between releases
    assert stable_id("abc") == int.from_bytes(
        hashlib.blake2b(b"abc", digest_size=8).digest(), "big"
    )


def test_default_now_is_the_clock(meta: Metadata) -> None:
    store = SaltStore(meta)
    assert store.salts_for() == store.salts_for(datetime.now(UTC))
