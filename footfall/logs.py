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


def resolve(log_format: str) -> str:
    """The format in force: the setting, or text on a terminal and JSON elsewhere."""
    if log_format:
        return log_format
    return "text" if sys.stderr.isatty() else "json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
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

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if resolve(log_format) == "json" else TextFormatter()


def configure(log_format: str, level: str) -> None:
    """Send ``footfall.*`` records at ``level`` and above to standard error in the chosen
    format (idempotent: a second call replaces the first's handler)."""
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
