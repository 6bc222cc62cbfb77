"""Contract tests of the metadata repository, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url, select, table, text
from sqlalchemy.exc import IntegrityError

from footfall.meta import Metadata, MetaValidationError, SiteInfo, SiteNotFoundError


def all_cells(meta: Metadata) -> str:
    """Every value of every table, as one string: what someone reading the DB would see."""
    chunks: list[str] = []
    with meta.engine.connect() as conn:
        for name in inspect(meta.engine).get_table_names():
            for row in conn.execute(select(text("*")).select_from(table(name))):
                chunks.extend(v.hex() + repr(v) if isinstance(v, bytes) else str(v) for v in row)
    return "\n".join(chunks)


def test_create_site_returns_info_and_a_key_for_that_site_only(meta: Metadata) -> None:
    site, key = meta.create_site("My Site", ["example.com"], "Europe/Berlin")
    other, other_key = meta.create_site("Other", ["other.example"])
    assert isinstance(site, SiteInfo)
    assert (site.id, site.name, site.domains, site.timezone) == (
        "my-site",
        "My Site",
        ("example.com",),
        "Europe/Berlin",
    )
    assert site.created_at.tzinfo is not None
    assert abs(datetime.now(UTC) - site.created_at) < timedelta(minutes=1)
    assert key.startswith("ffk_") and len(key) == 4 + 32
    assert meta.site_for_ingest_key(key) == site
    assert meta.site_for_ingest_key(other_key) == other
    assert meta.get_site("my-site") == site
    assert meta.list_sites() == [site, other]


def test_keys_and_tokens_are_stored_only_as_hashes(meta: Metadata, db_url: str) -> None:
    site, key = meta.create_site("Secret", ["secret.example"])
    token = meta.create_read_token(site.id)
    rotated = meta.rotate_ingest_key(site.id)
    cells = all_cells(meta)
    for secret in (key, token, rotated):
        assert secret not in cells
        assert secret[4:] not in cells
        assert hashlib.sha256(secret.encode()).hexdigest() in cells
    assert key[:8] in cells  # the display prefix is all that is kept
    with meta.engine.connect() as conn:
        hashes = conn.execute(text("SELECT key_hash, prefix FROM ingest_keys")).all()
    assert {h for h, _ in hashes} == {
        hashlib.sha256(k.encode()).hexdigest() for k in (key, rotated)
    }
    assert {p for _, p in hashes} == {key[:8], rotated[:8]}
    path = make_url(db_url).database
    if make_url(db_url).get_backend_name() == "sqlite" and path:
        meta.close()  # checkpoint: look at the files too, WAL included
        raw = b"".join(p.read_bytes() for p in Path(path).parent.iterdir())
        for secret in (key, token, rotated):
            assert secret.encode() not in raw
            assert secret[4:].encode() not in raw


@pytest.mark.parametrize("bad", ["", "ffk_", "ffk_nope", "fft_" + "x" * 32, "x" * 36, None, 12])
def test_wrong_ingest_keys_find_nothing(meta: Metadata, bad: object) -> None:
    meta.create_site("Site", ["site.example"])
    assert meta.site_for_ingest_key(bad) is None  # type: ignore[arg-type]
    assert meta.site_for_read_token(bad) is None  # type: ignore[arg-type]


def test_rotating_the_ingest_key_revokes_the_old_one(meta: Metadata) -> None:
    site, old = meta.create_site("Rotating", ["rot.example"])
    new = meta.rotate_ingest_key(site.id)
    assert new != old
    assert meta.site_for_ingest_key(old) is None
    assert meta.site_for_ingest_key(new) == site
    assert [k.prefix for k in meta.list_ingest_keys(site.id)] == [new[:8]]
    assert len(meta.list_ingest_keys(site.id, include_revoked=True)) == 2
    with pytest.raises(SiteNotFoundError):
        meta.rotate_ingest_key("missing")


def test_read_tokens_authenticate_only_their_site(meta: Metadata) -> None:
    a, key_a = meta.create_site("A", ["a.example"])
    b, _ = meta.create_site("B", ["b.example"])
    token_a = meta.create_read_token(a.id)
    token_b = meta.create_read_token(b.id)
    assert token_a.startswith("fft_") and token_a != token_b
    assert meta.site_for_read_token(token_a) == a
    assert meta.site_for_read_token(token_b) == b
    assert meta.site_for_read_token(key_a) is None  # an ingest key never reads
    assert meta.site_for_ingest_key(token_a) is None  # a read token never writes
    with pytest.raises(SiteNotFoundError):
        meta.create_read_token("missing")


def test_revoked_read_tokens_find_nothing(meta: Metadata) -> None:
    site, _ = meta.create_site("Tokens", ["tokens.example"])
    by_token, by_prefix, by_id = (meta.create_read_token(site.id) for _ in range(3))
    listed = {k.prefix: k for k in meta.list_read_tokens(site.id)}
    assert meta.revoke_read_token(by_token) is True
    assert meta.revoke_read_token(by_prefix[:8], site_id=site.id) is True
    assert meta.revoke_read_token(listed[by_id[:8]].id) is True
    for token in (by_token, by_prefix, by_id):
        assert meta.site_for_read_token(token) is None
    assert meta.revoke_read_token(by_token) is False  # already revoked
    assert meta.list_read_tokens(site.id) == []
    assert all(
        k.revoked_at is not None for k in meta.list_read_tokens(site.id, include_revoked=True)
    )
    with pytest.raises(MetaValidationError) as err:
        meta.revoke_read_token("nonsense")
    assert err.value.field == "token"


def test_revoking_is_scoped_to_the_given_site(meta: Metadata) -> None:
    a, _ = meta.create_site("A", ["a.example"])
    b, _ = meta.create_site("B", ["b.example"])
    token_b = meta.create_read_token(b.id)
    assert meta.revoke_read_token(token_b, site_id=a.id) is False
    assert meta.site_for_read_token(token_b) == b


def test_slugs_are_unique(meta: Metadata) -> None:
    ids = [meta.create_site("My Site", [f"s{i}.example"])[0].id for i in range(3)]
    assert ids == ["my-site", "my-site-2", "my-site-3"]
    assert meta.create_site("Ünïcode — Café!", ["cafe.example"])[0].id == "unicode-cafe"
    assert meta.create_site("日本", ["jp.example"])[0].id == "site"


def test_concurrent_creates_of_one_name_get_distinct_slugs(db_url: str, meta: Metadata) -> None:
    others = [Metadata(db_url) for _ in range(4)]
    ids: list[str] = []
    errors: list[BaseException] = []

    def create(store: Metadata, domain: str) -> None:
        try:
            ids.append(store.create_site("Race", [domain])[0].id)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=create, args=(s, f"race{i}.example")) for i, s in enumerate(others)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in others:
        s.close()
    assert errors == []
    assert sorted(ids) == ["race", "race-2", "race-3", "race-4"]


def test_domains_are_normalised(meta: Metadata) -> None:
    site, _ = meta.create_site(
        "Norm",
        [
            "https://WWW.Example.com:8080/blog?x=1",
            "example.com",
            " Shop.Example.COM. ",
            "bücher.de",
        ],
    )
    assert site.domains == ("example.com", "shop.example.com", "xn--bcher-kva.de")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "", "domains": ["a.example"]}, "name"),
        ({"name": "   ", "domains": ["a.example"]}, "name"),
        ({"name": "x" * 101, "domains": ["a.example"]}, "name"),
        ({"name": "ok", "domains": []}, "domains"),
        ({"name": "ok", "domains": ["not a host"]}, "domains"),
        ({"name": "ok", "domains": "a.example"}, "domains"),
        ({"name": "ok", "domains": ["a.example"], "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "ok", "domains": ["a.example"], "timezone": ""}, "timezone"),
        ({"name": "ok", "domains": ["a.example"], "timezone": "/etc/passwd"}, "timezone"),
    ],
)
def test_bad_input_names_the_field(meta: Metadata, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(MetaValidationError) as err:
        meta.create_site(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
    assert isinstance(err.value, ValueError)
    assert meta.list_sites() == []


def test_site_for_domain(meta: Metadata) -> None:
    prod, _ = meta.create_site("Prod", ["example.com", "shop.example.com"])
    meta.create_site("Unrelated", ["unrelated.example"])
    assert meta.site_for_domain("example.com") == prod
    assert meta.site_for_domain("www.EXAMPLE.com.") == prod
    assert meta.site_for_domain("shop.example.com:443") == prod
    assert meta.site_for_domain("example.org") is None
    assert meta.site_for_domain("not a host") is None


SPELLINGS = ["b.example.com", "WWW.B.example.com.", "b.example.com:443", "https://B.Example.Com/x"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_domain_belongs_to_one_site(meta: Metadata, spelling: str) -> None:
    a, _ = meta.create_site("A", ["a.example.com"])
    b, _ = meta.create_site("B", ["b.example.com"])
    with pytest.raises(MetaValidationError) as err:
        meta.create_site("Spy", [spelling])
    assert err.value.field == "domains" and "b.example.com" in err.value.message
    with pytest.raises(MetaValidationError) as err:  # as an extra domain of another site
        meta.update_site(a.id, domains=["a.example.com", spelling])
    assert err.value.field == "domains"
    assert [s.id for s in meta.list_sites()] == ["a", "b"]
    assert meta.get_site(a.id) == a
    assert meta.site_for_domain("b.example.com") == b
    # Once B gives the domain up, another site may take it.
    meta.update_site(b.id, domains=["new-b.example.com"])
    assert meta.update_site(a.id, domains=["a.example.com", spelling]).domains == (
        "a.example.com",
        "b.example.com",
    )


def test_the_database_refuses_a_second_site_for_a_domain(meta: Metadata) -> None:
    """The unique index holds even for a writer that skips the repository's check."""
    meta.create_site("A", ["a.example"])
    meta.create_site("B", ["b.example"])
    with pytest.raises(IntegrityError), meta.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO site_domains (site_id, domain, position) VALUES ('b', 'a.example', 1)"
            )
        )


def test_concurrent_claims_of_one_domain_give_it_to_one_site(db_url: str, meta: Metadata) -> None:
    sites = [meta.create_site(f"S{i}", [f"s{i}.example"])[0] for i in range(4)]
    stores = [Metadata(db_url) for _ in sites]
    outcomes: list[str] = []

    def claim(store: Metadata, site: SiteInfo) -> None:
        try:
            store.update_site(site.id, domains=[*site.domains, "contested.example"])
            outcomes.append("ok")
        except MetaValidationError as exc:
            outcomes.append(exc.field)

    threads = [threading.Thread(target=claim, args=pair) for pair in zip(stores, sites)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in stores:
        store.close()
    assert sorted(outcomes) == ["domains", "domains", "domains", "ok"]
    owners = [s for s in meta.list_sites() if "contested.example" in s.domains]
    assert len(owners) == 1 and meta.site_for_domain("contested.example") == owners[0]


def test_update_site(meta: Metadata) -> None:
    site, key = meta.create_site("Before", ["a.example", "b.example"])
    updated = meta.update_site(site.id, name="After", domains=["b.example", "c.example"])
    assert (updated.id, updated.name, updated.domains) == (
        "before",
        "After",
        ("b.example", "c.example"),
    )
    assert meta.update_site(site.id, timezone="America/New_York").timezone == "America/New_York"
    assert meta.site_for_domain("a.example") is None
    assert meta.site_for_domain("c.example") == meta.get_site("before")
    assert meta.site_for_ingest_key(key) == meta.get_site(site.id)
    with pytest.raises(MetaValidationError) as err:
        meta.update_site(site.id, timezone="Nowhere/Land")
    assert err.value.field == "timezone"
    with pytest.raises(SiteNotFoundError):
        meta.update_site("missing", name="x")


def test_delete_site_removes_keys_tokens_and_domains(meta: Metadata) -> None:
    site, key = meta.create_site("Doomed", ["doomed.example"])
    kept, kept_key = meta.create_site("Kept", ["kept.example"])
    token = meta.create_read_token(site.id)
    assert meta.delete_site(site.id) is True
    assert meta.delete_site(site.id) is False
    assert meta.get_site(site.id) is None
    assert meta.site_for_ingest_key(key) is None
    assert meta.site_for_read_token(token) is None
    assert meta.site_for_domain("doomed.example") is None
    assert meta.site_for_ingest_key(kept_key) == kept
    with meta.engine.connect() as conn:
        for name in ("site_domains", "ingest_keys", "read_tokens"):
            count = conn.execute(text(f"SELECT count(*) FROM {name} WHERE site_id = 'doomed'"))
            assert count.scalar() == 0
