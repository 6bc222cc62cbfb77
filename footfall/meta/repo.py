"""The metadata repository: sites, their ingest keys and read tokens.

:class:`Metadata` is the only way the rest of Footfall touches the metadata database. It
hands out plain frozen dataclasses (:class:`SiteInfo`, :class:`KeyInfo`), never ORM
objects, so callers never see a session. Every method runs in its own short transaction;
writes take SQLite's write lock up front (see :mod:`footfall.meta.db`).

Keys and tokens are returned exactly once, by the call that creates them, and only their
SHA-256 is stored. A site has one live ingest key at a time (rotating it revokes the old
one at once, so pages carrying the old key stop counting until they are updated) and any
number of read tokens. Revoking and deleting return whether anything changed, so they
can be repeated safely; operations that need an existing site raise
:class:`SiteNotFoundError`. Invalid input raises :class:`MetaValidationError` naming the
field, as does a domain that another site owns (see :mod:`footfall.meta.domains`). A
deleted site's slug may be given to a later site, so the event store's data of a deleted
site must be deleted with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import URL, Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from footfall.meta.db import make_engine, migrate, writer
from footfall.meta.domains import assign_domains, normalize_domain, normalize_domains, refuse_taken
from footfall.meta.models import IngestKey, ReadToken, Site, SiteDomain, utcnow
from footfall.meta.values import (
    INGEST_KEY_PREFIX,
    READ_TOKEN_PREFIX,
    MetaValidationError,
    SiteNotFoundError,
    display_prefix,
    hash_secret,
    looks_like,
    new_ingest_key,
    new_read_token,
    normalize_name,
    slugify,
    unique_slug,
    validate_timezone,
)

_SLUG_ATTEMPTS = 5
_K = TypeVar("_K", IngestKey, ReadToken)


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """A site as the rest of Footfall sees it."""

    id: str
    name: str
    domains: tuple[str, ...]
    timezone: str
    created_at: datetime
    public_uuid: str = ""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An ingest key or read token, without the secret: for listings."""

    id: int
    site_id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _site_info(site: Site) -> SiteInfo:
    return SiteInfo(
        site.id, site.name, site.domain_list, site.timezone, site.created_at, site.public_uuid
    )


def _key_info(row: IngestKey | ReadToken) -> KeyInfo:
    return KeyInfo(row.id, row.site_id, row.prefix, row.created_at, row.revoked_at)


class Metadata:
    """Repository over the metadata database at ``url`` (SQLite or PostgreSQL)."""

    def __init__(self, url: str | URL) -> None:
        self.engine = make_engine(url)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(writer(self.engine), expire_on_commit=False)

    def migrate(self) -> None:
        """Apply pending migrations (a no-op when current); call once at start."""
        migrate(self.engine)

    def close(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

    def session(self, *, write: bool = False) -> Session:
        """A new session, for sibling stores of this package (e.g. salts) only."""
        return (self._write if write else self._read)()

    # -- sites ---------------------------------------------------------------------------

    def create_site(
        self, name: str, domains: list[str], timezone: str = "UTC"
    ) -> tuple[SiteInfo, str]:
        """Create a site and its first ingest key; returns the site and the key (shown once)."""
        name = normalize_name(name)
        hosts = normalize_domains(domains)
        timezone = validate_timezone(timezone)
        base = slugify(name)
        for attempt in range(_SLUG_ATTEMPTS):
            key = new_ingest_key()
            try:
                with self._write.begin() as s:
                    like = or_(Site.id == base, Site.id.like(f"{base}-%"))
                    taken = set(s.scalars(select(Site.id).where(like)))
                    slug = unique_slug(base, taken)
                    site = Site(id=slug, name=name, timezone=timezone, created_at=utcnow())
                    assign_domains(s, site, hosts)
                    site.ingest_keys = [
                        IngestKey(key_hash=hash_secret(key), prefix=display_prefix(key))
                    ]
                    s.add(site)
                    s.flush()
                    info = _site_info(site)
                return info, key
            except IntegrityError:  # another writer took the slug or a domain just now
                with self._read() as s:
                    refuse_taken(s, hosts)
                if attempt == _SLUG_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def get_site(self, site_id: str) -> SiteInfo | None:
        if not isinstance(site_id, str):
            return None
        with self._read() as s:
            site = s.get(Site, site_id)
            return _site_info(site) if site is not None else None

    def list_sites(self) -> list[SiteInfo]:
        with self._read() as s:
            return [_site_info(site) for site in s.scalars(select(Site).order_by(Site.id))]

    def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        domains: list[str] | None = None,
        timezone: str | None = None,
    ) -> SiteInfo:
        """Change the given fields (domains are replaced as a whole); the id never changes."""
        new_name = normalize_name(name) if name is not None else None
        hosts = normalize_domains(domains) if domains is not None else None
        new_tz = validate_timezone(timezone) if timezone is not None else None
        try:
            with self._write.begin() as s:
                site = s.get(Site, site_id)
                if site is None:
                    raise SiteNotFoundError(site_id)
                if new_name is not None:
                    site.name = new_name
                if new_tz is not None:
                    site.timezone = new_tz
                if hosts is not None:
                    assign_domains(s, site, hosts)
                s.flush()
                return _site_info(site)
        except IntegrityError:  # another writer claimed one of the domains just now
            with self._read() as s:
                refuse_taken(s, hosts or (), site_id)
            raise

    def delete_site(self, site_id: str) -> bool:
        """Delete a site with its domains, keys and tokens; False if there was none."""
        with self._write.begin() as s:
            site = s.get(Site, site_id)
            if site is None:
                return False
            s.delete(site)
            return True

    def site_for_domain(self, domain: str) -> SiteInfo | None:
        """The site that owns ``domain`` (normalised like stored domains; www. ignored)."""
        try:
            host = normalize_domain(domain)
        except MetaValidationError:
            return None
        return self._site_by(select(Site).join(SiteDomain).where(SiteDomain.domain == host))

    def site_for_alias(self, alias: str) -> SiteInfo | None:
        """The site named by ``alias``: its public UUID (any case) or its id."""
        if not isinstance(alias, str) or not alias or len(alias) > 64:
            return None
        lowered = alias.strip().lower()
        query = select(Site).where(or_(Site.public_uuid == lowered, Site.id == alias))
        return self._site_by(query)

    # -- ingest keys ---------------------------------------------------------------------

    def site_for_ingest_key(self, key: str) -> SiteInfo | None:
        """The site a live ingest key belongs to; None for unknown or revoked keys."""
        if not looks_like(key, INGEST_KEY_PREFIX):
            return None
        live = IngestKey.key_hash == hash_secret(key), IngestKey.revoked_at.is_(None)
        return self._site_by(select(Site).join(IngestKey).where(*live))

    def rotate_ingest_key(self, site_id: str) -> str:
        """Revoke the site's ingest keys and return a new one (shown once)."""
        key = new_ingest_key()
        with self._write.begin() as s:
            self._require_site(s, site_id)
            s.execute(
                update(IngestKey)
                .where(IngestKey.site_id == site_id, IngestKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            s.add(IngestKey(site_id=site_id, key_hash=hash_secret(key), prefix=display_prefix(key)))
        return key

    def list_ingest_keys(self, site_id: str, *, include_revoked: bool = False) -> list[KeyInfo]:
        return self._list_keys(IngestKey, site_id, include_revoked)

    # -- read tokens ---------------------------------------------------------------------

    def site_for_read_token(self, token: str) -> SiteInfo | None:
        """The site a live read token may read; None for unknown or revoked tokens."""
        if not looks_like(token, READ_TOKEN_PREFIX):
            return None
        live = ReadToken.token_hash == hash_secret(token), ReadToken.revoked_at.is_(None)
        return self._site_by(select(Site).join(ReadToken).where(*live))

    def create_read_token(self, site_id: str) -> str:
        """A new read token for the site (shown once)."""
        token = new_read_token()
        with self._write.begin() as s:
            self._require_site(s, site_id)
            s.add(
                ReadToken(
                    site_id=site_id, token_hash=hash_secret(token), prefix=display_prefix(token)
                )
            )
        return token

    def list_read_tokens(self, site_id: str, *, include_revoked: bool = False) -> list[KeyInfo]:
        return self._list_keys(ReadToken, site_id, include_revoked)

    def revoke_read_token(self, token: str | int, *, site_id: str | None = None) -> bool:
        """Revoke a live read token given by id, by the whole token or by its 8-char prefix.

        With ``site_id``, only that site's tokens are considered. A prefix that matches
        several live tokens raises :class:`MetaValidationError` (field ``token``): use the
        id. Returns False when nothing live matched.
        """
        query = select(ReadToken).where(ReadToken.revoked_at.is_(None))
        if site_id is not None:
            query = query.where(ReadToken.site_id == site_id)
        if isinstance(token, int) or token.isdigit():
            query = query.where(ReadToken.id == int(token))
        elif looks_like(token, READ_TOKEN_PREFIX):
            query = query.where(ReadToken.token_hash == hash_secret(token))
        elif token.startswith(READ_TOKEN_PREFIX) and len(token) == len(display_prefix(token)):
            query = query.where(ReadToken.prefix == token)
        else:
            raise MetaValidationError("token", "expected a token id, a token or its prefix")
        with self._write.begin() as s:
            rows = list(s.scalars(query))
            if len(rows) > 1:
                raise MetaValidationError("token", f"prefix matches {len(rows)} tokens; use the id")
            if not rows:
                return False
            rows[0].revoked_at = utcnow()
            return True

    # -- helpers -------------------------------------------------------------------------

    def _site_by(self, query: Select[Site]) -> SiteInfo | None:
        with self._read() as s:
            site = s.scalars(query).first()
            return _site_info(site) if site is not None else None

    def _list_keys(self, model: type[_K], site_id: str, include_revoked: bool) -> list[KeyInfo]:
        query = select(model).where(model.site_id == site_id).order_by(model.id)
        if not include_revoked:
            query = query.where(model.revoked_at.is_(None))
        with self._read() as s:
            return [_key_info(row) for row in s.scalars(query)]

    @staticmethod
    def _require_site(s: Session, site_id: str) -> None:
        if s.get(Site, site_id) is None:
            raise SiteNotFoundError(site_id)
