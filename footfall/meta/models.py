"""SQLAlchemy 2 typed ORM models of the metadata store.

The same models run on SQLite (one machine) and PostgreSQL (scale-out): only portable
column types are used, and :class:`UTCDateTime` makes every timestamp come back as an
aware UTC ``datetime`` on both (SQLite has no time zone support and stores naive UTC).

Keys and tokens are never stored: only their SHA-256 (``key_hash`` / ``token_hash``) and
the first 8 characters (``prefix``), which are enough to recognise one in a listing.

A site's domains live in their own table (``site_domains``) rather than in a JSON column,
so that the Plausible- and Umami-compatible collectors, which find a site by domain, use
an index instead of scanning every site; the index is unique, so a domain names one
site. :attr:`Site.domain_list` gives them as a tuple.

The schema itself is created and changed only by the Alembic migrations in
``footfall/meta/migrations``; keep them in step with these classes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware UTC ``datetime``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base; its ``metadata`` is what migrations are compared against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Site(Base):
    """A website being measured; ``id`` is a slug derived from the name at creation."""

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A second, unguessable name for the site, for trackers that name sites by UUID (Umami).
    public_uuid: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )

    domains: Mapped[list[SiteDomain]] = relationship(
        back_populates="site",
        cascade="all, delete-orphan",
        order_by="SiteDomain.position",
        lazy="selectin",
        passive_deletes=True,
    )
    ingest_keys: Mapped[list[IngestKey]] = relationship(
        back_populates="site", cascade="all, delete-orphan", passive_deletes=True
    )
    read_tokens: Mapped[list[ReadToken]] = relationship(
        back_populates="site", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def domain_list(self) -> tuple[str, ...]:
        """The site's hostnames, in the order they were given."""
        return tuple(d.domain for d in self.domains)


class SiteDomain(Base):
    """One hostname of a site (normalised, see :mod:`footfall.meta.values`).

    A hostname belongs to at most one site (unique index, migration ``0005``): the keyless
    collectors send an event to the site that owns its domain, so a second site listing
    the same domain would receive, and show its members, the first one's traffic.
    """

    __tablename__ = "site_domains"
    __table_args__ = (UniqueConstraint("site_id", "domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253), index=True, unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    site: Mapped[Site] = relationship(back_populates="domains")


class IngestKey(Base):
    """A write-only key for one site's events; it ships in public page source."""

    __tablename__ = "ingest_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    site: Mapped[Site] = relationship(back_populates="ingest_keys")


class ReadToken(Base):
    """A private bearer token that may read one site's statistics."""

    __tablename__ = "read_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    site: Mapped[Site] = relationship(back_populates="read_tokens")


class Salt(Base):
    """The random salt of one UTC day, for cookieless visitor ids; deleted after 48 h."""

    __tablename__ = "salts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
