"""IP geolocation with iptocc (bundled data) and with a tiny mmdb built by mmdb-writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.ingest.geo import GeoLookup


@pytest.fixture(scope="module")
def geo() -> GeoLookup:
    return GeoLookup()


def test_iptocc_is_default(geo: GeoLookup) -> None:
    assert geo.source == "iptocc"


def test_public_ipv4(geo: GeoLookup) -> None:
    assert geo.lookup("8.8.8.8") == ("US", "", "")


def test_public_ipv6(geo: GeoLookup) -> None:
    assert geo.lookup("2001:4860:4860::8888") == ("US", "", "")


def test_ipv4_mapped_ipv6(geo: GeoLookup) -> None:
    assert geo.lookup("::ffff:8.8.8.8") == ("US", "", "")


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.1.1",
        "fe80::1",
        "0.0.0.0",
        "224.0.0.1",
        "garbage",
        "",
        "999.1.1.1",
        "1.2.3.4.5",
        "8.8.8.8%eth0",
        " ",
    ],
)
def test_unknown(geo: GeoLookup, ip: str) -> None:
    assert geo.lookup(ip) == ("", "", "")


def _write_mmdb(path: Path) -> None:
    mmdb_writer = pytest.importorskip(
        "mmdb_writer", reason="mmdb-writer (dev extra) is needed to build a test mmdb"
    )
    from netaddr import IPSet

    writer = mmdb_writer.MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City"
    )
    writer.insert_network(
        IPSet(["81.2.69.0/24"]),
        {
            "country": {
                "iso_code": "GB",
                "names": {"en": "United Kingdom", "de": "Vereinigtes Königreich"},
            },
            "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
            "city": {"names": {"en": "London", "fr": "Londres"}},
        },
    )
    writer.insert_network(
        IPSet(["2a02:ff0::/32"]),
        {"country": {"iso_code": "de", "names": {"en": "Germany"}}},
    )
    writer.insert_network(IPSet(["1.0.0.0/24"]), {"registered_country": {"iso_code": "AU"}})
    writer.insert_network(IPSet(["9.9.9.0/24"]), {"city": {"names": {"en": "Berkeley"}}})
    writer.to_db_file(str(path))


def test_mmdb(tmp_path: Path) -> None:
    path = tmp_path / "tiny-city.mmdb"
    _write_mmdb(path)
    geo = GeoLookup(str(path))
    try:
        assert geo.source == "mmdb"
        assert geo.lookup("81.2.69.160") == ("GB", "England", "London")
        assert geo.lookup("2a02:ff0::1") == ("DE", "", "")
        assert geo.lookup("1.0.0.1") == ("AU", "", "")
        # Not in the operator's database: the built-in table still gives the country.
        assert geo.lookup("8.8.8.8") == ("US", "", "")
        assert geo.lookup("::ffff:8.8.8.8") == ("US", "", "")
        assert geo.lookup("2001:4860:4860::8888") == ("US", "", "")
        assert geo.lookup("9.9.9.9") == ("US", "", "Berkeley")  # a record without a country
        assert geo.lookup("127.0.0.1") == ("", "", "")
        assert geo.lookup("garbage") == ("", "", "")
        assert geo.lookup("81.2.69.160") == ("GB", "England", "London")  # cached
    finally:
        geo.close()


def test_missing_mmdb_raises_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        GeoLookup(str(tmp_path / "missing.mmdb"))
