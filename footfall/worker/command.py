"""The command line of the Redis shape: ``footfall worker`` and ``footfall queue dlq``.

``footfall worker`` runs until SIGTERM or SIGINT, then finishes the batch under way
(stored and acknowledged), gives its partitions back and exits 0; its last line is a
JSON summary (events written, batches, dead letters, queue lag percentiles).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

from footfall.config import Settings, SettingsError

Sub = Any  # argparse's subparsers action (a private type)


def add_parser(sub: Sub, common: argparse.ArgumentParser) -> None:
    """Register ``worker`` and ``queue dlq list|retry|purge`` on the command line."""
    worker = sub.add_parser(
        "worker", parents=[common], help="store queued events (Redis shape; run several)",
        description="Read the Redis queue's partitions (FOOTFALL_QUEUE_URL) and store their "
        "events (FOOTFALL_STORE_URL, a ClickHouse server). SIGTERM finishes the batch under "
        "way, then exits 0.",
    )  # fmt: skip
    worker.add_argument("--name", help="consumer name (default: host-pid-random)")
    worker.set_defaults(func=cmd_worker)
    queue = sub.add_parser("queue", help="the event queue").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    dlq = queue.add_parser("dlq", help="the dead-letter stream").add_subparsers(
        dest="dlq_action", required=True, metavar="ACTION"
    )
    ls = dlq.add_parser("list", parents=[common], help="list dead letters (oldest first)")
    ls.add_argument("--limit", type=int, default=100, help="most letters shown (default 100)")
    ls.add_argument("--json", action="store_true", help="one JSON object a line")
    ls.set_defaults(func=cmd_dlq_list)
    for name, func, what in (
        ("retry", cmd_dlq_retry, "put dead letters back into the queue"),
        ("purge", cmd_dlq_purge, "delete dead letters"),
    ):
        p = dlq.add_parser(name, parents=[common], help=what)
        p.add_argument("ids", nargs="*", metavar="ID", help="dead-letter ids (from list)")
        p.add_argument("--all", action="store_true", help="every dead letter")
        p.set_defaults(func=func)


def serve_shape_problem(settings: Settings) -> str | None:
    """Why ``footfall serve`` cannot run with these settings in the Redis shape: its
    events would wait in Redis for workers that cannot open a one-process store."""
    from footfall.store.factory import parse_store_url

    if not settings.queue_url:
        return None
    target = parse_store_url(settings.store_url, settings.data_dir)
    if target is None or target.path:
        return (
            "FOOTFALL_QUEUE_URL=redis:// is the scale-out shape: `footfall worker` processes "
            "store the events, so FOOTFALL_STORE_URL must be clickhouse://user:password@host:"
            "8123/database (DuckDB and chdb:// are opened by one process only)"
        )
    return None


def _settings(args: argparse.Namespace) -> Settings:
    try:
        settings = Settings.from_env(data_dir=getattr(args, "data_dir", None))
    except SettingsError as exc:
        sys.exit(f"footfall: configuration error: {exc}")
    if not settings.queue_url:
        sys.exit(
            "footfall: FOOTFALL_QUEUE_URL is empty: the embedded spool is drained by "
            "`footfall serve` itself; workers need redis://host:6379/0"
        )
    return settings


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from footfall import memory
    from footfall.ingest.sitecache import SiteCache
    from footfall.meta.repo import Metadata
    from footfall.store import open_store
    from footfall.worker.loop import Worker, WorkerConfig

    # A worker is a long-lived writer like the server's: the same memory keeping.
    memory.limit_arenas()
    memory.keep_pandas_out()

    try:
        store = open_store(settings)
    except Exception as exc:  # unreachable server, bad credentials: one line, no traceback
        sys.exit(f"footfall worker: cannot open the store at FOOTFALL_STORE_URL ({exc})")
    if store.capabilities.single_writer_process:
        store.close()
        sys.exit(
            "footfall worker: FOOTFALL_STORE_URL must name a store several processes can "
            "write (clickhouse://user:password@host:8123/database); this one is opened by "
            "one process only, the server"
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the scratch file, SQLite metadata
    meta = Metadata(settings.metadata_url)
    meta.migrate()  # idempotent; a worker may start before any server
    config = WorkerConfig(
        partitions=settings.queue_partitions,
        batch_size=settings.batch_size,
        interval_ms=settings.flush_interval_ms,
        session_timeout_ms=settings.session_timeout_minutes * 60_000,
        allow_headless=settings.allow_headless,
        lease_ms=settings.worker_lease_ms,
        claim_idle_ms=settings.worker_claim_idle_ms,
        max_failures=settings.worker_max_failures,
        retry_base_ms=settings.worker_retry_base_ms,
    )
    worker = Worker(
        settings.queue_url, settings.redis_prefix, store, SiteCache(meta).domains_of, config,
        consumer=args.name, scratch_dir=settings.data_dir,
    )  # fmt: skip
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    print(
        f"footfall worker {worker.consumer}: {config.partitions} partition(s), "
        f"store {store.capabilities.name}",
        flush=True,
    )
    trimmer = memory.Trimmer()
    trimmer.start()
    try:
        worker.run()
    finally:
        trimmer.stop()
        # Everything taken is stored and acknowledged: a second signal (an impatient
        # supervisor) must not turn this clean exit into a death by signal.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        store.close()
        meta.close()
    s = worker.stats
    summary = {
        "worker": worker.consumer, "events_written": s.events_written, "batches": s.batches,
        "duplicates_skipped": s.duplicates_skipped, "dropped": s.dropped,
        "dead_lettered": s.dead_lettered, "errors": s.errors, "fenced": s.fenced,
        "lag_p50_s": s.lag_percentile(0.5), "lag_p95_s": s.lag_percentile(0.95),
        "lag_ms": s.lag_ms,
    }  # fmt: skip
    print(json.dumps(summary), flush=True)
    return 0


def _dead_letters(args: argparse.Namespace, action: Callable[[Any, Settings], int]) -> int:
    import redis

    from footfall.worker.dlq import DeadLetters

    settings = _settings(args)
    client = redis.Redis.from_url(settings.queue_url, socket_timeout=10, socket_connect_timeout=2)
    try:
        return action(DeadLetters(client, settings.redis_prefix), settings)
    except redis.RedisError as exc:
        sys.exit(f"footfall: redis at FOOTFALL_QUEUE_URL is unreachable ({exc})")
    finally:
        client.close()


def cmd_dlq_list(args: argparse.Namespace) -> int:
    def show(dead: Any, _: Settings) -> int:
        letters = dead.letters(args.limit)
        for d in letters:
            row = {
                "id": d.id, "partition": d.partition, "source_id": d.source_id,
                "failures": d.failures, "error": d.error,
                "event": d.payload.decode(errors="replace"),
            }  # fmt: skip
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{d.id}  partition {d.partition}  failures {d.failures}  {d.error}")
                print(f"    {row['event'][:200]}")
        if not args.json:
            print(f"{dead.size()} dead letter(s)")
        return 0

    return _dead_letters(args, show)


def _selected(args: argparse.Namespace) -> list[str] | None:
    if args.all == bool(args.ids):
        sys.exit("footfall: name dead-letter ids, or --all (not both)")
    return None if args.all else list(args.ids)


def cmd_dlq_retry(args: argparse.Namespace) -> int:
    ids = _selected(args)
    return _dead_letters(
        args,
        lambda dead, s: print(f"{dead.retry(ids, s.queue_partitions)} letter(s) requeued") or 0,
    )


def cmd_dlq_purge(args: argparse.Namespace) -> int:
    ids = _selected(args)
    return _dead_letters(args, lambda dead, _: print(f"{dead.purge(ids)} letter(s) deleted") or 0)
