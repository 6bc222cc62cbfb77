"""Web server access-log lines read into :class:`Hit` tuples, and the rules for which are pages.

Formats (``--format``):

- ``combined`` (default) and ``nginx``: the NCSA combined format, nginx's default
  ``log_format combined`` (``$remote_addr - $remote_user [$time_local] "$request" $status
  $body_bytes_sent "$http_referer" "$http_user_agent"``); fields nginx configurations
  often append after the user agent are ignored;
- ``apache``: the same, optionally preceded by ``%v:%p`` (Apache's ``vhost_combined``),
  whose host then names the page's host;
- ``caddy-json``: Caddy's JSON access log (one object a line: ``request.client_ip`` or
  ``remote_ip``, ``method``, ``host``, ``uri``, ``headers``; ``status``, ``ts`` and
  ``resp_headers``).

Which hits are pageviews (:func:`page_verdict`, documented in the README): GET requests
only; status 200-299 only (redirects, 304 revalidations, errors are skipped); paths whose
last segment has a file extension other than a page's (``.html``, ``.php``…) are static
assets or other non-HTML files; so are ``/.well-known/`` paths; when the log names the
response's Content-Type (Caddy) it must be HTML. Bots are judged by the same rules as live
collection (:func:`footfall.ingest.bots.is_bot`, an empty user agent included).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import NamedTuple

import msgspec

FORMATS = ("combined", "nginx", "apache", "caddy-json")


class Hit(NamedTuple):
    """One request of the log, as far as a pageview needs it."""

    ip: str
    ts_ms: int  # epoch milliseconds, UTC
    method: str
    target: str  # path and query as requested
    status: int
    referrer: str
    user_agent: str
    host: str  # "" when the log does not say
    content_type: str  # "" when the log does not say


# Extensions of server-rendered pages; any other extension is a file, not a page.
PAGE_EXTENSIONS = frozenset(
    {
        "html",
        "htm",
        "xhtml",
        "shtml",
        "php",
        "php3",
        "asp",
        "aspx",
        "jsp",
        "jspx",
        "cfm",
        "cgi",
        "pl",
    }
)

# Unrolled ("normal* (special normal*)*"): a per-character alternation costs 5x more.
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_COMBINED = re.compile(
    r'(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) \S+ ' + _QUOTED + " " + _QUOTED
)
_VHOST_COMBINED = re.compile(r"(\S+?)(?::\d+)? (\S+ \S+ \S+ \[.*)")
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class BadLine(ValueError):
    """The line is not in the expected format."""


def page_verdict(method: str, target: str, status: int, content_type: str) -> str | None:
    """None when the hit is a pageview, else why it is skipped: ``method``, ``status``,
    ``asset`` or ``not_html``."""
    if method != "GET":
        return "method"
    if not 200 <= status <= 299:
        return "status"
    if content_type and not content_type.startswith(("text/html", "application/xhtml")):
        return "not_html"
    path = target.partition("?")[0]
    if path.startswith("/.well-known/"):
        return "asset"
    last = path.rpartition("/")[2]
    if "." in last and last.rpartition(".")[2].lower() not in PAGE_EXTENSIONS:
        return "asset"
    return None


class ClfTime:
    """``10/Oct/2000:13:55:36 -0700`` to epoch milliseconds, memoised per minute and zone:
    a log repeats each minute's text many times, and each day's and zone's part far more."""

    def __init__(self) -> None:
        self._memo: dict[str, int] = {}  # "10/Oct/2000:13:55 -0700" -> the minute's ms
        self._days: dict[str, int] = {}  # "10/Oct/2000" -> days since 1970-01-01
        self._zones: dict[str, int] = {}  # "-0700" -> seconds east of UTC

    def __call__(self, text: str) -> int:
        minute = self._memo.get(text[:17] + text[20:])
        try:
            ss = int(text[18:20])
            if minute is None:
                minute = self._minute(text)
        except (KeyError, ValueError, IndexError):
            raise BadLine(f"unreadable time {text!r}") from None
        # What datetime() refuses (:60) would roll over into the next minute.
        if not 0 <= ss < 60:
            raise BadLine(f"unreadable time {text!r}")
        return minute + ss * 1000

    def _minute(self, text: str) -> int:
        day = self._days.get(text[0:11])
        if day is None:
            day = self._day(text[0:11])
        offset = self._zones.get(text[21:26])
        if offset is None:
            offset = self._zone(text[21:26])
        hh, mm = int(text[12:14]), int(text[15:17])
        # What datetime() refuses (25:00) would roll over into the next day.
        if not (0 <= hh < 24 and 0 <= mm < 60):
            raise ValueError
        if len(self._memo) > 100_000:
            self._memo.clear()
        ms = (day * 86_400 + hh * 3600 + mm * 60 - offset) * 1000
        self._memo[text[:17] + text[20:]] = ms
        return ms

    def _day(self, text: str) -> int:
        # date() refuses what timegm would roll over (31/Feb).
        when = date(int(text[7:11]), _MONTHS[text[3:6]], int(text[0:2]))
        day = self._days[text] = when.toordinal() - _EPOCH_ORDINAL
        return day

    def _zone(self, text: str) -> int:
        sign = -1 if text[0] == "-" else 1
        offset = self._zones[text] = sign * (int(text[1:3]) * 3600 + int(text[3:5]) * 60)
        return offset


def _unescape(text: str) -> str:
    # nginx and Apache escape quotes and backslashes inside quoted fields.
    return text.replace('\\"', '"').replace("\\\\", "\\") if "\\" in text else text


def combined_parser() -> Callable[[str], Hit]:
    clf_time, match = ClfTime(), _COMBINED.match

    def parse(line: str) -> Hit:
        m = match(line)
        if m is None:
            raise BadLine("not a combined log line")
        ip, when, method, target, status, ref, ua = m.groups()
        return Hit(
            ip,
            clf_time(when),
            method,
            target,
            int(status),
            "" if ref == "-" else _unescape(ref),
            "" if ua == "-" else _unescape(ua),
            "",
            "",
        )

    return parse


def apache_parser() -> Callable[[str], Hit]:
    """Combined lines, or ``vhost_combined`` ones whose first field names the host."""
    combined = combined_parser()

    def parse(line: str) -> Hit:
        try:
            return combined(line)
        except BadLine:
            m = _VHOST_COMBINED.match(line)
            if m is None:
                raise
            return combined(m.group(2))._replace(host=m.group(1).lower())

    return parse


def _header(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name)
    if values is None:  # header names as sent; Caddy keeps their case
        for key, found in headers.items():
            if key.lower() == name.lower():
                values = found
                break
    return values[0] if values else ""


def _caddy_ts(value: object) -> int:
    if isinstance(value, int | float):
        return int(value * 1000)
    if isinstance(value, str):  # time_format iso8601 / rfc3339
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    raise BadLine("unreadable ts")


class _CaddyRequest(msgspec.Struct):
    method: str = ""
    uri: str = ""
    host: str = ""
    client_ip: str = ""
    remote_ip: str = ""
    remote_addr: str = ""  # Caddy before 2.5: "ip:port"
    headers: dict[str, list[str]] = {}


class _CaddyEntry(msgspec.Struct):
    request: _CaddyRequest
    ts: float | str = 0
    status: int = 0
    resp_headers: dict[str, list[str]] = {}


def caddy_parser() -> Callable[[str], Hit]:
    decode = msgspec.json.Decoder(_CaddyEntry).decode

    def parse(line: str) -> Hit:
        try:
            entry = decode(line)
        except msgspec.DecodeError:
            raise BadLine("not a Caddy access-log object") from None
        r = entry.request
        ip = r.client_ip or r.remote_ip or r.remote_addr.rpartition(":")[0].strip("[]")
        host = r.host.rpartition(":")[0] if r.host.count(":") == 1 else r.host
        return Hit(
            ip,
            _caddy_ts(entry.ts),
            r.method,
            r.uri or "/",
            entry.status,
            _header(r.headers, "Referer"),
            _header(r.headers, "User-Agent"),
            host.lower(),
            _header(entry.resp_headers, "Content-Type").lower(),
        )

    return parse


def parser_for(fmt: str) -> Callable[[str], Hit]:
    """A parser of one line (without its newline) of format ``fmt``; raises BadLine."""
    if fmt in ("combined", "nginx"):
        return combined_parser()
    if fmt == "apache":
        return apache_parser()
    if fmt == "caddy-json":
        return caddy_parser()
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
