"""What lets the ClickHouse rollups job (footfall/store/clickhouse/rollups.py) build and
refresh while any number of processes insert events and run the job too.

- ``claim``: one job at a time across processes. ClickHouse has no compare-and-set, so a
  job inserts a claim row and goes ahead only if no live claim came before its own in
  commit order (``_block_number``, numbered when a part is committed): of two jobs that
  both claim, the later committer sees the earlier one (its read follows its own commit),
  so at most one goes ahead. A claim older than ``CLAIM_TTL_SECONDS`` (a job that died)
  no longer counts.
- ``settle``: the server's clock, and a wait until no insert that began before a given
  second is still running (``system.processes``), so that every row stamped
  ``inserted`` before it is committed, and its materialized-view rows too.

The server's clock is the one ``events.inserted`` is stamped with, so no process's own
clock is compared with it. On a cluster, ``system.processes`` is one node's: the checks
assume one server (or a shard's writes all reaching one node), as the tests run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from footfall.store.clickhouse.transport import Transport

CLAIM_TTL_SECONDS = 3600  # longer than any build; a dead job's claim lapses after it
SETTLE_TIMEOUT_SECONDS = 60.0

CLAIMS = """
CREATE TABLE IF NOT EXISTS rollup_claims (
    job UUID,
    at DateTime('UTC') DEFAULT now()
) ENGINE = MergeTree ORDER BY job
SETTINGS enable_block_number_column = 1
"""


def server_now(ch: Transport) -> int:
    """The server's clock, in whole seconds since the epoch."""
    return int(ch.arrow("SELECT toUnixTimestamp(now()) AS t").column("t")[0].as_py())


def stamp(t: int) -> str:
    """``t`` (seconds since the epoch) as a ClickHouse DateTime."""
    return f"toDateTime({int(t)}, 'UTC')"


def settle(ch: Transport, before: int, timeout: float = SETTLE_TIMEOUT_SECONDS) -> bool:
    """Wait until the server's clock has reached ``before`` and no insert that may have
    begun before it is still running; False if that did not happen within ``timeout``.
    Every insert counts (not only into ``events``): a wait too long is harmless."""
    deadline = time.monotonic() + timeout
    while True:
        # ``elapsed`` is the running time; a query begun before ``before`` has run for at
        # least now - before seconds (one second of slack for the clock's resolution).
        busy = ch.arrow(
            "SELECT now('UTC') >= {t} AS past, (SELECT count() FROM system.processes "
            "WHERE query_kind = 'Insert' AND elapsed + 1 >= dateDiff('second', {t}, "
            "now('UTC'))) AS n".replace("{t}", stamp(before))
        )
        if busy.column("past")[0].as_py() and not busy.column("n")[0].as_py():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


@contextmanager
def claim(ch: Transport) -> Iterator[bool]:
    """Yields True when this process holds the rollups job (then releases it), False
    when another process's live claim came first."""
    job = str(uuid.uuid4())
    ch.command(f"INSERT INTO rollup_claims (job) VALUES ('{job}')")
    try:
        first = ch.arrow(
            "SELECT toString(job) AS job FROM rollup_claims "
            f"WHERE at > now('UTC') - {int(CLAIM_TTL_SECONDS)} ORDER BY _block_number LIMIT 1"
        )
        yield first.num_rows == 1 and first.column("job")[0].as_py() == job
    finally:
        ch.command(f"DELETE FROM rollup_claims WHERE job = '{job}'")
