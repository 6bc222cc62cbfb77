"""Raw IP addresses are never written anywhere (docs/design.md "Data model", "Identity and
privacy", "Contracts every part keeps"), and X-Forwarded-For is believed only through the
configured number of trusted proxy hops.

A distinctive IPv4 and IPv6 address travel through every way an IP reaches the server
(socket peer, the body's ``ip`` field, X-Forwarded-For behind a trusted proxy, in good and
in rejected events); afterwards the raw bytes of every file in the data directory (DuckDB
file and WAL, spool segments, SQLite metadata and its journal/WAL) and all captured log
output are searched for every textual form of those addresses.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.config import Settings
from tests.conftest import ADMIN, make_settings

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
UA2 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"
IPV4 = "198.51.100.77"
IPV6 = "2001:db8::abcd"


def ip_forms() -> list[bytes]:
    """Every textual (and the 16-byte packed) form of the two addresses, as bytes."""
    v4 = ipaddress.IPv4Address(IPV4)
    v6 = ipaddress.IPv6Address(IPV6)
    texts = {
        IPV4,
        f"::ffff:{IPV4}",
        str(int(v4)),  # 3325256781
        IPV6,
        IPV6.upper(),
        v6.exploded,  # 2001:0db8:0000:0000:0000:0000:0000:abcd
        v6.exploded.upper(),
        "2001:db8:0:0:0:0:0:abcd",
        "2001:0db8::abcd",
        f"[{IPV6}]",
    }
    forms: set[bytes] = set()
    for text in texts:
        forms.add(text.encode())
        forms.add(text.encode("utf-16-le"))
    forms.add(v6.packed)
    forms.add(ipaddress.IPv6Address(f"::ffff:{IPV4}").packed)
    return sorted(forms)


FORMS = ip_forms()


def assert_no_ip_in(blob: bytes, where: str) -> None:
    for form in FORMS:
        assert form not in blob, f"raw IP form {form!r} found in {where}"


def scan_data_dir(data_dir: Path) -> list[str]:
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert files, "nothing in the data directory?"
    scanned = []
    for path in files:
        try:
            blob = path.read_bytes()
        except FileNotFoundError:  # a WAL folded in by a checkpoint while we walked
            continue
        assert_no_ip_in(blob, str(path))
        scanned.append(path.name)
    return sorted(scanned)


def pv(path: str, **extra: Any) -> dict[str, Any]:
    return {"event_type": "pageview", "path": path, "url": f"https://example.com{path}", **extra}


@contextmanager
def serve(settings: Settings, peer: tuple[str, int]) -> Iterator[tuple[TestClient, Any]]:
    app = create_app(settings)
    with TestClient(app, client=peer) as client:
        yield client, app.state.services


def create_site(client: TestClient) -> tuple[str, str, str]:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    r = client.post(
        "/api/site/create", json={"name": "Private", "domains": ["example.com"]}, headers=admin
    )
    assert r.status_code == 201, r.text
    site_id, key = r.json()["site_id"], r.json()["api_key"]
    t = client.post("/api/tokens", json={"site_id": site_id}, headers=admin)
    assert t.status_code == 201, t.text
    return site_id, key, t.json()["token"]


def stats(client: TestClient, services: Any, site_id: str, token: str) -> dict[str, Any]:
    assert services.writer.wait_idle(15)
    r = client.get(
        "/api/stats", params={"site_id": site_id}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def send_everything(client: TestClient, key: str, tag: str, xff: str | None = None) -> int:
    """Good and bad events, single and batch, carrying the IPs every way; returns how many
    pageviews should be stored."""
    h = {"x-api-key": key, "user-agent": UA}
    if xff is not None:
        h["x-forwarded-for"] = xff
    stored = 0
    for ip in (IPV4, IPV6, f"::ffff:{IPV4}", ipaddress.IPv6Address(IPV6).exploded):
        # server-side sender: ip (and user agent) in the body
        r = client.post("/api/event", json=pv(f"/{tag}/body", ip=ip, user_agent=UA2), headers=h)
        assert r.status_code == 202, r.text
        r = client.post(
            "/api/events",
            json={"events": [pv(f"/{tag}/batch", ip=ip, user_agent=UA2)] * 2},
            headers=h,
        )
        assert r.status_code == 202, r.text
        stored += 3
        # rejected events carrying the IP: nothing of them may be logged or stored either
        r = client.post(
            "/api/event", json=pv(f"/{tag}/bad", ip=ip, timestamp="yesterday"), headers=h
        )
        assert r.status_code == 400
        assert_no_ip_in(r.content, "a 400 response")
        r = client.post(
            "/api/event", json={"event_type": "pageview", "path": ip, "ip": ip}, headers=h
        )
        assert r.status_code == 400  # path without a leading slash
        assert_no_ip_in(r.content, "a 400 response")
        r = client.post("/api/event", json=pv(f"/{tag}/bad", ip=ip + "x" * 50), headers=h)
        assert r.status_code == 400
    # the socket (or forwarded) address
    for i in range(3):
        r = client.post("/api/event", json=pv(f"/{tag}/socket{i}"), headers=h)
        assert r.status_code == 202, r.text
        stored += 1
    r = client.post(
        "/api/event",
        json=pv(f"/{tag}/nokey"),
        headers={"user-agent": UA, **({"x-forwarded-for": xff} if xff else {})},
    )
    assert r.status_code == 401
    assert_no_ip_in(r.content, "a 401 response")
    return stored


def test_raw_ips_are_never_written_to_disk_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("footfall", "footfall.collect", "footfall.writer", "sqlalchemy", "alembic"):
        caplog.set_level(logging.DEBUG, logger=name)
    data_dir = tmp_path / "data"
    expected = 0

    # 1. the IPv4 address as the socket peer, no proxy trusted
    with serve(make_settings(tmp_path, log_level="debug"), (IPV4, 51000)) as (client, svc):
        site_id, key, token = create_site(client)
        expected += send_everything(client, key, "v4", xff=f"{IPV6}, {IPV4}")
        assert stats(client, svc, site_id, token)["pageviews"] == expected
        scan_data_dir(data_dir)  # while running: WAL files, open spool segment
        for url in ("/metrics", "/api/health"):
            assert_no_ip_in(client.get(url).content, url)

    # 2. the IPv6 address as the socket peer
    with serve(make_settings(tmp_path, log_level="debug"), (IPV6, 51001)) as (client, svc):
        expected += send_everything(client, key, "v6")
        assert stats(client, svc, site_id, token)["pageviews"] == expected
        scan_data_dir(data_dir)

    # 3. behind one trusted proxy: the addresses arrive in X-Forwarded-For
    proxied = make_settings(tmp_path, log_level="debug", trusted_proxies=1)
    for xff in (IPV4, IPV6, f"10.9.8.7, {IPV4}", f"{IPV4}, {IPV6}", f"::ffff:{IPV4}"):
        with serve(proxied, ("10.0.0.2", 51002)) as (client, svc):
            expected += send_everything(client, key, "xff", xff=xff)
            assert stats(client, svc, site_id, token)["pageviews"] == expected
            scan_data_dir(data_dir)

    # after a clean shutdown, every file again (spool drained, WALs checkpointed)
    names = scan_data_dir(data_dir)
    assert any(n.endswith(".duckdb") for n in names), names
    assert any("sqlite" in n for n in names), names

    logged = (
        "\n".join(
            f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
        )
        + caplog.text
    )
    assert_no_ip_in(logged.encode(), "captured log records")
    out = capsys.readouterr()
    assert_no_ip_in(out.out.encode(), "stdout")
    assert_no_ip_in(out.err.encode(), "stderr")


def test_spool_holds_no_ip_before_the_writer_runs(tmp_path: Path) -> None:
    """The spool segment as written at ack time (the writer cannot have drained it yet
    because its interval is long) contains no form of the address."""
    settings = make_settings(tmp_path, flush_interval_ms=600_000)
    with serve(settings, (IPV4, 52000)) as (client, svc):
        site_id, key, token = create_site(client)
        h = {"x-api-key": key, "user-agent": UA}
        for i in range(5):
            assert client.post("/api/event", json=pv(f"/s{i}"), headers=h).status_code == 202
            assert (
                client.post("/api/event", json=pv(f"/b{i}", ip=IPV6), headers=h).status_code == 202
            )
        spool_files = [p for p in settings.spool_dir.rglob("*") if p.is_file()]
        assert sum(p.stat().st_size for p in spool_files) > 0, (
            "events should be waiting in the spool"
        )
        scan_data_dir(settings.data_dir)
    scan_data_dir(settings.data_dir)


# -- trusted proxies -----------------------------------------------------------------------


def visitors_for(tmp_path: Path, trusted: int, forwarded: list[str]) -> int:
    settings = make_settings(tmp_path, trusted_proxies=trusted)
    with serve(settings, ("192.0.2.10", 53000)) as (client, svc):
        site_id, key, token = create_site(client)
        for i, xff in enumerate(forwarded):
            r = client.post(
                "/api/event",
                json=pv(f"/p{i}"),
                headers={"x-api-key": key, "user-agent": UA, "x-forwarded-for": xff},
            )
            assert r.status_code == 202, r.text
        data = stats(client, svc, site_id, token)
        assert data["pageviews"] == len(forwarded)
        return int(data["visitors"])


def test_xff_is_ignored_without_trusted_proxies(tmp_path: Path) -> None:
    assert visitors_for(tmp_path, 0, ["203.0.113.1", "203.0.113.2", "8.8.8.8, 1.1.1.1"]) == 1


def test_xff_rightmost_entry_is_the_client_with_one_trusted_proxy(tmp_path: Path) -> None:
    assert visitors_for(tmp_path, 1, ["203.0.113.1", "203.0.113.2"]) == 2


def test_xff_entries_left_of_the_trusted_hops_are_ignored(tmp_path: Path) -> None:
    # the client forged the left entries; the proxy appended the real address on the right
    assert (
        visitors_for(tmp_path, 1, ["1.1.1.1, 203.0.113.5", "9.9.9.9, 203.0.113.5", "203.0.113.5"])
        == 1
    )


def test_two_trusted_proxies_take_the_second_from_the_right(tmp_path: Path) -> None:
    # chain: client, proxy1 (appends client), proxy2 (appends proxy1) -> socket peer proxy2
    assert (
        visitors_for(
            tmp_path,
            2,
            ["6.6.6.6, 203.0.113.5, 10.0.0.1", "203.0.113.5, 10.0.0.9", "203.0.113.6, 10.0.0.1"],
        )
        == 2
    )


def test_xff_split_over_several_header_lines_is_one_list(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, trusted_proxies=1)
    with serve(settings, ("192.0.2.10", 53000)) as (client, svc):
        site_id, key, token = create_site(client)
        for i, forged in enumerate(["6.6.6.6", "7.7.7.7", "8.8.8.8"]):
            headers = [
                ("x-api-key", key),
                ("user-agent", UA),
                ("x-forwarded-for", forged),  # written by the client
                ("x-forwarded-for", "203.0.113.5"),  # appended by the trusted proxy
            ]
            r = client.post("/api/event", json=pv(f"/p{i}"), headers=headers)
            assert r.status_code == 202, r.text
        assert stats(client, svc, site_id, token)["visitors"] == 1
