"""E-mail reports and alerts, delivered to a real SMTP server on this machine (aiosmtpd):
the numbers in the mail are the API's and a plain count of what the test sent; the
unsubscribe link really unsubscribes; the job sends each period once; a spike alerts."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from footfall.mail.report import ReportPeriod
from footfall.meta.prefs import SitePrefs
from footfall.meta.rights import RightsPrefs
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    handler = Sink()

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = data.login == b"mailer" and data.password == b"s3cret"
        if ok:
            handler.logins.append(data.login.decode())
        return AuthResult(success=ok)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=check,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _text(msg: Message) -> str:
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    return str(part.get_payload(decode=True).decode()).replace("\r\n", "\n")


def _events(period: ReportPeriod) -> list[dict[str, Any]]:
    """The report's week: visitors a, b, c on /a and /b, one Signup; the week before: a."""
    start = datetime.combine(period.first, datetime.min.time(), UTC) + timedelta(hours=10)
    rows = [("a", "/a", 0), ("a", "/b", 0), ("b", "/a", 1), ("c", "/a", 2), ("c", "/b", 3),
            ("a", "/a", -3)]  # fmt: skip
    out = [{"event_type": "pageview", "path": p, "user_agent": UA, "visitor_id": v,
            "url": f"https://m.com{p}", "timestamp": (start + timedelta(days=d)).isoformat()}
           for v, p, d in rows]  # fmt: skip
    out.append({**out[2], "event_type": "Signup"})
    return out


def test_report_mail_matches_the_api_and_unsubscribes(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    settings = make_settings(tmp_path, smtp_url=f"smtp://mailer:s3cret@127.0.0.1:{port}",
                             mail_from="reports@footfall.test", public_url="http://testserver",
                             max_past_days=60)  # fmt: skip
    app = create_app(settings)
    period = ReportPeriod.last_complete("weekly", datetime.now(UTC).date())
    with TestClient(app) as client:
        svc = app.state.services
        site = client.post("/api/site/create", json={"name": "Mail", "domains": ["m.com"]},
                           headers=AUTH).json()  # fmt: skip
        SitePrefs(svc.meta).create_goal(site["site_id"], "Signup", "event", "Signup")
        r = client.post(
            "/api/events", json={"events": _events(period)}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202
        assert svc.writer.wait_idle(15)
        r = client.post("/api/admin/reports/send", json={"site_id": site["site_id"], "to": "ann@example.org"},
                        headers=AUTH)  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["period"] == period.label
        assert len(handler.messages) == 1 and handler.logins == ["mailer"]
        sender, rcpts, msg = handler.messages[0]
        assert sender == "reports@footfall.test" and rcpts == ["ann@example.org"]
        text = _text(msg)
        html = (
            next(p for p in msg.walk() if p.get_content_type() == "text/html")
            .get_payload(decode=True)
            .decode()
        )
        # Plain counts of what was sent: 3 visitors, 5 pageviews; the week before 1 and 1.
        assert "Unique visitors: 3 (+200%)" in text and "Total pageviews: 5 (+400%)" in text
        assert "  /a: 3, 3" in text and "  /b: 2, 2" in text
        assert "  Signup: 1, 33.3%" in text
        api = client.post(
            "/api/v2/query",
            headers=AUTH,
            json={
                "site_id": site["site_id"],
                "metrics": ["visitors", "pageviews", "bounce_rate"],
                "date_range": [period.first.isoformat(), period.last.isoformat()],
            },
        ).json()
        visitors, pageviews, bounce = api["results"][0]["metrics"]
        assert (visitors, pageviews) == (3, 5)
        assert f"Bounce rate: {bounce:g}%" in text
        assert 'data-metric="visitors">3<' in html
        # The link in the mail (and in List-Unsubscribe) really unsubscribes.
        prefs = RightsPrefs(svc.meta)
        prefs.add_recipient(site["site_id"], "ann@example.org", "weekly")
        link = re.search(r"Unsubscribe: (\S+)", text).group(1)
        assert msg["List-Unsubscribe"] == f"<{link}>"
        path = link.removeprefix("http://testserver")
        bad = client.get(path[:-3] + "xyz")
        assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "token"
        assert prefs.recipients(site["site_id"]) != []
        assert client.get(path).status_code == 200
        assert prefs.recipients(site["site_id"]) == []
        assert client.post(path).status_code == 200  # one-click, again: nothing left, no error


def test_the_job_sends_each_period_once_and_alerts_on_a_spike(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    settings = make_settings(
        tmp_path, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="f@footfall.test"
    )
    app = create_app(settings)
    with TestClient(app) as client:
        svc = app.state.services
        site = client.post("/api/site/create", json={"name": "Spiky", "domains": ["s.com"]},
                           headers=AUTH).json()  # fmt: skip
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        burst = [{"event_type": "pageview", "path": "/launch", "user_agent": UA, "visitor_id": f"v{i}",
                  "timestamp": (hour + timedelta(minutes=i)).isoformat()} for i in range(25)]  # fmt: skip
        assert (
            client.post(
                "/api/events", json={"events": burst}, headers={"x-api-key": site["api_key"]}
            ).status_code
            == 202
        )
        assert svc.writer.wait_idle(15)
        prefs = RightsPrefs(svc.meta)
        prefs.add_recipient(site["site_id"], "ops@example.org", "spike")
        prefs.add_recipient(site["site_id"], "boss@example.org", "monthly")
        r = client.post("/api/admin/jobs/reports", headers=AUTH)
        assert r.json()["result"] == {"sent": 2, "failed": 0}
        subjects = {rcpts[0]: msg["Subject"] for _, rcpts, msg in handler.messages}
        assert "traffic spike, 25 pageviews" in subjects["ops@example.org"]
        assert "monthly report" in subjects["boss@example.org"]
        assert client.post("/api/admin/jobs/reports", headers=AUTH).json()["result"] == {
            "sent": 0,
            "failed": 0,
        }


def test_bad_requests_and_the_cli(
    tmp_path: Path, sink: tuple[Sink, int], monkeypatch: Any, capsys: Any
) -> None:
    handler, port = sink
    app = create_app(make_settings(tmp_path))  # no SMTP configured
    with TestClient(app) as client:
        site = client.post(
            "/api/site/create", json={"name": "C", "domains": ["c.com"]}, headers=AUTH
        ).json()
        send = "/api/admin/reports/send"
        r = client.post(
            send, json={"site_id": site["site_id"], "to": "not an address"}, headers=AUTH
        )
        assert r.status_code == 400 and r.json()["details"][0]["field"] == "to"
        r = client.post(
            send, json={"site_id": site["site_id"], "to": "a@b.org", "kind": "daily"}, headers=AUTH
        )
        assert r.status_code == 400 and r.json()["details"][0]["field"] == "kind"
        r = client.post(send, json={"site_id": site["site_id"], "to": "a@b.org"}, headers=AUTH)
        assert r.status_code == 503 and "FOOTFALL_MAIL_FROM" in r.json()["error"]
        assert client.post(
            send, json={"site_id": site["site_id"], "to": "a@b.org"}
        ).status_code in (401, 403)
    monkeypatch.setenv("FOOTFALL_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("FOOTFALL_MAIL_FROM", "cli@footfall.test")
    data = ["--data-dir", str(tmp_path / "data")]
    assert (
        main(
            [
                "reports",
                "subscribe",
                "--site",
                site["site_id"],
                "--to",
                "x@y.org",
                "--kind",
                "spike",
                *data,
            ]
        )
        == 0
    )
    assert main(["reports", "list", *data]) == 0
    assert "x@y.org\tspike" in capsys.readouterr().out
    assert main(["reports", "send", "--site", site["site_id"], "--to", "x@y.org", *data]) == 0
    assert handler.messages[-1][1] == ["x@y.org"]
    assert main(["reports", "subscribe", "--site", site["site_id"], "--to", "nope", *data]) == 2
