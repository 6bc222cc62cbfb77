"""``footfall`` command line: serve, worker, queue, sites, tokens, users, jobs, migrate, config.

Metadata commands write SQLite/PostgreSQL directly (safe beside a running server, which
re-reads keys within seconds). Commands that need the event store while ``serve`` holds
it ask the running server over its admin API (found through the data directory's lock
file, see :mod:`footfall.cli_preflight`), or say clearly that they cannot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from footfall import __version__

if TYPE_CHECKING:
    from footfall.config import Settings
    from footfall.meta.repo import Metadata

# What each command needs is imported when it runs, not when the parser is built: the
# metadata store alone (SQLAlchemy) would cost every ``footfall --help`` a good part of a
# second. The commands other modules register: footfall/cli_elsewhere.py.


def _settings(args: argparse.Namespace | None = None, **overrides: Any) -> Settings:
    from footfall.config import Settings, SettingsError

    data_dir = getattr(args, "data_dir", None)
    try:
        return Settings.from_env(data_dir=data_dir, **overrides)
    except SettingsError as exc:
        sys.exit(f"footfall: configuration error: {exc}")


def _meta(settings: Settings) -> Metadata:
    from footfall.meta.repo import Metadata

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    meta = Metadata(settings.metadata_url)
    meta.migrate()
    return meta


def cmd_serve(args: argparse.Namespace) -> int:
    from footfall.cli_preflight import (
        DataDirLock,
        PreflightError,
        check_port,
        check_store_free,
        connect_url,
    )
    from footfall.worker import command as worker_command

    settings = _settings(args, host=args.host, port=args.port)
    # Refused here, in one line each, rather than by a worker's traceback (or not at all:
    # Granian's SO_REUSEPORT would share a busy port with another server).
    lock = DataDirLock(settings.data_dir)
    try:
        check_port(settings.host, settings.port)
        lock.acquire("serve", connect_url(settings.host, settings.port))
        check_store_free(settings.store_path)
        if problem := worker_command.serve_shape_problem(settings):
            raise PreflightError(problem)
    except PreflightError as exc:
        lock.release()
        sys.exit(f"error: {exc}")
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from footfall import memory
    from footfall.logs import granian_config as granian_logs

    # glibc's arena cap (footfall/memory.py), here before Granian starts its threads and
    # forks the worker: the worker's own threads start before the app factory can set it,
    # and each took an arena (a 10M-event load peaked at 1,008-1,014 MiB against 932 with
    # the cap from the start). The variable covers a worker started afresh rather than forked.
    memory.limit_arenas()
    os.environ.setdefault("MALLOC_ARENA_MAX", str(memory.ARENAS))

    # The app factory reads Settings from the environment in the worker process.
    os.environ["FOOTFALL_HOST"], os.environ["FOOTFALL_PORT"] = settings.host, str(settings.port)
    os.environ["FOOTFALL_DATA_DIR"] = str(settings.data_dir)
    print(
        f"footfall serving on http://{settings.host}:{settings.port} (data in {settings.data_dir})",
        flush=True,
    )
    Granian(
        "footfall.app:app_factory",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=1,
        # "auto" runs uvloop (a dependency except on Windows): +30% single events
        # measured here against asyncio's loop; RSGI instead of ASGI measured no gain.
        loop=Loops.auto,
        log_access=False,  # access logs would print client IPs
        log_level=settings.log_level,  # type: ignore[arg-type]
        log_dictconfig=granian_logs(settings.log_format) or None,  # footfall/logs.py
        # Granian can leave a worker hung in its signal handler when Ctrl-C lands while
        # the loop is busy (emmett-framework/granian#875): Ctrl-C would then never return.
        # A worker not stopped by then is killed; the spool keeps everything acknowledged.
        workers_kill_timeout=settings.shutdown_timeout_seconds or None,
    ).serve()
    lock.release()
    return 0


def cmd_sites_create(args: argparse.Namespace) -> int:
    from footfall.meta.values import MetaValidationError

    meta = _meta(_settings(args))
    try:
        site, key = meta.create_site(args.name, args.domain, args.timezone)
    except MetaValidationError as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    print(f"site_id: {site.id}\nsite_uuid: {site.public_uuid}\napi_key: {key}")
    print("(the key is shown once; it can only write events)")
    return 0


def cmd_sites_list(args: argparse.Namespace) -> int:
    for site in _meta(_settings(args)).list_sites():
        domains = ",".join(site.domains)
        print(f"{site.id}\t{site.name}\t{domains}\t{site.timezone}\t{site.public_uuid}")
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    meta = _meta(_settings(args))
    if meta.get_site(args.site) is None:
        print(f"error: site: no site {args.site!r}", file=sys.stderr)
        return 2
    print(
        f"token: {meta.create_read_token(args.site)}\n(read access to {args.site} only; shown once)"
    )
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from footfall.cli_jobs import ask_server, progress
    from footfall.cli_preflight import holder, lock_or_say
    from footfall.jobs.retention import run_retention, site_retention, table_retention
    from footfall.jobs.rollups import run_rollups
    from footfall.store import open_store

    server = holder(settings.data_dir)
    if args.url or (server is not None and server.get("command") == "serve"):
        url = args.url or str(server.get("url") if server else "")
        return ask_server(url or _default_url(settings), settings.admin_token, args.name)
    lock = lock_or_say(settings.data_dir, f"jobs run {args.name}")
    if lock is None:
        return 3
    try:
        store = open_store(settings)
    except Exception as exc:
        # The store is held by a running server (one process per embedded store).
        if "lock" not in str(exc).lower():
            raise
        lock.release()
        # A server that does not write the lock file holds the store.
        return ask_server(_default_url(settings), settings.admin_token, args.name)
    try:
        meta = _meta(settings)
        with progress(f"running {args.name} on {settings.data_dir}"):
            try:
                if args.name == "rollups":
                    result = run_rollups(store, meta)
                else:
                    days = site_retention(meta)
                    result = run_retention(store, settings.retention_days, site_days=days,
                                           tables=table_retention(meta))  # fmt: skip
            finally:
                meta.close()
        print(json.dumps(result))
    finally:
        store.close()
        lock.release()
    return 0


def _default_url(settings: Settings) -> str:
    from footfall.cli_preflight import connect_url

    return connect_url(settings.host, settings.port)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the metadata and event-store migrations (idempotent; serve does it too)."""
    from footfall.cli_preflight import lock_or_say
    from footfall.store import open_store

    settings = _settings(args)
    lock = lock_or_say(settings.data_dir, "migrate")
    if lock is None:
        return 3
    meta = _meta(settings)
    meta.migrate()
    meta.close()
    store = open_store(settings, migrate=False)
    try:
        applied = store.migrate()
        health = store.health()
    finally:
        store.close()
        lock.release()
    versions = ", ".join(map(str, applied)) or "none pending"
    print(f"metadata: up to date; event store ({health['backend']}): {versions}")
    return 0


def cmd_config_docs(args: argparse.Namespace) -> int:
    from footfall.config import docs_table

    print(docs_table())
    return 0


def parser(commands_only: bool = False) -> argparse.ArgumentParser:
    """The command line's parser; ``commands_only``: the commands other modules register
    by name and help only (``cli_elsewhere.COMMANDS``), enough for the command list."""
    p = argparse.ArgumentParser(prog="footfall", description="Privacy-friendly website analytics.")
    p.add_argument("--version", action="version", version=f"footfall {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Every command reads the data directory; --data-dir wins over FOOTFALL_DATA_DIR.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", type=Path, metavar="DIR",
        help="directory holding all state (FOOTFALL_DATA_DIR; default footfall-data)",
    )  # fmt: skip

    serve = sub.add_parser(
        "serve", parents=[common], help="run the server (API, queue, writer, jobs)",
        description="Run the HTTP server with its spool, writer and scheduled jobs.",
    )  # fmt: skip
    serve.add_argument("--host", help="listen address (FOOTFALL_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (FOOTFALL_PORT; default 8000)")
    serve.set_defaults(func=cmd_serve)

    sites = sub.add_parser("sites", help="manage sites").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = sites.add_parser(
        "create", parents=[common], help="create a site and print its ingest key"
    )
    create.add_argument("name", help="display name; the site id is made from it")
    create.add_argument(
        "--domain", action="append", required=True,
        help="a domain the site's pages are served from (repeat for several)",
    )  # fmt: skip
    create.add_argument(
        "--timezone", default="UTC", help="IANA time zone the site's days are counted in"
    )
    create.set_defaults(func=cmd_sites_create)
    sites.add_parser("list", parents=[common], help="list sites").set_defaults(func=cmd_sites_list)

    tokens = sub.add_parser("tokens", help="read tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    tcreate = tokens.add_parser("create", parents=[common], help="create a read token for one site")
    tcreate.add_argument("--site", required=True, help="id of the site the token may read")
    tcreate.set_defaults(func=cmd_tokens_create)

    jobs = sub.add_parser("jobs", help="maintenance jobs").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    run = jobs.add_parser(
        "run", parents=[common], help="run a job now (in the running server if there is one)"
    )
    run.add_argument("name", choices=["retention", "rollups"], help="the job to run")
    run.add_argument(
        "--url",
        help="URL of the running server to ask (default: the one holding the data directory)",
    )
    run.set_defaults(func=cmd_jobs_run)

    from footfall import cli_elsewhere

    cli_elsewhere.add_parsers(sub, common, _settings, _meta, commands_only)

    sub.add_parser(
        "migrate", parents=[common],
        help="apply metadata and event-store schema migrations (serve does it too)",
    ).set_defaults(func=cmd_migrate)  # fmt: skip

    config = sub.add_parser("config", help="configuration").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    config.add_parser("docs", help="print the configuration table").set_defaults(
        func=cmd_config_docs
    )
    return p


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    # No command named (--help, --version, nothing), or one of this module's own: the
    # other modules' commands by name are all it needs. ``serve`` stays the supervisor of
    # the process that runs the app: loading SQLAlchemy and the rest there would only
    # hold ~20 MiB more for the server's whole life.
    from footfall.cli_elsewhere import COMMANDS

    named = next((a for a in given if not a.startswith("-")), None)
    args = parser(commands_only=named not in COMMANDS).parse_args(argv)
    try:
        result: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`footfall config docs | head`): nothing went wrong
        # here, so no traceback; stdout goes to /dev/null for the interpreter's own flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
