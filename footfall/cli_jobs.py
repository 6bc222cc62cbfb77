"""``footfall jobs run`` helpers: asking the running server, and showing progress.

A job may take minutes (a first rollup build over a large store), so nothing here times
out; instead a line on standard error says every few seconds that it is still running.
The job's JSON result alone goes to standard output.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

# How often "still running" is printed while a job runs.
TICK_SECONDS = 5.0


@contextmanager
def progress(what: str) -> Iterator[None]:
    """Say on standard error that ``what`` started, is still running, and took how long."""
    print(f"{what} …", file=sys.stderr, flush=True)
    started = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(TICK_SECONDS):
            elapsed = time.monotonic() - started
            print(f"  still running after {elapsed:.0f} s", file=sys.stderr, flush=True)

    ticker = threading.Thread(target=tick, name="footfall-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
    print(f"  done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


def ask_server(url: str, token: str, job: str) -> int:
    """Run ``job`` in the server at ``url``; print its result. Returns the exit code."""
    if not token:
        print(
            f"error: the store is held by a running `footfall serve` ({url}); set "
            "FOOTFALL_ADMIN_TOKEN (the same value the server has) so this command can ask "
            "it, or stop the server.",
            file=sys.stderr,
        )
        return 3
    req = urllib.request.Request(  # noqa: S310 - the operator's own server URL
        f"{url.rstrip('/')}/api/admin/jobs/{job}",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        # No time-out: the server answers when the job is done, however long.
        with (
            progress(f"running {job} in the server at {url}"),
            urllib.request.urlopen(req, timeout=None) as resp,  # noqa: S310
        ):
            print(resp.read().decode())
    except urllib.error.HTTPError as exc:
        print(f"error: the server at {url} answered {exc.code}: {_message(exc)}", file=sys.stderr)
        return 3
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"error: could not reach the server at {url}: {reason}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted; the server finishes the job by itself", file=sys.stderr)
        return 130
    return 0


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        return str(exc.reason)
    if exc.code in (401, 403):
        return "the admin token was refused (FOOTFALL_ADMIN_TOKEN must be the server's)"
    return str(body.get("error", exc.reason)) if isinstance(body, dict) else str(exc.reason)
