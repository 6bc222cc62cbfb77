"""The accounts repository: users, memberships, login sessions and shared links.

:class:`Accounts` works over the same database as :class:`~footfall.meta.repo.Metadata`
(it borrows its sessions) and, like it, hands out frozen dataclasses only. Passwords are
hashed with argon2id (``argon2-cffi``); session tokens and shared-link slugs are random
and only the session token's SHA-256 is stored.

Who may do what is decided by :meth:`Accounts.role_on`: the instance owner is ``admin``
of every site; anyone else has the role of their membership, or none. Creating a site is
for the owner and the users the owner allows (:meth:`Accounts.create_site`): a site's
members read what its domains collect, so anyone able to make sites must be trusted.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from footfall.meta.accounts import ROLES, LoginSession, Membership, SharedLink, User
from footfall.meta.models import utcnow
from footfall.meta.repo import Metadata, SiteInfo
from footfall.meta.values import (
    MetaValidationError,
    NotAllowedError,
    SiteNotFoundError,
    hash_secret,
)

SESSION_DAYS = 14
MIN_PASSWORD = 8
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for an unknown email, so that such a login takes as long
    as a real one. Made at the first login, not at import: argon2 costs ~64 MB and up to
    a second, which every start (and every CLI command) would otherwise pay."""
    return _hasher.hash("not-a-real-password")


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    email: str
    is_owner: bool
    may_create_sites: bool = False

    @property
    def can_create_sites(self) -> bool:
        return self.is_owner or self.may_create_sites


@dataclass(frozen=True, slots=True)
class LoginInfo:
    """A live login session: who, and the CSRF token its forms must carry."""

    user: UserInfo
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ShareInfo:
    id: int
    site_id: str
    slug: str
    label: str
    has_password: bool
    password_hash: str | None
    created_at: datetime


def normalize_email(email: str) -> str:
    value = (email or "").strip().lower()
    if not 3 <= len(value) <= 254 or value.count("@") != 1 or value.startswith("@"):
        raise MetaValidationError("email", "expected an email address")
    return value


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= 1024:
        raise MetaValidationError("password", f"must be {MIN_PASSWORD}-1024 characters")
    return password


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _user(row: User) -> UserInfo:
    return UserInfo(row.id, row.email, row.is_owner, row.may_create_sites)


def _share(row: SharedLink) -> ShareInfo:
    return ShareInfo(row.id, row.site_id, row.slug, row.label, row.password_hash is not None,
                     row.password_hash, row.created_at)  # fmt: skip


class Accounts:
    """Users, roles, logins and shared links over ``meta``'s database."""

    def __init__(self, meta: Metadata) -> None:
        self.meta = meta

    # -- users -----------------------------------------------------------------------------

    def count_users(self) -> int:
        with self.meta.session() as s:
            return int(s.scalar(select(func.count()).select_from(User)) or 0)

    def create_user(
        self, email: str, password: str, *, owner: bool = False, may_create_sites: bool = False
    ) -> UserInfo:
        email, hashed = normalize_email(email), _hasher.hash(check_password(password))
        with self.meta.session(write=True) as s, s.begin():
            if s.scalar(select(User.id).where(User.email == email)) is not None:
                raise MetaValidationError("email", "a user with this email exists")
            row = User(email=email, password_hash=hashed, is_owner=owner,
                       may_create_sites=may_create_sites, created_at=utcnow())  # fmt: skip
            s.add(row)
            s.flush()
            return _user(row)

    def create_first_owner(self, email: str, password: str) -> UserInfo | None:
        """The first user, as owner; None when any user exists (the setup page is over)."""
        email, hashed = normalize_email(email), _hasher.hash(check_password(password))
        with self.meta.session(write=True) as s, s.begin():
            if s.scalar(select(func.count()).select_from(User)):
                return None
            row = User(email=email, password_hash=hashed, is_owner=True, created_at=utcnow())
            s.add(row)
            s.flush()
            return _user(row)

    def get_user(self, email: str) -> UserInfo | None:
        with self.meta.session() as s:
            row = s.scalars(select(User).where(User.email == email.strip().lower())).first()
            return _user(row) if row else None

    def list_users(self) -> list[UserInfo]:
        with self.meta.session() as s:
            return [_user(r) for r in s.scalars(select(User).order_by(User.email))]

    def authenticate(self, email: str, password: str) -> UserInfo | None:
        with self.meta.session() as s:
            row = s.scalars(select(User).where(User.email == email.strip().lower())).first()
        if not verify_password(row.password_hash if row else None, password) or row is None:
            return None
        return _user(row)

    def set_password(self, email: str, password: str, *, keep_token: str | None = None) -> bool:
        """Change a password and end the user's sessions (all but ``keep_token``'s)."""
        hashed = _hasher.hash(check_password(password))
        with self.meta.session(write=True) as s, s.begin():
            row = s.scalars(select(User).where(User.email == normalize_email(email))).first()
            if row is None:
                return False
            row.password_hash = hashed
            ended = delete(LoginSession).where(LoginSession.user_id == row.id)
            if keep_token:
                ended = ended.where(LoginSession.token_hash != hash_secret(keep_token))
            s.execute(ended)
            return True

    def allow_site_creation(self, user_id: int, allowed: bool = True) -> bool:
        """Let a user create sites (or stop them); False when there is no such user."""
        with self.meta.session(write=True) as s, s.begin():
            row = s.get(User, user_id)
            if row is None:
                return False
            row.may_create_sites = allowed
            return True

    # -- sites and roles -------------------------------------------------------------------

    def create_site(
        self, user: UserInfo, name: str, domains: list[str], timezone: str = "UTC"
    ) -> tuple[SiteInfo, str]:
        """A site made by a dashboard user, who becomes its admin; the site and its key.

        Raises :class:`NotAllowedError` unless the user is the owner or allowed to.
        """
        if not user.can_create_sites:
            raise NotAllowedError("Only the instance owner, or users the owner allows, "
                                  "may create sites.")  # fmt: skip
        site, key = self.meta.create_site(name, domains, timezone)
        if not user.is_owner:
            self.grant(user.id, site.id, "admin")
        return site, key

    def grant(self, user_id: int, site_id: str, role: str) -> None:
        if role not in ROLES:
            raise MetaValidationError("role", f"must be one of {', '.join(ROLES)}")
        if self.meta.get_site(site_id) is None:
            raise SiteNotFoundError(site_id)
        with self.meta.session(write=True) as s, s.begin():
            mine = Membership.user_id == user_id, Membership.site_id == site_id
            row = s.scalars(select(Membership).where(*mine)).first()
            if row is None:
                s.add(Membership(user_id=user_id, site_id=site_id, role=role))
            else:
                row.role = role

    def revoke(self, user_id: int, site_id: str) -> bool:
        with self.meta.session(write=True) as s, s.begin():
            mine = Membership.user_id == user_id, Membership.site_id == site_id
            gone = s.execute(delete(Membership).where(*mine))
            return bool(getattr(gone, "rowcount", 0))

    def role_on(self, user: UserInfo, site_id: str) -> str | None:
        """``admin``, ``viewer`` or None; the owner is admin of every site."""
        if user.is_owner:
            return "admin"
        with self.meta.session() as s:
            mine = Membership.user_id == user.id, Membership.site_id == site_id
            return s.scalar(select(Membership.role).where(*mine))

    def site_ids_for(self, user: UserInfo) -> list[str] | None:
        """The ids of the sites the user may read; None means every site (owner)."""
        if user.is_owner:
            return None
        with self.meta.session() as s:
            query = select(Membership.site_id).where(Membership.user_id == user.id)
            return sorted(s.scalars(query))

    def members(self, site_id: str) -> list[tuple[UserInfo, str]]:
        with self.meta.session() as s:
            rows = s.execute(
                select(User, Membership.role).join(Membership, Membership.user_id == User.id)
                .where(Membership.site_id == site_id).order_by(User.email)
            ).all()  # fmt: skip
            return [(_user(u), str(role)) for u, role in rows]

    # -- login sessions --------------------------------------------------------------------

    def start_session(self, user: UserInfo) -> tuple[str, LoginInfo]:
        """A new login for ``user``: the cookie token (shown once) and the session."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + timedelta(days=SESSION_DAYS)
        with self.meta.session(write=True) as s, s.begin():
            s.execute(delete(LoginSession).where(LoginSession.expires_at < now))
            s.add(LoginSession(token_hash=hash_secret(token), user_id=user.id, csrf_token=csrf,
                               created_at=now, expires_at=expires))  # fmt: skip
        return token, LoginInfo(user, csrf, expires)

    def session_for(self, token: str) -> LoginInfo | None:
        if not token or len(token) > 128:
            return None
        with self.meta.session() as s:
            found = s.execute(
                select(LoginSession, User).join(User, User.id == LoginSession.user_id)
                .where(LoginSession.token_hash == hash_secret(token))
            ).first()  # fmt: skip
        if found is None or found[0].expires_at <= utcnow():
            return None
        return LoginInfo(_user(found[1]), found[0].csrf_token, found[0].expires_at)

    def end_session(self, token: str) -> None:
        with self.meta.session(write=True) as s, s.begin():
            s.execute(delete(LoginSession).where(LoginSession.token_hash == hash_secret(token)))

    # -- shared links ----------------------------------------------------------------------

    def create_share(self, site_id: str, label: str = "", password: str | None = None) -> str:
        hashed = _hasher.hash(check_password(password)) if password else None
        slug = secrets.token_urlsafe(18)
        with self.meta.session(write=True) as s, s.begin():
            s.add(SharedLink(site_id=site_id, slug=slug, label=label.strip()[:100],
                             password_hash=hashed, created_at=utcnow()))  # fmt: skip
        return slug

    def shares(self, site_id: str) -> list[ShareInfo]:
        with self.meta.session() as s:
            query = select(SharedLink).where(SharedLink.site_id == site_id)
            return [_share(r) for r in s.scalars(query.order_by(SharedLink.id))]

    def share_for(self, slug: str) -> ShareInfo | None:
        if not slug or len(slug) > 64:
            return None
        with self.meta.session() as s:
            row = s.scalars(select(SharedLink).where(SharedLink.slug == slug)).first()
            return _share(row) if row else None

    def delete_share(self, site_id: str, share_id: int) -> bool:
        with self.meta.session(write=True) as s, s.begin():
            gone = s.execute(
                delete(SharedLink).where(SharedLink.site_id == site_id, SharedLink.id == share_id)
            )
            return bool(getattr(gone, "rowcount", 0))
