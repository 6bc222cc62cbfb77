"""``footfall privacy delete|export``: one person's data, from the command line.

With a running ``footfall serve`` holding the data directory (the embedded store opens in
one process only), the command asks it over the admin API (``DELETE /api/v1/visitors``,
``GET /api/v1/visitors/export``) with ``FOOTFALL_ADMIN_TOKEN``; otherwise it opens the
store itself under the data directory's lock. The answer (rows deleted, as JSON) or the
export (JSON lines) goes to standard output.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

from footfall.cli_admin import ask, refused, server_url
from footfall.cli_preflight import lock_or_say
from footfall.config import Settings
from footfall.ingest.validate import FieldError
from footfall.meta.values import MetaValidationError, SiteNotFoundError

SettingsOf = Callable[[argparse.Namespace], Settings]


def add_parser(sub: Any, common: argparse.ArgumentParser, settings_of: SettingsOf) -> None:
    privacy = sub.add_parser("privacy", help="one person's data: delete or export it")
    actions = privacy.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("delete", "delete every visit of one person, and mend the rollups"),
        ("export", "print one person's events as JSON lines"),
    ):
        p = actions.add_parser(name, parents=[common], help=text)
        p.add_argument("--site", required=True, help="the site's id")
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--user-id", help="the user id the site sent (identify)")
        who.add_argument("--visitor-id", help="the stored visitor id (decimal, as the API shows)")
        p.add_argument("--url", help="URL of the running server to ask (default: its lock file's)")
        p.set_defaults(func=lambda args, n=name: run(args, n, settings_of(args)))
    keep = actions.add_parser(
        "retention", parents=[common],
        help="how long one site keeps its visits and rollups (raw events: the site's settings)",
    )  # fmt: skip
    keep.add_argument("--site", required=True, help="the site's id")
    keep.add_argument("--sessions-days", help="days to keep visits (empty: with raw events)")
    keep.add_argument("--rollups-days", help="days to keep rollups (empty: for ever)")
    keep.set_defaults(func=lambda args: set_retention(args, settings_of(args)))


def set_retention(args: argparse.Namespace, settings: Settings) -> int:
    from footfall.meta.repo import Metadata
    from footfall.meta.rights import RightsPrefs

    meta = Metadata(settings.metadata_url)
    try:
        meta.migrate()
        prefs = RightsPrefs(meta)
        now = prefs.retention(args.site)
        sessions = now.sessions_days if args.sessions_days is None else args.sessions_days
        rollups = now.rollups_days if args.rollups_days is None else args.rollups_days
        got = prefs.set_retention(args.site, sessions, rollups)
    except (MetaValidationError, SiteNotFoundError) as exc:
        return refused(exc, args.site)
    finally:
        meta.close()
    print(json.dumps({"site_id": got.site_id, "sessions_days": got.sessions_days,
                      "rollups_days": got.rollups_days}))  # fmt: skip
    return 0


def run(args: argparse.Namespace, action: str, settings: Settings) -> int:
    from footfall.privacy import person as persons  # the store engines: loaded when run

    try:
        person = persons.Person.of(args.site, args.user_id, args.visitor_id)
    except FieldError as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    url = server_url(settings, args.url)
    if url is not None:
        query = urllib.parse.urlencode(person.describe())
        if action == "delete":
            return ask(url, settings.admin_token, "DELETE", f"/api/v1/visitors?{query}")
        return ask(url, settings.admin_token, "GET", f"/api/v1/visitors/export?{query}")
    lock = lock_or_say(settings.data_dir, f"privacy {action}")
    if lock is None:
        return 3
    from footfall.meta.repo import Metadata
    from footfall.store import open_store

    try:
        meta = Metadata(settings.metadata_url)
        try:
            # A data directory no server has opened yet has no tables to look in.
            meta.migrate()
            known = meta.get_site(person.site_id) is not None
        finally:
            meta.close()
        if not known:
            return refused(SiteNotFoundError(person.site_id), person.site_id)
        store = open_store(settings)
        try:
            if action == "delete":
                print(json.dumps(persons.forget(store, person)))
            else:
                for chunk in persons.export_jsonl(store, person):
                    sys.stdout.buffer.write(chunk)
        finally:
            store.close()
    finally:
        lock.release()
    return 0
