"""Mails as ``EmailMessage``s: a text part and an HTML part from the templates beside
this module (Jinja2, HTML autoescaped), with ``List-Unsubscribe`` headers (RFC 2369 and
RFC 8058's one-click POST) pointing at the same signed link the body shows."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from footfall.mail.report import Report

_ENV = Environment(
    loader=PackageLoader("footfall.mail", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,  # a line holding only a {% tag %} leaves no empty line
    lstrip_blocks=True,
)

# A signed link is one long word: the default policy would encode it (RFC 2047) to fold
# it at 78 characters, which mail readers do not undo in List-Unsubscribe; SMTP allows 998.
_POLICY = policy.SMTP.clone(max_line_length=998)


def _message(
    sender: str, to: str, subject: str, template: str, unsubscribe: str, **context: Any
) -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    values = {"to": to, "unsubscribe": unsubscribe, **context}
    msg.set_content(_ENV.get_template(f"{template}.txt").render(values))
    msg.add_alternative(_ENV.get_template(f"{template}.html").render(values), subtype="html")
    return msg


def report_mail(
    report: Report, sender: str, to: str, unsubscribe: str, dashboard: str
) -> EmailMessage:
    p = report.period
    subject = f"{report.site.name}: {p.kind} report, {p.first.isoformat()} to {p.last.isoformat()}"
    return _message(sender, to, subject, "report", unsubscribe, report=report,
                    site=report.site, period=p, dashboard=dashboard)  # fmt: skip


def spike_mail(
    site: Any, sender: str, to: str, unsubscribe: str, dashboard: str, *, now_views: int,
    usual: float, at: str,
) -> EmailMessage:  # fmt: skip
    subject = f"{site.name}: traffic spike, {now_views:,} pageviews in an hour"
    return _message(sender, to, subject, "spike", unsubscribe, site=site, dashboard=dashboard,
                    now_views=now_views, usual=usual, at=at)  # fmt: skip
