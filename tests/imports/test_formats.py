"""Access-log formats read into hits, and the documented rules for which hits are pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from footfall.imports.accesslog.formats import BadLine, page_verdict, parser_for

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
T = int(datetime(2024, 3, 5, 8, 0, 0, tzinfo=UTC).timestamp() * 1000)


def test_combined_and_nginx_lines() -> None:
    line = f'2001:db8::1 - bob [05/Mar/2024:09:00:00 +0100] "GET /a?x=1 HTTP/2.0" 200 5 "https://r.example/" "{UA}"'
    for fmt in ("combined", "nginx"):
        hit = parser_for(fmt)(line)
        assert (hit.ip, hit.ts_ms, hit.method, hit.target, hit.status) == (
            "2001:db8::1",
            T,
            "GET",
            "/a?x=1",
            200,
        )
        assert (hit.referrer, hit.user_agent, hit.host) == ("https://r.example/", UA, "")
    # nginx configurations often append fields; quotes inside a field are escaped.
    extra = '1.2.3.4 - - [05/Mar/2024:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "A \\"quoted\\" agent" "10.0.0.1" 0.003'
    hit = parser_for("nginx")(extra)
    assert (hit.referrer, hit.user_agent, hit.ts_ms) == ("", 'A "quoted" agent', T)
    with pytest.raises(BadLine):
        parser_for("combined")('1.2.3.4 - - [05/Mar/2024:08:00:00 +0000] "GET / HTTP/1.1" 200')


def test_apache_vhost_combined_names_the_host() -> None:
    line = f'Shop.Example:443 1.2.3.4 - - [05/Mar/2024:08:00:00 +0000] "GET /p HTTP/1.1" 200 5 "-" "{UA}"'
    hit = parser_for("apache")(line)
    assert (hit.host, hit.ip, hit.target, hit.ts_ms) == ("shop.example", "1.2.3.4", "/p", T)
    plain = f'1.2.3.4 - - [05/Mar/2024:08:00:00 +0000] "GET /p HTTP/1.1" 200 5 "-" "{UA}"'
    assert parser_for("apache")(plain).host == ""


def test_caddy_json() -> None:
    entry = {
        "level": "info",
        "ts": T / 1000 + 0.25,
        "logger": "http.log.access",
        "msg": "handled request",
        "request": {
            "remote_ip": "10.0.0.9",
            "client_ip": "203.0.113.4",
            "proto": "HTTP/2.0",
            "method": "GET",
            "host": "shop.example:8443",
            "uri": "/p?utm_source=x",
            "headers": {"User-Agent": [UA], "Referer": ["https://r.example/"]},
        },
        "status": 200,
        "size": 10,
        "resp_headers": {"Content-Type": ["text/html; charset=utf-8"]},
    }
    hit = parser_for("caddy-json")(json.dumps(entry))
    assert (hit.ip, hit.ts_ms, hit.host, hit.target) == (
        "203.0.113.4",
        T + 250,
        "shop.example",
        "/p?utm_source=x",
    )
    assert (hit.user_agent, hit.referrer, hit.content_type) == (
        UA,
        "https://r.example/",
        "text/html; charset=utf-8",
    )
    iso = {
        **entry,
        "ts": "2024-03-05T08:00:00Z",
        "request": {**entry["request"], "client_ip": "", "remote_ip": ""},
    }
    iso["request"]["remote_addr"] = "[2001:db8::2]:5000"
    hit = parser_for("caddy-json")(json.dumps(iso))
    assert (hit.ip, hit.ts_ms) == ("2001:db8::2", T)
    with pytest.raises(BadLine):
        parser_for("caddy-json")("{not json")


@pytest.mark.parametrize(
    ("method", "target", "status", "ctype", "verdict"),
    [
        ("GET", "/", 200, "", None),
        ("GET", "/blog/post.html", 200, "", None),
        ("GET", "/index.php?p=1", 200, "", None),
        ("GET", "/docs/v1.2/", 200, "", None),  # a dot in a folder name, not the last segment
        ("GET", "/app.js", 200, "", "asset"),
        ("GET", "/favicon.ico", 200, "", "asset"),
        ("GET", "/feed.xml", 200, "", "asset"),
        ("GET", "/.well-known/acme", 200, "", "asset"),
        ("GET", "/api/data", 200, "application/json", "not_html"),
        ("GET", "/", 304, "", "status"),
        ("GET", "/", 404, "", "status"),
        ("HEAD", "/", 200, "", "method"),
        ("POST", "/", 200, "", "method"),
    ],
)
def test_page_rules(method: str, target: str, status: int, ctype: str, verdict: str | None) -> None:
    assert page_verdict(method, target, status, ctype) == verdict


def test_a_date_that_does_not_exist_is_a_malformed_line() -> None:
    """31/Feb was read as 2/Mar (timegm rolls days over): such a line is not of the format."""
    parse = parser_for("combined")
    ok = parse(f'1.2.3.4 - - [29/Feb/2024:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "{UA}"')
    assert ok.ts_ms == int(datetime(2024, 2, 29, 8, tzinfo=UTC).timestamp() * 1000)
    for when in ("31/Feb/2024:08:00:00 +0000", "29/Feb/2023:08:00:00 +0000",
                 "05/Mar/2024:25:00:00 +0000"):  # fmt: skip
        with pytest.raises(BadLine):
            parse(f'1.2.3.4 - - [{when}] "GET / HTTP/1.1" 200 5 "-" "{UA}"')


def test_times_in_other_zones_and_out_of_range_ones() -> None:
    """The day and zone parts are read once and reused: each line's own clock time and
    offset still count, and a minute or second past its range is no time at all."""
    parse = parser_for("combined")
    line = '1.2.3.4 - - [{}] "GET / HTTP/1.1" 200 5 "-" "' + UA + '"'
    utc = datetime(2024, 3, 5, 8, tzinfo=UTC).timestamp() * 1000
    assert parse(line.format("05/Mar/2024:08:00:00 +0000")).ts_ms == utc
    assert parse(line.format("05/Mar/2024:01:00:00 -0700")).ts_ms == utc
    assert parse(line.format("05/Mar/2024:13:30:00 +0530")).ts_ms == utc
    assert parse(line.format("05/Mar/2024:08:00:59 +0000")).ts_ms == utc + 59_000
    for when in ("05/Mar/2024:08:60:00 +0000", "05/Mar/2024:08:00:60 +0000",
                 "05/Mar/2024:08:00 +0000", "05/Xyz/2024:08:00:00 +0000"):  # fmt: skip
        with pytest.raises(BadLine):
            parse(line.format(when))
