"""Asking a running ``footfall serve`` over its admin API, for the commands that need the
event store it holds (``footfall privacy delete|export``, ``footfall reports send``), and
the exit those commands share for a refused value or an unknown site.

The embedded store opens in one process only, so a command finds the server holding the
data directory (its lock file, :mod:`footfall.cli_preflight`) and sends it the request
with ``FOOTFALL_ADMIN_TOKEN``; the answer's body goes to standard output as it arrives.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from footfall.cli_preflight import connect_url, holder
from footfall.config import Settings
from footfall.meta.values import MetaValidationError, SiteNotFoundError


def server_url(settings: Settings, given: str | None) -> str | None:
    """The URL of the server to ask: ``--url``, or the one holding the data directory;
    None when no server holds it (the command opens the store itself)."""
    server = holder(settings.data_dir)
    if given:
        return given
    if server is not None and server.get("command") == "serve":
        return str(server.get("url") or connect_url(settings.host, settings.port))
    return None


def refused(exc: MetaValidationError | SiteNotFoundError, site_id: str) -> int:
    """Say which value the metadata refused (or that the site is unknown); exit code 2."""
    if isinstance(exc, SiteNotFoundError):
        print(f"error: site: no site {site_id!r}", file=sys.stderr)
    else:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
    return 2


def ask(url: str, token: str, method: str, path: str, body: bytes | None = None) -> int:
    """Send one admin request; print the answer; the command's exit code."""
    if not token:
        print(f"error: the store is held by a running `footfall serve` ({url}); set "
              "FOOTFALL_ADMIN_TOKEN (the server's) so this command can ask it, or stop the "
              "server.", file=sys.stderr)  # fmt: skip
        return 3
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(  # noqa: S310 - the operator's own server URL
        f"{url.rstrip('/')}{path}", data=body, method=method, headers=headers
    )
    last = b"\n"
    try:
        # No time-out: a large delete or export takes as long as it takes.
        with urllib.request.urlopen(req, timeout=None) as resp:  # noqa: S310
            while chunk := resp.read(1 << 16):
                sys.stdout.buffer.write(chunk)
                last = chunk[-1:]
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        print(f"error: the server at {url} answered {exc.code}: {text}", file=sys.stderr)
        return 3
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"error: could not reach the server at {url}: {reason}", file=sys.stderr)
        return 3
    if last != b"\n":  # a JSON answer ends without one; the shell prompt should not
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    return 0
