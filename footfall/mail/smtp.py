"""Sending mail through the operator's SMTP server, with the standard library's smtplib.

``FOOTFALL_SMTP_URL`` is ``smtp://[user:password@]host[:port][?starttls=true]`` (port 25
by default, 587 is usual with STARTTLS) or ``smtps://...`` (TLS from the start, port 465).
User and password may be percent-encoded. The password is never logged.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

TIMEOUT = 30.0


class MailError(Exception):
    """Mail cannot be sent: not configured, or the server refused it."""


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    tls: bool = False  # smtps://

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        if not url:
            raise MailError("FOOTFALL_SMTP_URL is not set: no mail can be sent")
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailError("FOOTFALL_SMTP_URL must look like smtp://user:password@host:587")
        flags = parse_qs(parts.query)
        starttls = flags.get("starttls", ["false"])[0].lower() in ("1", "true", "yes", "on")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 587 if starttls else 25),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            starttls=starttls,
            tls=tls,
        )


def send(target: SmtpTarget, message: EmailMessage) -> None:
    """Deliver ``message`` to its To address; MailError when the server refuses it."""
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if target.tls:
            smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=TIMEOUT)
        with smtp:
            if target.starttls:
                smtp.starttls(context=context)
            if target.username:
                smtp.login(target.username, target.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The exception's text may name the server, never the password (not in it).
        raise MailError(f"the SMTP server {target.host}:{target.port} refused: {exc}") from None
