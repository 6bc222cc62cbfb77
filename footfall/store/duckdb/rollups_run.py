# ruff: noqa: E501  (SQL reads better unwrapped)
"""A run of the DuckDB rollups job: build the sites that need it, seal the rest.

:func:`maintain` decides per site between a build and a seal (rollups.py does both), then
does the upkeep (rollups_upkeep.py): summing ``reach_firsts``, re-sorting the current
windows, dropping deleted sites' rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any

from footfall.store.base import RollupSpec
from footfall.store.duckdb.rollups import current_window, seal_site
from footfall.store.duckdb.rollups_build import build
from footfall.store.duckdb.rollups_upkeep import compact, drop, resort

# A seal recomputes its visitors' touched days from raw events and rewrites the reach
# rows that change; a build recomputes every visitor a (kind, window) at a time. After a
# bulk load or an import in no time order, most of a site is pending over most of its
# days, and a build is what pays (1M events, every visitor pending: a seal 78 s, a build
# 16-26 s); a load in time order touches only its last days, and its seal stays cheap.
REBUILD_SHARE = 0.3
REBUILD_MIN_VISITORS = 20_000
# Pending rows (one per visitor and writer round) a seal transaction takes at most.
SEAL_ROWS = 40_000


def _rebuild_pays(cur_factory: Any, site_id: str) -> bool:
    """Whether building the site again beats sealing its pending rows: the pending
    visitors are a large share of its visitors and their touched days hold a large share
    of its events (a seal reads those days' events and the visitors' rows)."""
    with cur_factory() as cur:
        pending, known, lo, hi = cur.execute(
            "SELECT count(DISTINCT visitor_id), (SELECT count(*) FROM visitor_numbers WHERE site_id = ?), min(lo), max(hi) "
            "FROM rollup_pending WHERE site_id = ?", [site_id, site_id]).fetchall()[0]  # fmt: skip
        if pending < REBUILD_MIN_VISITORS or pending < REBUILD_SHARE * known:
            return False
        # The seal reads the touched local days' events: a day around the span.
        touched, total = cur.execute(
            "SELECT count(*) FILTER (WHERE ts BETWEEN ? AND ?), count(*) FROM events WHERE site_id = ?",
            [lo - timedelta(days=1), hi + timedelta(days=1), site_id]).fetchall()[0]  # fmt: skip
    return bool(touched >= REBUILD_SHARE * total)


def maintain(cur_factory: Any, sites: Mapping[str, str], spec: RollupSpec,
             should_stop: Callable[[], bool] = lambda: False,
             building: Callable[[], AbstractContextManager[None]] = nullcontext,
             checkpoint: Callable[[], None] = lambda: None) -> dict[str, Any]:  # fmt: skip
    """Build the sites that need it, then seal every built site's pending visitors.

    ``sites`` maps each site id to its time zone; ``cur_factory()`` returns a context
    manager giving a cursor inside one transaction; each build runs inside ``building()``
    (the store's queries give way to it: store/duckdb/priority.py); ``checkpoint()``
    folds the WAL into the file between two transactions."""
    with cur_factory() as cur:
        rows = cur.execute(
            "SELECT site_id, timezone, version, sealed_rows FROM rollup_state"
        ).fetchall()
    state = {site_id: (tz, version) for site_id, tz, version, _ in rows}
    before = {site_id: int(n or 0) for site_id, _, _, n in rows}
    appended = dict(before)  # reach rows seals appended since the last build or re-sort
    built = []
    for site_id, tz in sites.items():
        if state.get(site_id) != (tz, spec.version) or _rebuild_pays(cur_factory, site_id):
            with building():
                build(cur_factory, site_id, tz, spec, should_stop)
            state[site_id] = (tz, spec.version)
            appended[site_id] = 0
            built.append(site_id)
    sealed = 0
    with cur_factory() as cur:
        upto = cur.execute("SELECT max(seq) FROM rollup_pending").fetchall()[0][0]
    # In parts of at most SEAL_ROWS pending rows, one transaction each: a seal holds its
    # touched days' events and its visitors' changed rows in DuckDB's memory, and after a
    # load's minute one seal ran out of it (448 MiB) and lost the whole run's work. A seal
    # recomputes its visitors' touched days from raw events, so parts give the same rows.
    while upto is not None and not should_stop():
        with cur_factory() as cur:
            part = cur.execute(
                "SELECT max(seq) FROM (SELECT seq FROM rollup_pending WHERE seq <= ? ORDER BY seq LIMIT ?)",
                [int(upto), SEAL_ROWS]).fetchall()[0][0]  # fmt: skip
            if part is None:
                break
            for site_id, tz in sites.items():
                visitors, rows_added = seal_site(cur, site_id, tz, spec, int(part))
                sealed += visitors
                appended[site_id] = appended.get(site_id, 0) + rows_added
            # Rows of unknown (deleted) sites go too; a built site's rows are folded in.
            cur.execute("DELETE FROM rollup_pending WHERE seq <= ?", [int(part)])
        if part >= upto:
            break
    with cur_factory() as cur:
        for site_id in sites:
            compact(cur, site_id, current_window(sites[site_id]))
            if appended.get(site_id, 0) != before.get(site_id, 0):
                cur.execute("UPDATE rollup_state SET sealed_rows = ? WHERE site_id = ?",
                            [appended[site_id], site_id])  # fmt: skip
        gone = [s for s in state if s not in sites]
        for site_id in gone:
            drop(cur, site_id)
    resorted = [site_id for site_id, tz in sites.items()
                if resort(cur_factory, site_id, current_window(tz), spec.kinds, appended.get(site_id, 0), should_stop, checkpoint)]  # fmt: skip
    return {"built": built, "sealed_visitors": sealed, "dropped": gone, "resorted": resorted}
