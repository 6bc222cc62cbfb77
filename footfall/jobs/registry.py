"""The maintenance jobs every ``footfall serve`` runs, and how often."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from footfall.jobs.compact import WriterActivity, rollups_settling, run_compact
from footfall.jobs.retention import run_retention, site_retention, table_retention
from footfall.jobs.rollups import run_rollups

if TYPE_CHECKING:
    from footfall.runtime import Services

DAY = 86_400.0


def register_default_jobs(services: Services) -> None:
    s = services
    s.scheduler.add(
        "retention",
        DAY,
        lambda: run_retention(
            s.store,
            s.settings.retention_days,
            site_days=site_retention(s.meta),
            tables=table_retention(s.meta),
        ),
        first_in=60.0,
    )
    # Hourly is enough: the salt changes at UTC midnight and the hot path creates today's
    # on first use; this job is what deletes salts older than 48 hours.
    s.scheduler.add("salts", 3600.0, lambda: s.salts.rotate(datetime.now(UTC)), first_in=5.0)
    # Reports go out in the first hour after their week or month ends; spikes are hourly.
    from footfall.mail.schedule import Mailer

    mailer = Mailer(s.settings, s.meta, s.runner)
    s.scheduler.add("reports", 3600.0, mailer.run, first_in=120.0)
    writer = s.writer

    def activity() -> WriterActivity:
        return WriterActivity(
            lambda: writer.stats.events_written if writer is not None else 0,
            lambda: writer.lag() if writer is not None else s.queue.depth(),
        )

    if s.store.capabilities.rollups or s.store.capabilities.daily_rollups:
        # Not in the middle of a bulk load (looked at every second; at most two hours late,
        # about as long as a 10M-event load takes a small server): each run then built or
        # sealed what the next rows made stale at once, took the cores from the writer
        # and held its checkpoints off (1M events: a build mid-load, then a seal of the
        # 98k visitors it missed, 326 s and 1.3 GB of spill, against one build of the
        # whole load once the writer is done). Folding the load in as it came, every 5 s,
        # cost a third of the load's rate and made the panels fast later (1M: 222 s after
        # the last ack against 144 s; docs/benchmarks.md, issue 25).
        s.scheduler.add(
            "rollups", s.settings.rollup_interval_seconds, lambda: run_rollups(s.store, s.meta),
            first_in=min(10.0, s.settings.rollup_interval_seconds),
            wait_while=activity().busy, retry_seconds=1.0, max_wait_seconds=7200.0,
        )  # fmt: skip

    def rollups_unsettled() -> bool:
        job = s.scheduler.jobs.get("rollups")
        return rollups_settling(job.last_result if job is not None else None)

    writing = activity()
    # Hourly, first after ten minutes, and never in the middle of a bulk load nor before
    # the rollups have folded it in (checked again each minute until both are over): a
    # bulk load and its first rollup build are what leave most free blocks and unsorted
    # events (footfall/store/duckdb/compact.py), and a rewrite beside the build or the
    # dashboard's first reads after it slows them.
    s.scheduler.add(
        "compact", 3600.0, lambda: run_compact(s.store, s.settings.compact_free_ratio),
        first_in=600.0, wait_while=lambda: writing.busy() or rollups_unsettled(),
        retry_seconds=60.0,
    )  # fmt: skip
