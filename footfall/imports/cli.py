"""``footfall import …`` and ``footfall export``: the command line of the imports package.

Each command holds the data directory's lock for its run (a running ``serve`` must be
stopped first: it holds the embedded store and drains the same queue). Mistakes (no such
site, unreadable file) are one ``error:`` line on standard error and exit status 2; the
progress bar and the summary go to standard error, the JSON result to standard output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from footfall.config import Settings, SettingsError
from footfall.imports.feed import ImportFailed, open_feed

SettingsOf = Callable[[argparse.Namespace], Settings]

# Why a line was skipped, in the summary's words.
REASONS = {
    "malformed": "not a line of the chosen format",
    "method": "not a GET request",
    "status": "status not 2xx",
    "asset": "static asset or other file (by extension)",
    "not_html": "response not HTML",
    "bot": "bot or crawler (empty user agent included)",
    "other_host": "another host than the site's domains",
    "excluded_ip": "excluded IP range (site settings)",
    "excluded_path": "excluded path (site settings)",
}


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return Settings.from_env(data_dir=getattr(args, "data_dir", None))
    except SettingsError as exc:
        sys.exit(f"footfall: configuration error: {exc}")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def cmd_access_log(args: argparse.Namespace) -> int:
    from footfall.imports.accesslog.run import AccessLogImport, FileResult

    settings = _settings(args)
    for name in args.files:
        if name != "-" and not Path(name).is_file():
            return _fail(f"file: no such file {name!r}")
    console = Console(stderr=True)
    name = ""
    try:
        with open_feed(settings, "import access-log") as feed:
            site = feed.meta.get_site(args.site)
            if site is None:
                return _fail(f"site: no site {args.site!r}")
            importer = AccessLogImport(feed, site, args.format)
            total = FileResult()
            started = time.perf_counter()
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[lines]:,} lines, {task.fields[rate]:,.0f} lines/s"),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
                for name in args.files:
                    task = bar.add_task(name, total=None, lines=0, rate=0.0)
                    t0 = time.perf_counter()

                    def tick(
                        lines: int, done: int, size: int, task: Any = task, t0: float = t0
                    ) -> None:
                        rate = lines / max(time.perf_counter() - t0, 1e-9)
                        bar.update(task, completed=done, total=size or None, lines=lines, rate=rate)

                    got = importer.run(name, tick)
                    total.lines += got.lines
                    total.pageviews += got.pageviews
                    total.skipped.update(got.skipped)
            seconds = time.perf_counter() - started
            counts, queued = feed.counts, feed.queued
    except ImportFailed as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"file: {exc.strerror or exc}")
    except EOFError as exc:  # gzip's word for a truncated file
        return _fail(f"file: {name}: {exc} (a complete copy imports what is missing)")
    skipped = dict(total.skipped)
    if counts.dropped_referrer_spam:
        skipped["referrer_spam"] = counts.dropped_referrer_spam
    summary = {
        "site": args.site,
        "lines": total.lines,
        "pageviews_found": total.pageviews,
        "imported": counts.inserted,
        # Redis shape: handed to the queue, stored (and deduplicated) by footfall worker.
        "queued_for_workers": queued,
        "already_imported": counts.duplicates,
        "skipped": skipped,
        "seconds": round(seconds, 2),
        "lines_per_second": round(total.lines / max(seconds, 1e-9)),
    }
    _print_summary(summary)
    print(json.dumps(summary))
    return 0


def _print_summary(s: dict[str, Any]) -> None:
    err = sys.stderr
    done = (
        f"{s['queued_for_workers']:,} pageviews queued for footfall worker"
        if s["queued_for_workers"]
        else f"{s['imported']:,} pageviews imported, {s['already_imported']:,} already there"
    )
    print(f"{s['lines']:,} lines in {s['seconds']} s ({s['lines_per_second']:,} lines/s): {done}",
          file=err)  # fmt: skip
    for reason, n in sorted(s["skipped"].items(), key=lambda kv: -kv[1]):
        print(f"  skipped {n:,}: {REASONS.get(reason, reason)}", file=err)


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``import`` and ``export`` on the main parser's subcommands."""
    from footfall.imports.accesslog.formats import FORMATS

    imp = sub.add_parser("import", help="import historical data").add_subparsers(
        dest="action", required=True, metavar="SOURCE"
    )
    log = imp.add_parser(
        "access-log",
        parents=[common],
        help="pageviews from web server access logs",
        description="Import pageviews from access logs (plain or .gz; - reads stdin). "
        "Importing the same lines again adds nothing.",
    )
    log.add_argument("files", nargs="+", metavar="FILE", help="log files; - for stdin")
    log.add_argument("--site", required=True, help="id of the site the pages belong to")
    log.add_argument("--format", choices=FORMATS, default="combined", help="log format")
    log.set_defaults(func=cmd_access_log)
    from footfall.imports import cli_more

    cli_more.add_parsers(imp, sub, common)
