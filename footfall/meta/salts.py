"""Daily salts and the hashes that turn visitors into anonymous 64-bit ids.

Without a client-supplied visitor id, a visitor is ``visitor_hash(salt, site, ip, ua)``
(Plausible style): the salt is 16 random bytes made for each UTC day, so the same person
gets a new id every day and cannot be followed across days, and once a salt is deleted
nobody (us included) can get back from an id to an IP address. The IP is only ever hashed
in memory here, never stored.

:class:`SaltStore` keeps the salts in the metadata database so that every process
(several ``footfall serve`` workers, machines behind a load balancer) hashes with the same
salt. The first process to need a day's salt creates it; an insert that loses the race
to another process is ignored and the winner's salt read back, so all agree. Today's and
yesterday's salts are cached in memory (the hot path never queries the database except
once per UTC day); yesterday's is offered so that a visit crossing midnight can still be
joined. :meth:`SaltStore.rotate`, run by the daily job, deletes every salt whose day is
before yesterday: a salt lives through its own day and the next, then it is gone.

:func:`stable_id` maps client-supplied visitor, user and session ids (any text) into the
same unsigned 64-bit space, unkeyed, so the same text always gives the same number.

The top bit of a visitor id says whether it lasts across days (:data:`LASTING`): set for
a client-supplied visitor or user id (:func:`lasting_id`), clear for the daily hash. So
retention and new-vs-returning figures can count only the visitors who can be followed
(docs/design.md "Identity and privacy") without another column in the store.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from footfall.meta.models import Salt, utcnow

if TYPE_CHECKING:
    from footfall.meta.repo import Metadata

SALT_BYTES = 16
LASTING = 1 << 63  # the visitor id's top bit: a lasting (client-supplied) identity
_ONE_DAY = timedelta(days=1)


def utc_day(now: datetime) -> date:
    """The UTC calendar day of ``now`` (a naive ``now`` is taken to be UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).date()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def visitor_hash(salt: bytes, site_id: str, ip: str, user_agent: str) -> int:
    """An unsigned 64-bit visitor id: keyed BLAKE2b over site, IP and user agent."""
    digest = hashlib.blake2b(digest_size=8, key=salt)
    digest.update(_encode("\0".join((site_id, ip, user_agent))))
    return int.from_bytes(digest.digest(), "big") & ~LASTING  # a daily id never lasts


def stable_id(text: str) -> int:
    """An unsigned 64-bit id for client-supplied id text: unkeyed BLAKE2b, stable forever."""
    return int.from_bytes(hashlib.blake2b(_encode(text), digest_size=8).digest(), "big")


def lasting_id(text: str) -> int:
    """A visitor id from a client-supplied visitor or user id: ``stable_id`` with the
    :data:`LASTING` bit set, so queries can tell it from a daily cookieless hash."""
    return stable_id(text) | LASTING


class SaltStore:
    """Daily salts shared through the metadata database, cached per process.

    ``now`` arguments are the time the event is received (default: the clock), not the
    event's own timestamp: an event sent late is hashed with the salt of its arrival day.
    Safe to use from several threads.
    """

    def __init__(self, meta: Metadata) -> None:
        self._meta = meta
        self._lock = threading.Lock()
        self._cache: tuple[date, bytes, bytes | None] | None = None

    def salts_for(self, now: datetime | None = None) -> tuple[bytes, bytes | None]:
        """Today's salt (created if missing) and yesterday's, if it is still kept."""
        day = utc_day(now if now is not None else utcnow())
        cached = self._cache
        if cached is not None and cached[0] == day:
            return cached[1], cached[2]
        with self._lock:
            cached = self._cache
            if cached is not None and cached[0] == day:
                return cached[1], cached[2]
            today = self._ensure(day)
            yesterday = self._get(day - _ONE_DAY)
            self._cache = (day, today, yesterday)
            return today, yesterday

    def rotate(self, now: datetime | None = None) -> int:
        """Delete salts of days before yesterday, make sure today's exists; returns deleted."""
        day = utc_day(now if now is not None else utcnow())
        with self._meta.session(write=True) as s, s.begin():
            result = s.connection().execute(delete(Salt).where(Salt.day < day - _ONE_DAY))
            deleted = int(result.rowcount or 0)
        with self._lock:
            self._cache = None
        self._ensure(day)
        return deleted

    def days(self) -> list[date]:
        """The days that currently have a salt, oldest first (for jobs and tests)."""
        with self._meta.session() as s:
            return list(s.scalars(select(Salt.day).order_by(Salt.day)))

    def _get(self, day: date) -> bytes | None:
        with self._meta.session() as s:
            row = s.get(Salt, day)
            return row.salt if row is not None else None

    def _ensure(self, day: date) -> bytes:
        existing = self._get(day)
        if existing is not None:
            return existing
        salt = secrets.token_bytes(SALT_BYTES)
        try:
            with self._meta.session(write=True) as s, s.begin():
                row = s.get(Salt, day)  # re-read: on SQLite this now holds the write lock
                if row is not None:
                    return row.salt
                s.add(Salt(day=day, salt=salt, created_at=utcnow()))
            return salt
        except IntegrityError:  # another process inserted it first: use theirs
            pass
        stored = self._get(day)
        if stored is None:
            raise RuntimeError(f"salt for {day} vanished while being created")
        return stored
