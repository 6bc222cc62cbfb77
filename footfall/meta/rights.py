"""ORM models and repository of a site's table retention and e-mail report recipients.

* :class:`SiteRetention`: how long a site keeps its visits (``sessions_days``) and its
  rollups (``rollups_days``), beside the raw-event retention of ``site_settings``
  (``retention_days``). No row, or NULL, means: visits go with the raw events, rollups
  are kept for ever (they are what outlives raw events).
* :class:`ReportRecipient`: one address receiving one kind of mail of one site
  (``weekly`` or ``monthly`` report, ``spike`` alert), with the last period sent, so the
  scheduler sends each period once. The unsubscribe link deletes the row.
* :class:`InstanceSecret`: random keys the instance makes once and shares between its
  processes through this database (the unsubscribe links' signing key).

Created by migrations ``0006`` and ``0007`` (instance secrets); keep them in step.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from footfall.meta.models import Base, Site, UTCDateTime, utcnow
from footfall.meta.repo import Metadata
from footfall.meta.siterules import parse_retention
from footfall.meta.values import MetaValidationError, SiteNotFoundError

KINDS = ("weekly", "monthly", "spike")


class SiteRetention(Base):
    __tablename__ = "site_retention"

    site_id: Mapped[str] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    sessions_days: Mapped[int | None] = mapped_column(Integer, default=None)
    rollups_days: Mapped[int | None] = mapped_column(Integer, default=None)


class ReportRecipient(Base):
    __tablename__ = "report_recipients"
    __table_args__ = (UniqueConstraint("site_id", "email", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16))
    last_sent: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InstanceSecret(Base):
    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


def instance_secret(meta: Metadata, name: str) -> str:
    """The instance's secret called ``name``, made (64 random hex digits) on first use;
    two processes making it at once agree on the first one stored."""
    with meta.session() as s:
        row = s.get(InstanceSecret, name)
        if row is not None:
            return row.value
    try:
        with meta.session(write=True) as s, s.begin():
            s.add(InstanceSecret(name=name, value=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another process stored it first
    with meta.session() as s:
        found = s.get(InstanceSecret, name)
        assert found is not None
        return found.value


@dataclass(frozen=True, slots=True)
class Retention:
    site_id: str
    sessions_days: int | None = None
    rollups_days: int | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    id: int
    site_id: str
    email: str
    kind: str
    last_sent: str


def check_email(value: str, field: str = "email") -> str:
    """One plain address (no display name, no list): what an SMTP envelope takes."""
    email = (value or "").strip()
    local, at, domain = email.rpartition("@")
    bad = set(" ,;<>\"'\r\n\t")
    if not at or not local or "." not in domain or len(email) > 254 or bad & set(email):
        raise MetaValidationError(field, "expected one e-mail address such as name@example.com")
    return email


def _recipient(row: ReportRecipient) -> Recipient:
    return Recipient(row.id, row.site_id, row.email, row.kind, row.last_sent)


class RightsPrefs:
    """Table retention and report recipients, over the metadata database of ``meta``."""

    def __init__(self, meta: Metadata) -> None:
        self.meta = meta

    def retention(self, site_id: str) -> Retention:
        with self.meta.session() as s:
            row = s.get(SiteRetention, site_id)
            if row is None:
                return Retention(site_id)
            return Retention(site_id, row.sessions_days, row.rollups_days)

    def set_retention(
        self, site_id: str, sessions_days: str | int | None, rollups_days: str | int | None
    ) -> Retention:
        sessions = parse_retention(sessions_days, "sessions_days")
        rollups = parse_retention(rollups_days, "rollups_days")
        with self.meta.session(write=True) as s, s.begin():
            if s.get(Site, site_id) is None:
                raise SiteNotFoundError(site_id)
            row = s.get(SiteRetention, site_id) or SiteRetention(site_id=site_id)
            row.sessions_days, row.rollups_days = sessions, rollups
            s.add(row)
        return Retention(site_id, sessions, rollups)

    def recipients(self, site_id: str | None = None, kind: str | None = None) -> list[Recipient]:
        query = select(ReportRecipient).order_by(ReportRecipient.id)
        if site_id is not None:
            query = query.where(ReportRecipient.site_id == site_id)
        if kind is not None:
            query = query.where(ReportRecipient.kind == kind)
        with self.meta.session() as s:
            return [_recipient(r) for r in s.scalars(query)]

    def add_recipient(self, site_id: str, email: str, kind: str) -> Recipient:
        """Subscribe ``email`` to ``kind`` mail of the site (idempotent)."""
        if kind not in KINDS:
            raise MetaValidationError("kind", f"use one of {', '.join(KINDS)}")
        email = check_email(email)
        with self.meta.session(write=True) as s, s.begin():
            if s.get(Site, site_id) is None:
                raise SiteNotFoundError(site_id)
            found = s.scalars(select(ReportRecipient).where(
                ReportRecipient.site_id == site_id, ReportRecipient.email == email,
                ReportRecipient.kind == kind)).first()  # fmt: skip
            row = found or ReportRecipient(site_id=site_id, email=email, kind=kind, last_sent="")
            s.add(row)
            s.flush()
            return _recipient(row)

    def remove_recipient(self, site_id: str, email: str, kind: str) -> bool:
        """Unsubscribe; True when there was such a subscription."""
        with self.meta.session(write=True) as s, s.begin():
            gone = s.execute(delete(ReportRecipient).where(
                ReportRecipient.site_id == site_id, ReportRecipient.email == email,
                ReportRecipient.kind == kind))  # fmt: skip
            return bool(gone.rowcount)  # type: ignore[attr-defined]

    def mark_sent(self, recipient_id: int, period: str) -> None:
        with self.meta.session(write=True) as s, s.begin():
            row = s.get(ReportRecipient, recipient_id)
            if row is not None:
                row.last_sent = period
