"""A chunk of access-log lines read into a table of hits at once (the import's first step).

The import reads a log a chunk of lines at a time into ``_lines (n, line)`` on its own
in-memory DuckDB connection, and :func:`load_hits` turns that into the temp table
``_hits``: one row per line with the columns of
:class:`~footfall.imports.accesslog.formats.Hit`, ``n`` (the line number) and ``ok``
(false: the line is not in the chosen format).

The NCSA formats (``combined``, ``nginx``, ``apache``) are read by DuckDB on all cores with
no Python per line: the very expression of :mod:`~footfall.imports.accesslog.formats`
decides which lines are of the format (RE2, no captures: cheap), a split at quotes and
spaces reads the fields of a plain line, and the expression's captures those of the rest.
Caddy's JSON lines are decoded by the format's own msgspec parser (C, one call a line)
and handed over as Arrow columns.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from footfall.imports.accesslog.formats import _COMBINED, _VHOST_COMBINED, BadLine, caddy_parser

_NAMES = "['ip', 'when', 'method', 'target', 'status', 'ref', 'ua']"
_CLF = "%d/%b/%Y:%H:%M:%S %z"
_COLUMNS = (
    ("n", pa.int64()),
    ("ok", pa.bool_()),
    ("ip", pa.string()),
    ("ts", pa.int64()),
    ("method", pa.string()),
    ("target", pa.string()),
    ("status", pa.int32()),
    ("referrer", pa.string()),
    ("user_agent", pa.string()),
    ("host", pa.string()),
    ("content_type", pa.string()),
)


def _quoted(field: str) -> str:
    """A quoted field as the per-line parser gives it: ``-`` is empty, escapes undone."""
    return (
        f"CASE WHEN {field} = '-' THEN '' WHEN contains({field}, '\\') THEN "
        f"replace(replace({field}, '\\\"', '\"'), '\\\\', '\\') ELSE {field} END"
    )


# A line split at its quotes gives the combined fields directly when it has none of what
# only the expression reads right: backslashes (escaped quotes), quotes before the
# request, tabs (``\S`` stops at them, a split at spaces does not), or a status part
# other than `` 200 512 ``. The expression decides whether a line is one at all.
_PLAIN = r"""
    NOT contains(line, '\') AND NOT regexp_matches(line, '[\t\v\f]')
    AND strpos(line, '"') = strpos(line, '] "') + 2
    AND regexp_full_match(p[3], ' \d{3} \S+ ') AND p[5] = ' '
"""


_RAW_SQL = f"""
    CREATE OR REPLACE TEMP TABLE _raw AS
    SELECT n, line, p, ok, ok AND {_PLAIN} AS plain FROM (
        SELECT n, line, string_split(line, '"') AS p, regexp_matches(line, $c) AS ok
        FROM (SELECT n, CASE WHEN ends_with(line, chr(13)) THEN rtrim(line, chr(13))
                         ELSE line END AS line FROM _lines))
"""


def _ncsa_sql(vhost: bool) -> str:
    """``_raw`` to hits: a plain line by its quotes, any other by the combined expression;
    with ``vhost``, a line it does not match is tried again without a leading
    ``host[:port]`` field, which names the host."""
    if vhost:
        other = (
            f"CASE WHEN c.ip <> '' THEN c ELSE regexp_extract(regexp_extract(line, $v, 2), "
            f"$c, {_NAMES}) END AS h, "
            "CASE WHEN c.ip <> '' THEN '' ELSE lower(regexp_extract(line, $v, 1)) END AS host"
        )
    else:
        other = "c AS h, '' AS host"
    return f"""
        WITH plain AS (
            SELECT n, {{'ip': split_part(p[1], ' ', 1),
                'when': regexp_extract(p[1], '^\\S+ \\S+ \\S+ \\[([^\\]]+)\\] $', 1),
                'method': split_part(p[2], ' ', 1), 'target': split_part(p[2], ' ', 2),
                'status': split_part(p[3], ' ', 2), 'ref': p[4], 'ua': p[6]}} AS h, '' AS host
            FROM _raw WHERE plain
        ), other AS (
            SELECT n, {other}
            FROM (SELECT n, line, regexp_extract(line, $c, {_NAMES}) AS c FROM _raw
                  WHERE NOT plain)
        ), timed AS (
            SELECT *, epoch_ms(try_strptime(h.when, '{_CLF}')) AS ts
            FROM (FROM plain UNION ALL FROM other)
        )
        SELECT n, h.ip <> '' AND ts IS NOT NULL AS ok, h.ip AS ip, ts, h.method AS method,
            h.target AS target, TRY_CAST(h.status AS INTEGER) AS status,
            {_quoted("h.ref")} AS referrer, {_quoted("h.ua")} AS user_agent, host,
            '' AS content_type
        FROM timed
    """


def _caddy_table(lines: list[str], first: int) -> pa.Table:
    parse = caddy_parser()
    cols: list[list[object]] = [[] for _ in _COLUMNS]
    for n, line in enumerate(lines, first):
        try:
            hit: tuple[object, ...] = parse(line.rstrip("\r"))
            ok = True
        except BadLine:
            hit, ok = ("", 0, "", "", 0, "", "", "", ""), False
        for col, value in zip(cols, (n, ok, *hit), strict=True):
            col.append(value)
    return pa.table(
        {name: pa.array(col, kind) for (name, kind), col in zip(_COLUMNS, cols, strict=True)}
    )


def load_hits(db: duckdb.DuckDBPyConnection, fmt: str, lines: list[str], first: int) -> None:
    """Fill ``_hits`` from ``lines``, numbered from ``first``."""
    if fmt == "caddy-json":
        db.register("_caddy", _caddy_table(lines, first))
        db.execute("CREATE OR REPLACE TEMP TABLE _hits AS SELECT * FROM _caddy")
        db.unregister("_caddy")
        return
    numbers = pa.array(range(first, first + len(lines)), pa.int64())
    db.register("_lines", pa.table({"n": numbers, "line": pa.array(lines, pa.string())}))
    combined = "^" + _COMBINED.pattern
    db.execute(_RAW_SQL, {"c": combined})
    db.unregister("_lines")
    params = {"c": combined}
    if fmt == "apache":
        params["v"] = "^" + _VHOST_COMBINED.pattern
    db.execute(f"CREATE OR REPLACE TEMP TABLE _hits AS {_ncsa_sql(fmt == 'apache')}", params)
