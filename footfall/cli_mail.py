"""``footfall reports``: who receives a site's e-mail reports and alerts, and sending one
report now.

``subscribe``, ``unsubscribe`` and ``list`` change the metadata only (safe beside a
running server). ``send`` needs the event store: with a running ``footfall serve`` it
asks that server (``POST /api/admin/reports/send``, with ``FOOTFALL_ADMIN_TOKEN``), else
it opens the store itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from footfall.cli_admin import ask, refused, server_url
from footfall.cli_preflight import lock_or_say
from footfall.config import Settings
from footfall.meta.repo import Metadata
from footfall.meta.rights import KINDS, RightsPrefs, check_email
from footfall.meta.values import MetaValidationError, SiteNotFoundError

SettingsOf = Callable[[argparse.Namespace], Settings]


def add_parser(sub: Any, common: argparse.ArgumentParser, settings_of: SettingsOf) -> None:
    reports = sub.add_parser("reports", help="e-mail reports and traffic alerts")
    actions = reports.add_subparsers(dest="action", required=True, metavar="ACTION")
    send = actions.add_parser("send", parents=[common], help="send one report now")
    send.add_argument("--site", required=True, help="the site's id")
    send.add_argument("--to", required=True, help="the address to send it to")
    send.add_argument("--kind", choices=["weekly", "monthly"], default="weekly",
                      help="the last complete week (default) or month")  # fmt: skip
    send.add_argument("--url", help="URL of the running server to ask")
    send.set_defaults(func=lambda a: cmd_send(a, settings_of(a)))
    for name, text in (("subscribe", "send this address a site's mail"),
                       ("unsubscribe", "stop sending it")):  # fmt: skip
        p = actions.add_parser(name, parents=[common], help=text)
        p.add_argument("--site", required=True, help="the site's id")
        p.add_argument("--to", required=True, help="the address")
        p.add_argument("--kind", choices=KINDS, default="weekly",
                       help="weekly or monthly report, or spike alerts")  # fmt: skip
        p.set_defaults(func=lambda a, n=name: cmd_subscription(a, n, settings_of(a)))
    listing = actions.add_parser("list", parents=[common], help="list recipients")
    listing.add_argument("--site", help="only this site's")
    listing.set_defaults(func=lambda a: cmd_list(a, settings_of(a)))


def _meta(settings: Settings) -> Metadata:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    meta = Metadata(settings.metadata_url)
    meta.migrate()
    return meta


def cmd_subscription(args: argparse.Namespace, action: str, settings: Settings) -> int:
    meta = _meta(settings)
    try:
        prefs = RightsPrefs(meta)
        if action == "subscribe":
            prefs.add_recipient(args.site, args.to, args.kind)
            print(f"{args.to} receives {args.site}'s {args.kind} mail")
        elif prefs.remove_recipient(args.site, args.to.strip(), args.kind):
            print(f"{args.to} no longer receives {args.site}'s {args.kind} mail")
        else:
            print(f"{args.to} was not receiving {args.site}'s {args.kind} mail")
    except (MetaValidationError, SiteNotFoundError) as exc:
        return refused(exc, args.site)
    finally:
        meta.close()
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    meta = _meta(settings)
    try:
        for r in RightsPrefs(meta).recipients(args.site):
            print(f"{r.site_id}\t{r.email}\t{r.kind}\t{r.last_sent or '-'}")
    finally:
        meta.close()
    return 0


def cmd_send(args: argparse.Namespace, settings: Settings) -> int:
    try:
        to = check_email(args.to, "to")
    except MetaValidationError as exc:
        return refused(exc, args.site)
    url = server_url(settings, args.url)
    if url is not None:
        body = json.dumps({"site_id": args.site, "to": to, "kind": args.kind}).encode()
        return ask(url, settings.admin_token, "POST", "/api/admin/reports/send", body)
    from footfall.mail.schedule import Mailer
    from footfall.mail.smtp import MailError
    from footfall.query.runner import QueryRunner
    from footfall.store import open_store

    lock = lock_or_say(settings.data_dir, "reports send")
    if lock is None:
        return 3
    meta = _meta(settings)
    try:
        site = meta.get_site(args.site)
        if site is None:
            return refused(SiteNotFoundError(args.site), args.site)
        store = open_store(settings)
        try:
            label = Mailer(settings, meta, QueryRunner(store)).send_report(site, to, args.kind)
        except MailError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
        finally:
            store.close()
    finally:
        meta.close()
        lock.release()
    print(json.dumps({"site_id": site.id, "to": to, "period": label}))
    return 0
