"""What ``footfall serve`` checks before it starts, and the data directory's lock file.

Granian binds with SO_REUSEPORT, so a second server on a port already in use would start
anyway and silently take part of the traffic into its own data directory: the port is
therefore tried first without that option. The lock file (``footfall.lock``, held with
``flock`` for the life of the process) keeps two footfall processes that use the event
store (a server, or ``footfall jobs run`` working on the store itself) off one data
directory, and tells other commands the URL of the server holding it. Every failure is
a :class:`PreflightError` whose text is the one line the user sees.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

LOCK_FILE = "footfall.lock"


class PreflightError(Exception):
    """Something keeps the command from starting; the message says what, in one line."""


def connect_url(host: str, port: int) -> str:
    """The URL a client on this machine reaches a server listening on ``host:port`` at."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - the wildcard is answered on loopback too
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_port(host: str, port: int) -> None:
    """Raise unless ``host:port`` can be listened on by this process alone."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise PreflightError(f"cannot listen on {host!r}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as sock:
        # SO_REUSEADDR only lets a restart reuse a port whose old connections linger;
        # without SO_REUSEPORT the bind fails while anything listens there.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise PreflightError(_bind_problem(host, port, exc)) from None


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use by {_who_listens(host, port)}; "
            "choose another with --port or FOOTFALL_PORT"
        )
    if exc.errno == errno.EACCES:
        return f"port {port} on {host} needs privileges this user lacks (ports below 1024 do)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: no network interface of this machine has that address"
    return f"cannot listen on port {port} on {host}: {exc.strerror}"


def _who_listens(host: str, port: int) -> str:
    """``another footfall server`` when a footfall health endpoint answers there."""
    try:
        with urllib.request.urlopen(connect_url(host, port) + "/api/health", timeout=2) as r:  # noqa: S310
            body = json.loads(r.read())
    except Exception:  # anything but footfall's health answer: another program
        return "another program"
    if isinstance(body, dict) and "version" in body and "queue" in body:
        return f"another footfall server (version {body['version']})"
    return "another program"


class DataDirLock:
    """The data directory's lock file, held while this process uses the directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    def acquire(self, command: str, url: str = "") -> None:
        """Create the directory if needed and lock it, or raise saying who holds it."""
        where = self.data_dir
        try:
            where.mkdir(parents=True, exist_ok=True)
            fd = os.open(where / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise PreflightError(f"data directory {where} cannot be used: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PreflightError(
                f"data directory {where} is in use by another footfall process"
                f"{_describe(holder(where))}; stop it or choose another with --data-dir"
            ) from None
        info = {"pid": os.getpid(), "command": command, "url": url}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
            if not os.access(where, os.W_OK):
                raise PermissionError(errno.EACCES, "Permission denied")
        except OSError as exc:
            os.close(fd)
            raise PreflightError(
                f"data directory {where} is not writable: {exc.strerror}"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def lock_or_say(data_dir: Path, command: str) -> DataDirLock | None:
    """``data_dir`` locked for ``command``; None, with the one-line reason printed, when
    another process holds it or it cannot be used (the command then exits with 3)."""
    lock = DataDirLock(data_dir)
    try:
        lock.acquire(command)
    except PreflightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return lock


def holder(data_dir: Path) -> dict[str, Any] | None:
    """What the process holding ``data_dir``'s lock wrote there; None when none holds it."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(os.read(fd, 4096))
                if isinstance(info, dict):
                    return info
            return {}
        return None
    finally:
        os.close(fd)


def _describe(info: dict[str, Any] | None) -> str:
    if not info:
        return ""
    parts = [f"footfall {info.get('command', '?')}", f"pid {info.get('pid', '?')}"]
    if info.get("url"):
        parts.append(str(info["url"]))
    return " (" + ", ".join(parts) + ")"


def check_store_free(store_path: Path) -> None:
    """Raise when another process has the DuckDB file open for writing.

    DuckDB locks its file with POSIX record locks; trying one here (and dropping it at
    once) finds a holder that is not a footfall server, such as a DuckDB shell.
    """
    try:
        fd = os.open(store_path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PreflightError(f"event store {store_path} cannot be opened: {exc.strerror}") from None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise PreflightError(
            f"event store {store_path} is open in another process; stop it first"
        ) from None
    finally:
        os.close(fd)
