"""Reading Plausible's CSV export (the zip its site settings offer) into imported aggregates.

Each member ``imported_<kind>_<YYYYMMDD>_<YYYYMMDD>.csv`` (or without ``imported_``)
is one kind of daily aggregate; the columns are Plausible's (``CSVImporter``'s input
structures). What is kept, per kind:

===================  =====================================================================
visitors             visitors, pageviews, bounces, visits, visit_duration (seconds, summed)
pages                hostname, page: visitors, pageviews, visits (time_on_page when present)
entry_pages          entry_page: visitors, entrances (also as visits), bounces, visit_duration
exit_pages           exit_page: visitors, exits (also as visits), bounces, visit_duration
sources              source, referrer, utm_*: visitors, visits, bounces, visit_duration
devices              device: visitors, visits, bounces, visit_duration, pageviews
browsers             browser, browser_version: the same
operating_systems    os, os_version (Plausible's operating_system*): the same
locations            country, region, city (codes and GeoNames ids kept as names): the same
custom_events        name, link_url, path: visitors, events
===================  =====================================================================

Values pass through :func:`footfall.imports.plausible.values.stored_value`. A member
that is no such file is listed as skipped; a file lacking a column or holding a count
that is not a number is refused, naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from footfall.imports.plausible.values import stored_value
from footfall.store.imported import COUNT_COLUMNS, DIMENSION_COLUMNS, KINDS

_NAME = re.compile(r"^(?:imported_)?(" + "|".join(KINDS) + r")_(\d{8})_(\d{8})\.csv$")
RENAMES = {"operating_system": "os", "operating_system_version": "os_version"}
REQUIRED = {
    "visitors": ("visitors", "pageviews", "bounces", "visits", "visit_duration"),
    "pages": ("page", "visitors", "pageviews"),
    "entry_pages": ("entry_page", "visitors", "entrances"),
    "exit_pages": ("exit_page", "visitors", "exits"),
    "sources": ("source", "visitors", "visits"),
    "devices": ("device", "visitors", "visits"),
    "browsers": ("browser", "visitors", "visits"),
    "operating_systems": ("os", "visitors", "visits"),
    "locations": ("country", "visitors", "visits"),
    "custom_events": ("name", "visitors", "events"),
}
# Counts that stand for visits in kinds that have no visits column of their own.
VISITS_FROM = {"entry_pages": "entrances", "exit_pages": "exits"}


class BadExport(ValueError):
    """The file is not a usable Plausible export; the message names file, line, column."""


@dataclass
class Member:
    kind: str
    first: date
    last: date
    rows: pa.Table


@dataclass
class Export:
    members: list[Member] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _day(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:]}")
    except ValueError:
        raise BadExport(f"{where}: date: {text!r} is not a date") from None


def read_member(name: str, text: str) -> Member:
    m = _NAME.match(name)
    if m is None:
        raise BadExport(f"{name}: not a Plausible export file name")
    kind = m.group(1)
    reader = csv.DictReader(io.StringIO(text))
    header = [RENAMES.get(h.strip(), h.strip()) for h in reader.fieldnames or []]
    missing = [c for c in ("date", *REQUIRED[kind]) if c not in header]
    if missing:
        raise BadExport(f"{name}: column {missing[0]!r} is missing")
    reader.fieldnames = header
    dims = [c for c in header if c in DIMENSION_COLUMNS]
    counts = [c for c in header if c in COUNT_COLUMNS]
    out: dict[str, list[object]] = {c: [] for c in ("kind", "date", *dims, *counts)}
    visits_from = VISITS_FROM.get(kind)
    if visits_from:
        out["visits"] = []
    for line, row in enumerate(reader, 2):
        where = f"{name}:{line}"
        out["kind"].append(kind)
        out["date"].append(_day(row["date"] or "", where))
        for c in dims:
            out[c].append(stored_value(c, row[c] or ""))
        for c in counts:
            out[c].append(_count(row[c], where, c))
        if visits_from:
            out["visits"].append(_count(row[visits_from], where, visits_from))

    def arrow_type(c: str) -> pa.DataType:
        if c == "date":
            return pa.date32()
        return pa.int64() if c in COUNT_COLUMNS else pa.string()

    table = pa.table({c: pa.array(v, arrow_type(c)) for c, v in out.items()})
    return Member(kind, _day(m.group(2), name), _day(m.group(3), name), table)


def _count(text: str | None, where: str, column: str) -> int:
    text = (text or "").strip()
    if not text:
        return 0
    try:
        value = int(float(text)) if "." in text else int(text)
    except ValueError:
        raise BadExport(f"{where}: {column}: {text!r} is not a number") from None
    if value < 0:
        raise BadExport(f"{where}: {column}: {text!r} is negative")
    return value


def read_export(path: Path) -> Export:
    """Every export file in the zip at ``path`` (or in the directory at ``path``)."""
    export = Export()
    if path.is_dir():
        files = sorted((p.name, p.read_bytes) for p in path.iterdir() if p.is_file())
        items = [(n, read()) for n, read in files]
    else:
        try:
            with zipfile.ZipFile(path) as z:
                items = [(Path(i.filename).name, z.read(i)) for i in z.infolist()
                         if not i.is_dir()]  # fmt: skip
        except zipfile.BadZipFile:
            raise BadExport(f"{path.name}: not a zip file") from None
    for name, data in items:
        if not _NAME.match(name):
            export.skipped.append(name)
            continue
        export.members.append(read_member(name, data.decode("utf-8-sig", errors="replace")))
    if not export.members:
        raise BadExport(
            f"{path.name}: no Plausible export files (imported_*_YYYYMMDD_YYYYMMDD.csv)"
        )
    return export
