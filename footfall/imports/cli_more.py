"""``footfall export``, ``footfall import footfall`` and ``footfall import plausible-csv``.

Like ``import access-log`` these hold the data directory's lock and open the configured
store (queued events are stored first, so an export misses nothing that was accepted).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from footfall.imports.cli import _fail, _settings
from footfall.imports.feed import Feed, ImportFailed, open_feed

if TYPE_CHECKING:
    from footfall.meta.repo import SiteInfo

T = TypeVar("T")


def cmd_export(args: argparse.Namespace) -> int:
    from footfall.imports.parquet_export import export_site, remove_partial

    out = Path(args.to)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        return _fail(f"to: {out} exists and is not an empty directory")
    if args.format == "delta":
        return _export_delta(args, out)
    got = _export_site(
        args, lambda feed, site: export_site(feed.store, feed.meta, site, out), remove_partial, out
    )
    if isinstance(got, int):
        return got
    rows = got["rows"]
    print(
        f"exported {rows['events']:,} events and {rows['sessions']:,} visits of "
        f"{args.site} to {out}",
        file=sys.stderr,
    )
    print(json.dumps({"site": args.site, "to": str(out), **rows}))
    return 0


def _export_site(
    args: argparse.Namespace,
    write: Callable[[Feed, SiteInfo], T],
    undo: Callable[[Path], None],
    out: Path,
) -> T | int:
    """Open the store, find ``args.site`` and ``write`` its export to ``out``; ``undo(out)``
    when the write fails. The export's result, or the exit status of a refusal."""
    try:
        with open_feed(_settings(args), "export") as feed:
            site = feed.meta.get_site(args.site)
            if site is None:
                return _fail(f"site: no site {args.site!r}")
            try:
                return write(feed, site)
            except BaseException:
                undo(out)
                raise
    except ImportFailed as exc:
        return _fail(str(exc))


def _export_delta(args: argparse.Namespace, out: Path) -> int:
    import shutil

    from footfall.imports.delta_export import DeltaUnavailable, export_delta

    try:
        import deltalake  # noqa: F401
    except ImportError:
        return _fail(f"format: {DeltaUnavailable.__doc__} (pip install 'footfall[delta]')")
    # The directory was empty or absent: a failed export removes whatever it wrote.
    got = _export_site(
        args,
        lambda feed, site: export_delta(feed.store, site, out),
        lambda path: shutil.rmtree(path, ignore_errors=True),
        out,
    )
    if isinstance(got, int):
        return got
    rows = got
    print(f"exported {rows['events']:,} events of {args.site} to the Delta table {out}",
          file=sys.stderr)  # fmt: skip
    print(json.dumps({"site": args.site, "to": str(out), "format": "delta", **rows}))
    return 0


def cmd_import_footfall(args: argparse.Namespace) -> int:
    from footfall.imports.parquet_import import BadExport, import_export, read_manifest

    folder = Path(args.dir)
    try:
        read_manifest(folder)
    except BadExport as exc:
        return _fail(f"dir: {exc}")
    try:
        with open_feed(_settings(args), "import footfall") as feed:
            site = feed.meta.get_site(args.site)
            if site is None:
                return _fail(
                    f"site: no site {args.site!r} (create it with `footfall sites create`)"
                )
            counts = import_export(feed.store, feed.meta, site, folder)
    except ImportFailed as exc:
        return _fail(str(exc))
    print(
        f"imported {counts['events']:,} events ({counts['events_already_there']:,} were "
        f"already there) and {counts['sessions']:,} visits into {args.site}",
        file=sys.stderr,
    )
    print(json.dumps({"site": args.site, **counts}))
    return 0


def cmd_plausible(args: argparse.Namespace) -> int:
    from footfall.imports.plausible.read import BadExport, read_export

    path = Path(args.export)
    if not path.exists():
        return _fail(f"export: no such file {str(path)!r}")
    try:
        export = read_export(path)
    except BadExport as exc:
        return _fail(f"export: {exc}")
    written: dict[str, int] = {}
    try:
        with open_feed(_settings(args), "import plausible-csv") as feed:
            site = feed.meta.get_site(args.site)
            if site is None:
                return _fail(f"site: no site {args.site!r}")
            for m in export.members:
                # One import per file and period: importing it again replaces it.
                import_id = f"plausible:{m.kind}:{m.first.isoformat()}:{m.last.isoformat()}"
                written[m.kind] = written.get(m.kind, 0) + feed.store.write_imported(
                    site.id, import_id, m.rows
                )
    except ImportFailed as exc:
        return _fail(str(exc))
    first = min(m.first for m in export.members).isoformat()
    last = max(m.last for m in export.members).isoformat()
    print(
        f"imported Plausible aggregates of {first} to {last} into {args.site}: "
        + ", ".join(f"{k} {n:,} rows" for k, n in sorted(written.items())),
        file=sys.stderr,
    )
    for name in export.skipped:
        print(f"  skipped {name}: not a Plausible export file", file=sys.stderr)
    print(
        json.dumps(
            {
                "site": args.site,
                "from": first,
                "to": last,
                "rows": written,
                "skipped": export.skipped,
            }
        )
    )
    return 0


def add_parsers(imp: Any, sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the remaining import sources and the export command."""
    pl = imp.add_parser(
        "plausible-csv",
        parents=[common],
        help="Plausible's CSV export (a zip) as aggregates",
        description="Keep the daily aggregates of a Plausible CSV export (the zip, or a "
        "directory of its CSV files) for SITE; reports add them when a query asks for "
        'imports ("include": {"imports": true}). Importing the same files again replaces them.',
    )
    pl.add_argument("export", metavar="EXPORT.zip", help="the export zip or its directory")
    pl.add_argument("--site", required=True, help="id of the site to import into")
    pl.set_defaults(func=cmd_plausible)
    ff = imp.add_parser(
        "footfall",
        parents=[common],
        help="a directory written by `footfall export`",
        description="Read back a `footfall export` directory into SITE (which must exist). "
        "Importing it twice adds nothing.",
    )
    ff.add_argument("dir", metavar="DIR", help="the export's directory")
    ff.add_argument("--site", required=True, help="id of the site to import into")
    ff.set_defaults(func=cmd_import_footfall)

    exp = sub.add_parser(
        "export",
        parents=[common],
        help="write a site's data as Parquet files",
        description="Write SITE's events (partitioned by day), visits, drop counts and "
        "settings to DIR as Parquet and a manifest; `footfall import footfall` reads it.",
    )
    exp.add_argument("site", metavar="SITE", help="id of the site to export")
    exp.add_argument("--to", required=True, metavar="DIR", help="an empty or new directory")
    exp.add_argument(
        "--format",
        choices=("parquet", "delta"),
        default="parquet",
        help="parquet: everything `footfall import footfall` needs (default); delta: the "
        "events as one Delta Lake table partitioned by day (needs footfall[delta])",
    )
    exp.set_defaults(func=cmd_export)
