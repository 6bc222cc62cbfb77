"""A ClickHouse round's keys (``write.py``): the batch's event ids, sites, visitors and
client session ids, as conditions of the queries that load the stored rows it may touch.

A small round (a worker keeping up with a steady load: hundreds of events) splices them
into the queries as literal lists; a large one (a backlog, a drain: up to 150,000 events)
sends them to the writer's staging tables, one Arrow insert each, and the queries join
them there, because a literal list of 100,000 ids costs the server seconds to parse. The
staging tables cost four requests a round (two truncations, two inserts): a third of
what a small round asks of the server besides its inserts.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from footfall.store.clickhouse.replay import sql_list
from footfall.store.clickhouse.rows import check_site
from footfall.store.clickhouse.transport import Transport

INLINE_IDS = 5_000  # event ids up to which a round's keys go inline in its queries


@dataclass(frozen=True, slots=True)
class Keys:
    """Conditions on a stored row's columns: its site is one of the batch's, its event
    id is one of the batch's, its (site, visitor) is one of the visitors' without a
    client session id, its (site, session) is one of the client sessions'."""

    sites: str
    ids: str
    visitors: str
    sessions: str


def create_stage(transport: Transport, suffix: str) -> tuple[str, str]:
    """The staging tables of one writer (Memory: nothing of them needs to last)."""
    ids, keys = f"footfall_stage_ids_{suffix}", f"footfall_stage_keys_{suffix}"
    transport.command(f"CREATE TABLE IF NOT EXISTS {ids} (event_id UUID) ENGINE = Memory")
    transport.command(
        f"CREATE TABLE IF NOT EXISTS {keys} (site_id String, visitor_id UInt64, "
        "session_id UInt64) ENGINE = Memory"
    )
    return ids, keys


def batch_keys(cur: duckdb.DuckDBPyConnection, ch: Transport, stage: tuple[str, str]) -> Keys:
    """The keys of the batch in the scratch's ``_in``, inline or staged by its size."""
    ids = cur.sql("SELECT DISTINCT event_id::VARCHAR AS event_id FROM _in")
    keys = cur.sql(
        "SELECT DISTINCT site_id, CASE WHEN session_id = 0 THEN visitor_id ELSE 0 END "
        "AS visitor_id, session_id FROM _in"
    )
    if cur.sql("SELECT count(DISTINCT event_id) FROM _in").fetchall()[0][0] <= INLINE_IDS:
        return _inline([r[0] for r in ids.fetchall()], keys.fetchall())
    stage_ids, stage_keys = stage
    ch.command(f"TRUNCATE TABLE {stage_ids}")
    ch.command(f"TRUNCATE TABLE {stage_keys}")
    ch.insert(stage_ids, ids.to_arrow_table())
    ch.insert(stage_keys, keys.to_arrow_table())
    return Keys(
        sites=f"site_id IN (SELECT site_id FROM {stage_keys})",
        ids=f"event_id IN (SELECT event_id FROM {stage_ids})",
        visitors=f"(site_id, visitor_id) IN "
        f"(SELECT site_id, visitor_id FROM {stage_keys} WHERE session_id = 0)",
        sessions=f"(site_id, session_id) IN "
        f"(SELECT site_id, session_id FROM {stage_keys} WHERE session_id <> 0)",
    )


def _inline(ids: list[str], keys: list[tuple[str, int, int]]) -> Keys:
    sites = sorted({check_site(site) for site, _, _ in keys})
    visitors = [f"('{site}', {int(v)})" for site, v, session in keys if session == 0]
    sessions = [f"('{site}', {int(s)})" for site, _, s in keys if s != 0]
    return Keys(
        sites=f"site_id IN ({sql_list(sites)})",
        ids=f"event_id IN ({sql_list(ids)})",
        # No such pair: a condition that holds for no row (``IN ()`` is not SQL).
        visitors=f"(site_id, visitor_id) IN ({', '.join(visitors)})" if visitors else "0",
        sessions=f"(site_id, session_id) IN ({', '.join(sessions)})" if sessions else "0",
    )
