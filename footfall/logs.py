"""Log output: one JSON object a line (``FOOTFALL_LOG_FORMAT=json``) or plain text.

The default (empty) is text when standard error is a terminal, JSON otherwise, so a
person at a terminal reads lines and a log collector parses them. Every ``footfall.*``
logger writes through the one handler :func:`configure` installs; Granian's own loggers
get the same formatter (:func:`granian_config`). A JSON line holds ``ts``, ``level``,
``logger``, ``msg``, the record's ``fields`` (``extra={"fields": {...}}``: a request's
method, route, status, duration and id; a writer round's figures) and, for an error, its
traceback as one string in ``exc``, so a traceback never spreads over several lines.

What goes in is chosen by the callers, never taken from a request wholesale: no client
IP, no query string, no header other than the request id (docs/design.md, privacy).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import msgspec

FORMATS = ("json", "text")
_encode = msgspec.json.Encoder().encode
_HANDLER_NAME = "footfall"
# JSON lines are in force (configure): the per-request line may skip the logging module.
_json = False
_second: tuple[int, str] = (-1, "")


def resolve(log_format: str) -> str:
    """The format in force: the setting, or text on a terminal and JSON elsewhere."""
    if log_format:
        return log_format
    return "text" if sys.stderr.isatty() else "json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return _encode(line).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            # After the message, before a traceback (which the base class appended).
            head, sep, tail = text.partition("\n")
            pairs = " ".join(f"{k}={v}" for k, v in fields.items())
            text = f"{head} {pairs}{sep}{tail}"
        return text


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property  # type: ignore[override, unused-ignore]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if resolve(log_format) == "json" else TextFormatter()


def _stamp(created: float) -> str:
    """``created`` as RFC 3339 UTC with milliseconds; the seconds part is formatted once
    per second (strftime and gmtime cost more than the rest of a request's line)."""
    global _second
    whole = int(created)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return "%s.%03dZ" % (_second[1], int(created * 1000) % 1000)  # noqa: UP031 - cheaper


def fast_info(logger: logging.Logger, msg: str, fields: dict[str, Any]) -> None:
    """``logger.info(msg, extra={"fields": fields})``, written straight as one JSON line
    when nothing but this module's handler would see the record (JSON format, no handler
    on the root logger): a log record costs 20-90 µs on this machine, the line itself 4
    (bench/request_log.py), and the request path's own work is ~21 µs."""
    if not logger.isEnabledFor(logging.INFO):
        return
    if _json and not logging.root.handlers:
        line = {"ts": _stamp(time.time()), "level": "info", "logger": logger.name,
                "msg": msg, **fields}  # fmt: skip
        sys.stderr.write(_encode(line).decode() + "\n")
        return
    logger.info(msg, extra={"fields": fields})


def configure(log_format: str, level: str) -> None:
    """Send ``footfall.*`` records at ``level`` and above to standard error in the chosen
    format (idempotent: a second call replaces the first's handler)."""
    global _json
    _json = resolve(log_format) == "json"
    logger = logging.getLogger("footfall")
    for h in list(logger.handlers):
        if h.get_name() == _HANDLER_NAME:
            logger.removeHandler(h)
    handler = _Stderr()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(log_format))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    # Records still reach the root logger's handlers (pytest's capture, an embedding
    # application's); the server's root has none, so nothing is written twice.


def granian_config(log_format: str) -> dict[str, Any]:
    """Granian's logging configuration with its lines in the same format as ours."""
    cls = "footfall.logs.JsonFormatter" if resolve(log_format) == "json" else None
    if cls is None:
        return {}
    return {"formatters": {"generic": {"()": cls}, "access": {"()": cls}}}
