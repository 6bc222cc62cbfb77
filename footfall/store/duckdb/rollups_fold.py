# ruff: noqa: E501  (SQL reads better unwrapped)
"""Folding a writer round's visitors into a site's day bitmaps in the round's own
transaction.

A bulk load (or an import through the writer) used to leave its events pending until the
rollups job built or sealed them after the load, and the dashboard read raw events
meanwhile: 44-72 s of slow panels after a 10M load (issue 25). With day bitmaps a seal
costs what its visitors' events on their touched days are (rollups.py ``seal_site``), so
every round folds the visitors it touched into a built site's bitmaps and their firsts
(firsts.py) before it commits: when its events become visible, the dashboard counts their
visitors from the rollups, with no correction from raw events. The rows stay in
``rollup_pending``, marked ``folded``: the additive day sums of their days are read from
raw events (a day's events per panel) until the job recomputes them, which done in every
round doubled a fold's cost. More unfolded rows than ``FOLD_MAX_ROWS`` (left while the job
held the rollups) are the job's, in parts.

A site with no rollups yet is started here once a round leaves ``START_MIN_ROWS`` of its
visitors pending, if its events fit ``START_MAX_EVENTS`` (its first events come in a bulk
load, say): every visitor of it listed as pending and sealed into empty rollups, which is
what a build makes. A smaller new site waits for the job's build (within its first run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import duckdb

from footfall.store.base import RollupSpec
from footfall.store.duckdb.rollups import seal_site

# A round with more records waiting after it folds once its site's unfolded rows reach
# FOLD_ROWS (a bulk load: a fold pays a refresh of the firsts over 33 days of the values it
# touched, ~1.6 s at 10M whatever its size, so folding every round of 150,000 events made
# each take 6-11 s); a round that leaves the queue empty folds whatever is unfolded, so
# the last round of a load is visible with its visitors in the rollups.
FOLD_ROWS = 100_000
# A fold of at least SUMS_ROWS rows recomputes the day sums of its days too and ends its
# rows (in a bulk load the rollups job waits the load out, so it would leave every day's
# sums to raw events until then); a smaller one leaves the sums to the job.
SUMS_ROWS = 20_000
FOLD_MAX_ROWS = 400_000
START_MIN_ROWS = 5_000
START_MAX_EVENTS = 500_000


def start(cur: duckdb.DuckDBPyConnection, site_id: str, timezone: str, spec: RollupSpec) -> None:
    """A site's rollups made from all its events in this transaction: every visitor
    pending over its whole span, sealed into empty rollups."""
    cur.execute("DELETE FROM rollup_pending WHERE site_id = ?", [site_id])
    cur.execute("INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) SELECT site_id, visitor_id, min(ts), max(ts) "
                "FROM events WHERE site_id = ? GROUP BY ALL", [site_id])  # fmt: skip
    cur.execute("INSERT OR REPLACE INTO rollup_state (site_id, timezone, built_at, version) VALUES (?, ?, now(), ?)",
                [site_id, timezone, spec.version])  # fmt: skip


class RoundFolder:
    """The store's side of the fold: which sites a round seals.

    Never while the rollups job runs (it holds ``lock``, and DuckDB would abort one of two
    transactions rewriting the same rows): the job seals what the rounds leave pending. A
    fold that fails fails its round, which the writer tries again from the spool; that
    next try is not folded."""

    def __init__(self, lock: threading.Lock) -> None:
        self.spec: RollupSpec | None = None
        self.timezone_of: Callable[[str], str | None] = lambda site_id: None
        self.waiting: Callable[[tuple[int, int]], int] = lambda after: 0  # records after a position
        self._lock = lock
        self._skip_next = False

    def fold(self, cur: duckdb.DuckDBPyConnection, progress: tuple[int, int] | None = None) -> bool:
        """Before a round commits (``progress``: the queue position after it): fold the
        sites its pending rows qualify; True if a site's rollups started (its state row
        is new)."""
        spec = self.spec
        if spec is None or self._skip_next:
            self._skip_next = False
            return False
        if not self._lock.acquire(blocking=False):
            return False
        started = False
        try:
            drained = progress is None or self.waiting(progress) == 0
            rows = cur.execute(
                "SELECT p.site_id, p.n, p.upto, r.timezone, r.version FROM (SELECT site_id, count(*) AS n, max(seq) AS upto "
                "FROM rollup_pending WHERE NOT coalesce(folded, false) GROUP BY site_id) p LEFT JOIN rollup_state r USING (site_id)"
            ).fetchall()  # fmt: skip
            for site_id, n, upto, tz, version in rows:
                if tz is None:  # never built: started here if large and small enough, else by the job
                    if n < START_MIN_ROWS:
                        continue
                    tz = self.timezone_of(site_id)
                    stored = cur.execute("SELECT count(*) FROM events WHERE site_id = ?", [site_id]).fetchall()[0][0]
                    if tz is None or stored > START_MAX_EVENTS:
                        continue
                    start(cur, site_id, tz, spec)
                    upto = cur.execute("SELECT max(seq) FROM rollup_pending").fetchall()[0][0]
                    seal_site(cur, site_id, tz, spec, int(upto))
                    cur.execute("DELETE FROM rollup_pending WHERE site_id = ? AND seq <= ?", [site_id, int(upto)])
                    started = True
                    continue
                if version != spec.version or tz != self.timezone_of(site_id) or n > FOLD_MAX_ROWS:
                    continue  # to be built again, or a backlog: the job's
                if not drained and n < FOLD_ROWS:
                    continue  # more of a load to come: folded with it
                if n >= SUMS_ROWS:
                    seal_site(cur, site_id, tz, spec, int(upto))
                    cur.execute("DELETE FROM rollup_pending WHERE site_id = ? AND seq <= ?", [site_id, int(upto)])
                    continue
                # The bitmaps only: the day sums of the touched days are additive, read
                # from raw events until the job recomputes them (one day's events per
                # panel), where recomputing a day's sums every round doubled its cost.
                seal_site(cur, site_id, tz, spec, int(upto), sums=False)
                cur.execute("UPDATE rollup_pending SET folded = true WHERE site_id = ? AND seq <= ?", [site_id, int(upto)])
        except duckdb.Error:
            self._skip_next = True
            raise
        finally:
            self._lock.release()
        return started
