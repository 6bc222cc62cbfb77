"""Wiring: builds the ports (metadata, store, queue, limits) from Settings and runs them.

``Services`` is what HTTP handlers reach through ``request.app.state.services``; the
lifespan in ``app.py`` calls ``start`` and ``stop``. Stopping drains the queue into the
store before closing it, so Ctrl-C leaves nothing behind but an empty queue.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field

from footfall import telemetry
from footfall.api.ratelimit import RateLimiter
from footfall.config import Settings
from footfall.ingest.geo import GeoLookup
from footfall.ingest.pipeline import Pipeline
from footfall.ingest.sitecache import SiteCache
from footfall.jobs.scheduler import Scheduler
from footfall.memory import Trimmer
from footfall.meta.repo import Metadata
from footfall.meta.salts import SaltStore
from footfall.query.dialects import DIALECTS
from footfall.query.rollup import spec as rollup_spec
from footfall.query.runner import QueryRunner
from footfall.queue import open_queue
from footfall.queue.base import EventQueue
from footfall.queue.writer import Writer, WriterStats
from footfall.shared.base import RequestLimits, SharedState
from footfall.shared.factory import open_shared
from footfall.store import open_store
from footfall.store.base import EventStore

log = logging.getLogger("footfall")


@dataclass
class Services:
    settings: Settings
    meta: Metadata
    sites: SiteCache
    salts: SaltStore
    pipeline: Pipeline
    queue: EventQueue
    store: EventStore
    writer: Writer | None  # None in the Redis shape: `footfall worker` processes store events
    ip_limiter: RateLimiter
    key_limiter: RateLimiter
    limits: RequestLimits  # the two above as a collection request checks them
    scheduler: Scheduler
    runner: QueryRunner
    shared: SharedState  # what several serve processes share (footfall/shared/)
    started: bool = field(default=False)
    # Gives the heap's free pages back to the OS while the server runs (memory.py).
    trimmer: Trimmer = field(default_factory=Trimmer)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        meta = Metadata(settings.metadata_url)
        meta.migrate()
        sites = SiteCache(meta)
        salts = SaltStore(meta)
        store = open_store(settings)
        queue = open_queue(settings)
        # The writer's rounds are folded into the rollups as it stores them (issue 25).
        spec = rollup_spec(DIALECTS[store.capabilities.sql_dialect])
        store.fold_rounds(spec, sites.timezone_of, queue.depth)
        writer = (
            None
            if queue.consumed_by_workers
            else Writer(
                queue,
                store,
                sites.domains_of,
                batch_size=settings.batch_size,
                interval_ms=settings.flush_interval_ms,
                session_timeout_ms=settings.session_timeout_minutes * 60_000,
                allow_headless=settings.allow_headless,
                scratch_dir=settings.data_dir,
            )
        )
        runner = QueryRunner(
            store, concurrency=settings.query_concurrency or max(1, (os.cpu_count() or 2) - 1)
        )
        shared = open_shared(settings, runner, sites.domains_of)
        sites.follow(shared.site_changes)
        ip_limiter = shared.limiter(
            "ip", settings.rate_limit_per_ip, settings.rate_limit_per_ip_burst
        )
        key_limiter = shared.limiter(
            "key", settings.rate_limit_per_key, settings.rate_limit_per_key_burst
        )
        services = cls(
            settings=settings,
            meta=meta,
            sites=sites,
            salts=salts,
            pipeline=Pipeline(settings, sites, salts, GeoLookup(settings.maxmind_db)),
            queue=queue,
            store=store,
            writer=writer,
            ip_limiter=ip_limiter,
            key_limiter=key_limiter,
            limits=shared.request_limits(ip_limiter, key_limiter),
            scheduler=Scheduler(),
            runner=runner,
            shared=shared,
        )
        from footfall.jobs.registry import register_default_jobs

        register_default_jobs(services)
        return services

    def start(self) -> None:
        if self.writer is not None:
            self.writer.start()
        self.scheduler.start()
        self.trimmer.start()
        telemetry.watch(self.metrics_state)
        self.started = True

    def wait_stored(self, timeout: float) -> bool:
        """Block until every acknowledged event is in the store: the server's own writer
        drains the spool; in the Redis shape the workers drain the streams. False when
        ``timeout`` seconds pass first."""
        if self.writer is not None:
            return self.writer.wait_idle(timeout)
        deadline = time.monotonic() + timeout
        while self.queue.depth() > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def metrics_state(self) -> dict[str, float]:
        """The queue's and the writer's figures for ``/metrics`` (telemetry.SERVER_*).

        Blocking with a Redis queue (a round trip): callers on the event loop run it in a
        worker thread (api/health.py)."""
        w = self.writer.stats if self.writer is not None else WriterStats()
        return {
            "queue_depth_events": self.writer.lag() if self.writer else self.queue.depth(),
            "queue_bytes": self.queue.size_bytes(),
            "writer_last_batch_seconds": w.last_batch_seconds,
            "writer_seconds_since_last_batch": (
                time.time() - w.last_batch_at if w.last_batch_at else math.nan
            ),
            "writer_events_written": w.events_written,
            "writer_duplicates_skipped": w.duplicates_skipped,
            "writer_dropped": w.dropped,
            "writer_dropped_bot": w.dropped_bot,
            "writer_dropped_referrer_spam": w.dropped_referrer_spam,
            "writer_batches": w.batches,
            "writer_errors": w.errors,
        }

    async def stop(self) -> None:
        """Flush pending appends, drain the queue into the store, close everything."""
        self.store.interrupt_maintenance()  # a first rollup build can take minutes
        telemetry.unwatch(self.metrics_state)
        self.scheduler.stop()
        self.trimmer.stop()
        await self.queue.close()
        if self.writer is not None:
            self.writer.stop()
        await self.shared.close()
        self.store.close()
        self.meta.close()
        self.started = False
        log.info("footfall stopped cleanly; queue drained")
