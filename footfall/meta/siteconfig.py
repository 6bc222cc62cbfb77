"""ORM models of a site's own settings: privacy and exclusions, retention, goals, funnels.

* :class:`SiteSettings` is one optional row per site (no row means the defaults: DNT/GPC
  ignored, nothing excluded, the instance retention). ``excluded_ips`` and
  ``excluded_paths`` are the validated lists joined by newlines (see
  :mod:`footfall.meta.siterules`), because they are only ever read whole.
* A :class:`Goal` is a pageview of a path pattern (``kind="page"``) or a custom event by
  name (``kind="event"``), optionally with one property filter.
* A :class:`Funnel` is 2 to 8 goals in order, its :class:`FunnelStep` rows, with a
  conversion window (``window_hours``, 0 for the same visit; migration ``0008``).

Every row belongs to a site and goes with it (``ON DELETE CASCADE``). The schema is
created by migration ``0004_site_settings``; keep the two in step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from footfall.meta.models import Base, UTCDateTime, utcnow


class SiteSettings(Base):
    """Per-site privacy, exclusions and retention (the defaults when absent)."""

    __tablename__ = "site_settings"

    site_id: Mapped[str] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    respect_dnt: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded_ips: Mapped[str] = mapped_column(Text, default="")
    excluded_paths: Mapped[str] = mapped_column(Text, default="")
    retention_days: Mapped[int | None] = mapped_column(Integer, default=None)


class Goal(Base):
    """A conversion goal: a page pattern or a custom event name, optionally one property."""

    __tablename__ = "goals"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))
    prop_key: Mapped[str] = mapped_column(String(300), default="")
    prop_value: Mapped[str] = mapped_column(String(2000), default="")
    # A revenue goal's ISO 4217 currency (Plausible's revenue goals); "" for other goals.
    currency: Mapped[str] = mapped_column(String(3), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Funnel(Base):
    """An ordered sequence of goals (its steps)."""

    __tablename__ = "funnels"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Steps after the first count within this many hours of it; 0: within its visit.
    window_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")


class FunnelStep(Base):
    """One step of a funnel: the goal at ``position`` (0-based)."""

    __tablename__ = "funnel_steps"
    __table_args__ = (UniqueConstraint("funnel_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    funnel_id: Mapped[int] = mapped_column(ForeignKey("funnels.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
