"""ORM models of dashboard accounts: users, per-site memberships, login sessions and
public shared links.

* A :class:`User` logs in with an email and a password (argon2 hash, never the
  password). ``is_owner`` marks the instance owner, who manages users and every site;
  ``may_create_sites`` lets a user who is not the owner create sites (the owner allows it).
* A :class:`Membership` gives a user a role on one site: ``admin`` (settings) or
  ``viewer`` (read only).
* A :class:`LoginSession` is one browser's login: the cookie carries a random token, the
  table only its SHA-256, with the session's CSRF token and expiry. Ending a session is
  deleting its row, so a password change can end every other session at once.
* A :class:`SharedLink` shows one site's dashboard without login, optionally behind a
  password; its ``slug`` is the unguessable part of the URL.

The schema is created by migrations ``0003_accounts`` and ``0005_domain_owner``; keep
them in step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from footfall.meta.models import Base, UTCDateTime, utcnow

ROLES = ("admin", "viewer")


class User(Base):
    """A person who can log in to the dashboard."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether a user who is not the owner may create sites (migration 0005).
    may_create_sites: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Membership(Base):
    """A user's role (``admin`` or ``viewer``) on one site."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "site_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class LoginSession(Base):
    """One browser's login; the cookie holds the token, this row only its hash."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SharedLink(Base):
    """A public, read-only link to one site's dashboard, optionally password protected."""

    __tablename__ = "shared_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
