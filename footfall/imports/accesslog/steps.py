"""The import's steps from a chunk's hits (``_hits``) to spool records, as set operations.

Each rule is the one-line Python function the per-line import used, now applied once per
DISTINCT value of what it reads (a log repeats its paths, user agents, hosts and visitors
many times), the verdicts registered as small Arrow tables and joined back:

1. ``judge``: why a hit is skipped, the first that applies of ``malformed``, the page
   rules (:func:`~footfall.imports.accesslog.formats.page_verdict` per distinct method,
   path, status and content type), ``bot`` (:func:`~footfall.ingest.bots.is_bot` per
   distinct user agent), ``other_host`` (per distinct host), then the site's excluded IPs
   and paths (per distinct IP and path, only when the site has such rules);
2. ``skips``: the counts per reason;
3. ``records``: the kept hits as the JSON spool records live collection makes of a
   server-side pageview, in line order: the visitor hash per distinct day, IP and user
   agent (:func:`~footfall.meta.salts.visitor_hash` with that day's salt), the country per
   distinct IP, the cleaned query per distinct query, the event id from the file's prefix
   and the line number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from footfall.imports.accesslog.formats import page_verdict
from footfall.ingest.bots import is_bot
from footfall.ingest.exclusions import NO_RULES, SiteRules
from footfall.ingest.pipeline import host_allowed
from footfall.ingest.utm import clean_query

DAY_MS = 86_400_000
MAX_FIELD = 2048  # the live API's limit on paths and referrers


def _lookup(
    db: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    keys: list[tuple[str, pa.DataType]],
    values: list[tuple[str, pa.DataType]],
    fn: Callable[..., Sequence[Any]],
) -> None:
    """Register ``name``: the distinct key rows ``sql`` selects, with ``fn(*key)``'s values."""
    rows = db.execute(sql).fetchall()
    out = [fn(*row) for row in rows]
    cols = {k: pa.array([r[i] for r in rows], t) for i, (k, t) in enumerate(keys)}
    cols |= {v: pa.array([o[i] for o in out], t) for i, (v, t) in enumerate(values)}
    db.register(name, pa.table(cols, schema=pa.schema(keys + values)))


_S, _I, _B = pa.string(), pa.int32(), pa.bool_()


def judge(db: duckdb.DuckDBPyConnection, domains: tuple[str, ...], rules: SiteRules,
          allow_headless: bool) -> None:  # fmt: skip
    """Fill ``_judged``: the hits with ``path`` and ``reason`` (NULL: a pageview)."""
    db.execute(
        "CREATE OR REPLACE TEMP TABLE _h AS SELECT *, split_part(target, '?', 1) AS path FROM _hits"
    )
    _lookup(
        db,
        "_verdicts",
        "SELECT DISTINCT method, path, status, content_type FROM _h WHERE ok",
        [("method", _S), ("path", _S), ("status", _I), ("content_type", _S)],
        [("reason", _S)],
        lambda *key: (page_verdict(*key),),
    )
    db.execute(
        "CREATE OR REPLACE TEMP TABLE _j AS SELECT h.*, "
        "CASE WHEN NOT h.ok THEN 'malformed' ELSE v.reason END AS reason FROM _h h "
        "LEFT JOIN _verdicts v ON h.ok AND h.method = v.method AND h.path = v.path "
        "AND h.status = v.status AND h.content_type = v.content_type"
    )
    _lookup(
        db,
        "_bots",
        "SELECT DISTINCT user_agent FROM _j WHERE reason IS NULL",
        [("user_agent", _S)],
        [("bot", _B)],
        lambda ua: (is_bot(ua, allow_headless=allow_headless),),
    )
    _lookup(
        db,
        "_hosts",
        "SELECT DISTINCT host FROM _j WHERE reason IS NULL AND host <> ''",
        [("host", _S)],
        [("allowed", _B)],
        lambda host: (host_allowed(host, domains),),
    )
    db.execute(
        "CREATE OR REPLACE TEMP TABLE _judged AS SELECT j.* EXCLUDE (reason, path), "
        "coalesce(nullif(left(j.path, $max), ''), '/') AS path, CASE "
        "WHEN j.reason IS NOT NULL THEN j.reason WHEN b.bot THEN 'bot' "
        "WHEN j.host <> '' AND NOT ho.allowed THEN 'other_host' END AS reason FROM _j j "
        "LEFT JOIN _bots b ON j.reason IS NULL AND j.user_agent = b.user_agent "
        "LEFT JOIN _hosts ho ON j.reason IS NULL AND j.host = ho.host",
        {"max": MAX_FIELD},
    )
    if rules is not NO_RULES:
        _lookup(
            db,
            "_excluded",
            "SELECT DISTINCT ip, path FROM _judged WHERE reason IS NULL",
            [("ip", _S), ("path", _S)],
            [("why", _S)],
            lambda ip, path: (rules.drop_reason(False, ip, path),),
        )
        db.execute(
            "UPDATE _judged SET reason = x.why FROM _excluded x "
            "WHERE _judged.reason IS NULL AND _judged.ip = x.ip AND _judged.path = x.path"
        )
        db.unregister("_excluded")
    for name in ("_verdicts", "_bots", "_hosts"):
        db.unregister(name)


def skips(db: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = db.execute(
        "SELECT reason, count(*) FROM _judged WHERE reason IS NOT NULL GROUP BY reason"
    ).fetchall()
    return {str(reason): int(n) for reason, n in rows}


def records(
    db: duckdb.DuckDBPyConnection,
    site_id: str,
    default_host: str,
    prefix: str,
    visitor: Callable[[int, str, str], int],
    geo: Callable[[str], tuple[str, str, str]],
) -> list[bytes]:
    """The kept hits as encoded spool records, in line order.

    ``visitor(day, ip, user_agent)`` gives the visitor id, ``geo(ip)`` the place; ``prefix``
    is the file's event id with ``%012x`` where the line number goes."""
    db.execute(
        "CREATE OR REPLACE TEMP TABLE _kept AS SELECT *, ts // $day AS day, "
        "CASE WHEN contains(target, '?') THEN substr(target, strpos(target, '?') + 1) "
        "ELSE '' END AS query FROM _judged WHERE reason IS NULL",
        {"day": DAY_MS},
    )
    _lookup(
        db,
        "_visitors",
        "SELECT DISTINCT day, ip, user_agent FROM _kept",
        [("day", pa.int64()), ("ip", _S), ("user_agent", _S)],
        [("visitor_id", pa.uint64())],
        lambda day, ip, ua: (visitor(day, ip, ua),),
    )
    _lookup(
        db,
        "_places",
        "SELECT DISTINCT ip FROM _kept",
        [("ip", _S)],
        [("country", _S), ("region", _S), ("city", _S)],
        geo,
    )
    _lookup(
        db,
        "_queries",
        "SELECT DISTINCT query FROM _kept WHERE query <> ''",
        [("query", _S)],
        [("clean", _S)],
        lambda q: (clean_query(q),),
    )
    head, _, _ = prefix.rpartition("%")
    got = db.sql(
        """
        SELECT CAST(to_json({
            event_id: $head || printf('%012x', k.n), site_id: $site, ts: k.ts,
            name: 'pageview', hostname: CASE WHEN k.host <> '' THEN k.host ELSE $host END,
            pathname: k.path, url_query: coalesce(q.clean, ''),
            referrer: left(k.referrer, $max), user_agent: k.user_agent,
            visitor_id: v.visitor_id, session_id: 0::UBIGINT, user_id: '', screen: '',
            language: '', country: p.country, region: p.region, city: p.city, title: '',
            interactive: true, props: MAP {}::MAP(VARCHAR, VARCHAR)
        }) AS BLOB) AS record
        FROM _kept k
        JOIN _visitors v ON k.day = v.day AND k.ip = v.ip AND k.user_agent = v.user_agent
        JOIN _places p ON k.ip = p.ip
        LEFT JOIN _queries q ON k.query = q.query
        ORDER BY k.n
        """,
        params={"head": head, "site": site_id, "host": default_host, "max": MAX_FIELD},
    ).to_arrow_table()
    for name in ("_visitors", "_places", "_queries"):
        db.unregister(name)
    column = got.column("record") if got.num_rows else pa.chunked_array([], pa.binary())
    return column.to_pylist()  # type: ignore[no-any-return]
