"""``footfall`` command line: serve, sites, tokens, users, jobs, config.

Metadata commands write SQLite/PostgreSQL directly (safe beside a running server, which
re-reads keys within seconds). Commands that need the DuckDB store while ``serve`` holds
it ask the running server over its admin API, or say clearly that they cannot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from footfall.config import Settings, SettingsError, docs_table
from footfall.meta.repo import Metadata
from footfall.meta.values import MetaValidationError


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        sys.exit(f"footfall: configuration error: {exc}")


def _meta(settings: Settings) -> Metadata:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    meta = Metadata(settings.metadata_url)
    meta.migrate()
    return meta


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(host=args.host, port=args.port)
    from granian import Granian
    from granian.constants import Interfaces, Loops

    # The app factory reads Settings from the environment in the worker process.
    os.environ["FOOTFALL_HOST"], os.environ["FOOTFALL_PORT"] = settings.host, str(settings.port)
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
        # Granian can leave a worker hung in its signal handler when Ctrl-C lands while
        # the loop is busy (emmett-framework/granian#875): Ctrl-C would then never return.
        # A worker not stopped by then is killed; the spool keeps everything acknowledged.
        workers_kill_timeout=settings.shutdown_timeout_seconds or None,
    ).serve()
    return 0


def cmd_sites_create(args: argparse.Namespace) -> int:
    meta = _meta(_settings())
    try:
        site, key = meta.create_site(args.name, args.domain, args.timezone)
    except MetaValidationError as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    print(f"site_id: {site.id}\nsite_uuid: {site.public_uuid}\napi_key: {key}")
    print("(the key is shown once; it can only write events)")
    return 0


def cmd_sites_list(args: argparse.Namespace) -> int:
    for site in _meta(_settings()).list_sites():
        domains = ",".join(site.domains)
        print(f"{site.id}\t{site.name}\t{domains}\t{site.timezone}\t{site.public_uuid}")
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    meta = _meta(_settings())
    if meta.get_site(args.site) is None:
        print(f"error: site: no site {args.site!r}", file=sys.stderr)
        return 2
    print(
        f"token: {meta.create_read_token(args.site)}\n(read access to {args.site} only; shown once)"
    )
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    settings = _settings()
    from footfall.jobs.retention import run_retention, site_retention
    from footfall.jobs.rollups import run_rollups
    from footfall.store import open_store

    if args.name not in ("retention", "rollups"):
        print(f"error: unknown job {args.name!r} (known: retention, rollups)", file=sys.stderr)
        return 2
    try:
        store = open_store(settings)
    except Exception as exc:
        # The store is held by a running server (one process per embedded store).
        if "lock" not in str(exc).lower():
            raise
        return _ask_server(settings, f"/api/admin/jobs/{args.name}")
    try:
        meta = _meta(settings)
        try:
            if args.name == "rollups":
                print(json.dumps(run_rollups(store, meta)))
                return 0
            days = site_retention(meta)
        finally:
            meta.close()
        print(json.dumps(run_retention(store, settings.retention_days, site_days=days)))
    finally:
        store.close()
    return 0


def _ask_server(settings: Settings, path: str) -> int:
    if not settings.admin_token:
        print(
            "error: the store is held by a running `footfall serve`; set FOOTFALL_ADMIN_TOKEN "
            "(the same value the server has) so this command can ask it, or stop the server.",
            file=sys.stderr,
        )
        return 3
    req = urllib.request.Request(
        f"http://{settings.host}:{settings.port}{path}",
        method="POST",
        headers={"Authorization": f"Bearer {settings.admin_token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:  # noqa: S310
            print(resp.read().decode())
    except urllib.error.URLError as exc:
        print(f"error: could not reach the running server: {exc}", file=sys.stderr)
        return 3
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the metadata and event-store migrations (idempotent; serve does it too)."""
    from footfall.store import open_store

    settings = _settings()
    meta = _meta(settings)
    meta.migrate()
    meta.close()
    store = open_store(settings, migrate=False)
    try:
        applied = store.migrate()
        health = store.health()
    finally:
        store.close()
    versions = ", ".join(map(str, applied)) or "none pending"
    print(f"metadata: up to date; event store ({health['backend']}): {versions}")
    return 0


def cmd_config_docs(args: argparse.Namespace) -> int:
    print(docs_table())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="footfall", description="Privacy-friendly website analytics.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server (API, queue, writer, jobs)")
    serve.add_argument("--host", help="listen address (FOOTFALL_HOST)")
    serve.add_argument("--port", type=int, help="listen port (FOOTFALL_PORT)")
    serve.set_defaults(func=cmd_serve)

    sites = sub.add_parser("sites", help="manage sites").add_subparsers(
        dest="action", required=True
    )
    create = sites.add_parser("create", help="create a site and print its ingest key")
    create.add_argument("name")
    create.add_argument("--domain", action="append", required=True, help="repeatable")
    create.add_argument("--timezone", default="UTC")
    create.set_defaults(func=cmd_sites_create)
    sites.add_parser("list", help="list sites").set_defaults(func=cmd_sites_list)

    tokens = sub.add_parser("tokens", help="read tokens").add_subparsers(
        dest="action", required=True
    )
    tcreate = tokens.add_parser("create", help="create a read token for one site")
    tcreate.add_argument("--site", required=True)
    tcreate.set_defaults(func=cmd_tokens_create)

    jobs = sub.add_parser("jobs", help="maintenance jobs").add_subparsers(
        dest="action", required=True
    )
    run = jobs.add_parser("run", help="run a job now")
    run.add_argument("name", choices=["retention", "rollups"])
    run.set_defaults(func=cmd_jobs_run)

    from footfall import cli_users

    cli_users.add_parser(sub, lambda: _meta(_settings()))

    sub.add_parser(
        "migrate", help="apply metadata and event-store schema migrations (serve does it too)"
    ).set_defaults(func=cmd_migrate)

    config = sub.add_parser("config", help="configuration").add_subparsers(
        dest="action", required=True
    )
    config.add_parser("docs", help="print the configuration table").set_defaults(
        func=cmd_config_docs
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
