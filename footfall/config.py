"""Settings: one typed object read from ``FOOTFALL_*`` environment variables.

Every field carries its documentation next to its default; ``footfall config docs`` prints
the README's configuration table from these, and a test checks the README agrees. A bad
value fails at start with a message that names the variable, never later at first use.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "FOOTFALL_"
_SIZE = r"(\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB))?"


class SettingsError(ValueError):
    """A FOOTFALL_* variable holds a value that cannot be used."""


def _doc(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime configuration of one Footfall process (``serve`` or ``worker``)."""

    host: str = _doc("127.0.0.1", "Address `footfall serve` listens on.")
    port: int = _doc(8000, "TCP port `footfall serve` listens on.")
    data_dir: Path = _doc(
        Path("footfall-data"), "Directory holding all state: DuckDB store, spool, SQLite metadata."
    )
    admin_token: str = _doc(
        "", "Bearer token for admin HTTP endpoints; unset means admin endpoints answer 403."
    )
    store_url: str = _doc(
        "",
        "Event store: empty means DuckDB in the data directory; "
        "`clickhouse://user:password@host:8123/database` (`?secure=true` for https) a "
        "ClickHouse server; `chdb://` or `chdb:///absolute/path` ClickHouse's engine in this "
        "process (no path: `<data dir>/clickhouse`).",
    )
    queue_url: str = _doc(
        "",
        "Event queue: empty means the durable spool in the data directory; "
        "`redis://host:6379/0` (or `rediss://`) Redis Streams, drained by `footfall worker` "
        "processes (while Redis is unreachable, collection answers 503 with Retry-After).",
    )
    # The Redis shape's workers (footfall/worker/): one block, kept together.
    queue_partitions: int = _doc(
        4,
        "Redis streams the events are spread over by site and visitor; each is read by one "
        "`footfall worker` at a time, so more partitions let more workers share the load.",
    )
    worker_lease_ms: int = _doc(
        10000, "How long a worker's hold on a partition lasts without renewal (it renews often)."
    )
    worker_claim_idle_ms: int = _doc(
        30000,
        "How long a batch read by a worker must sit unacknowledged before another worker "
        "reclaims it (XAUTOCLAIM): the time a dead worker's events wait.",
    )
    worker_max_failures: int = _doc(
        5, "Failed deliveries after which an unreadable event moves to the dead-letter stream."
    )
    worker_retry_base_ms: int = _doc(
        200, "First wait before a failed batch is retried; doubled at each failure, up to 30 s."
    )
    redis_prefix: str = _doc(
        "footfall:",
        "Prefix of every Redis key Footfall uses, so that two installations can share one Redis.",
    )
    database_url: str = _doc(
        "", "SQLAlchemy URL of the metadata database; empty means SQLite in the data directory."
    )
    log_level: str = _doc("info", "Log level: debug, info, warning or error.")
    rate_limit_per_ip: float = _doc(
        100.0, "Collection requests per second allowed per client IP; 0 turns the limit off."
    )
    rate_limit_per_ip_burst: int = _doc(1000, "Burst size of the per-IP rate limit.")
    # Every browser of a site shares its public ingest key, so this caps a whole site's
    # traffic: it is set high, as a guard against a runaway sender, not a quota.
    rate_limit_per_key: float = _doc(
        10000.0, "Collection requests per second allowed per ingest key; 0 turns the limit off."
    )
    rate_limit_per_key_burst: int = _doc(100000, "Burst size of the per-key rate limit.")
    trusted_proxies: int = _doc(
        0,
        "Number of reverse-proxy hops in front of Footfall whose X-Forwarded-For is trusted; "
        "0 takes the client IP from the socket.",
    )
    retention_days: int = _doc(
        0, "Raw events older than this many days are deleted daily; 0 keeps them forever."
    )
    batch_size: int = _doc(
        0,
        "Most events the writer inserts into the store in one batch; 0 takes the store's own "
        "(150000 on DuckDB, 300000 on ClickHouse, which prefers fewer, larger inserts).",
    )
    flush_interval_ms: int = _doc(
        750,
        "Time between the starts of two writer rounds: an acknowledged event is visible after "
        "at most about this long plus one round (each round has a fixed cost, so this also "
        "sets a quiet server's CPU); a shorter interval is stretched up to 1 s under load so "
        "that rounds grow (see queue/writer.py).",
    )
    spool_max_bytes: int = _doc(
        1 << 30, "Spool size cap in bytes; above it collection answers 503 with Retry-After."
    )
    spool_segment_bytes: int = _doc(
        64 << 20,
        "Size at which the spool starts a new segment file (at most a quarter of "
        "FOOTFALL_SPOOL_MAX_BYTES is used, so that consumed segments can be freed).",
    )
    spool_recent_bytes: int = _doc(
        16 << 20,
        "Latest durable spool records kept in memory for the writer (read back without disk "
        "reads); 0 turns it off.",
    )
    max_past_days: int = _doc(30, "Oldest client timestamp accepted, in days before now.")
    max_future_seconds: int = _doc(300, "Furthest client timestamp accepted, in seconds after now.")
    maxmind_db: str = _doc(
        "", "Path to an operator-supplied MaxMind/DB-IP .mmdb; used before the built-in table."
    )
    session_timeout_minutes: int = _doc(30, "Inactivity gap that ends a visit.")
    duckdb_threads: int = _doc(
        0, "Threads DuckDB may use for writes and queries; 0 means one per core, at most 8."
    )
    duckdb_memory_limit: str = _doc(
        "",
        "DuckDB memory limit such as 1GB (bounds its block cache); empty: a quarter of RAM, "
        "at most 448MiB (beyond it DuckDB evicts, or spills to events.duckdb.tmp).",
    )
    compact_free_ratio: float = _doc(
        0.3,
        "Share of the DuckDB file in free blocks at which the hourly compaction job rewrites "
        "it (writes pause meanwhile; needs free disk for the used part); 0 turns it off.",
    )
    query_concurrency: int = _doc(
        0,
        "Stats queries run at once; more wait their turn, so dashboards never take every core "
        "from ingestion. 0 means one less than the number of cores (at least 1).",
    )
    shutdown_timeout_seconds: int = _doc(
        120,
        "How long Ctrl-C waits for `footfall serve` to drain the spool into the store and stop; "
        "a worker still running then is killed (nothing acknowledged is lost: the next start "
        "replays the spool). 0 waits for ever.",
    )
    allow_headless: bool = _doc(
        False,
        "Count visits from headless Chromium like any browser's instead of dropping them as "
        "bots (for browser tests of a site).",
    )
    live_interval_s: float = _doc(
        3.0, "Seconds between two updates of the dashboard's live visitor count (at most 10)."
    )
    rollup_interval_seconds: float = _doc(
        60.0,
        "How often new events are folded into the exact rollups the dashboard reads; until "
        "then their days are read from raw events (always exact, slower on big sites).",
    )
    # -- logs, e-mail reports and alerts (footfall/logs.py, footfall/mail/) --------------
    log_format: str = _doc(
        "",
        "Log lines: `json` (one object a line: requests, writer rounds, errors with their "
        "traceback inside) or `text`; empty means text on a terminal, JSON otherwise.",
    )
    smtp_url: str = _doc(
        "",
        "SMTP server for e-mail reports and alerts, such as "
        "`smtp://user:password@host:587?starttls=true` (or `smtps://` for TLS from the "
        "start); empty sends no mail.",
    )
    mail_from: str = _doc("", "Sender address of e-mail reports and alerts.")
    public_url: str = _doc(
        "",
        "The address people reach this server at, for links in e-mails (unsubscribe, "
        "dashboard); empty means http://HOST:PORT.",
    )

    @property
    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'meta.sqlite3'}"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "events.duckdb"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every field from ``FOOTFALL_<FIELD>``; ``overrides`` win (CLI flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = PREFIX + f.name.upper()
            if f.name in overrides and overrides[f.name] is not None:
                values[f.name] = overrides[f.name]
                continue
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(name, raw, type(f.default))
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("port", 0 < self.port < 65536, "must be between 1 and 65535"),
            ("rate_limit_per_ip", self.rate_limit_per_ip >= 0, "must be >= 0"),
            ("rate_limit_per_key", self.rate_limit_per_key >= 0, "must be >= 0"),
            ("rate_limit_per_ip_burst", self.rate_limit_per_ip_burst >= 1, "must be >= 1"),
            ("rate_limit_per_key_burst", self.rate_limit_per_key_burst >= 1, "must be >= 1"),
            ("trusted_proxies", self.trusted_proxies >= 0, "must be >= 0"),
            ("retention_days", self.retention_days >= 0, "must be >= 0"),
            ("batch_size", self.batch_size >= 0, "must be >= 0"),
            ("flush_interval_ms", self.flush_interval_ms >= 1, "must be >= 1"),
            ("spool_max_bytes", self.spool_max_bytes >= 1 << 20, "must be at least 1 MiB"),
            ("spool_segment_bytes", self.spool_segment_bytes >= 1 << 16, "must be >= 64 KiB"),
            ("spool_recent_bytes", self.spool_recent_bytes >= 0, "must be >= 0"),
            ("max_past_days", self.max_past_days >= 0, "must be >= 0"),
            ("max_future_seconds", self.max_future_seconds >= 0, "must be >= 0"),
            ("session_timeout_minutes", self.session_timeout_minutes >= 1, "must be >= 1"),
            ("duckdb_threads", self.duckdb_threads >= 0, "must be >= 0"),
            ("compact_free_ratio", 0 <= self.compact_free_ratio < 1, "must be >= 0 and < 1"),
            ("rollup_interval_seconds", self.rollup_interval_seconds >= 1, "must be >= 1"),
            ("shutdown_timeout_seconds", self.shutdown_timeout_seconds >= 0, "must be >= 0"),
            ("query_concurrency", self.query_concurrency >= 0, "must be >= 0"),
            ("live_interval_s", 0 < self.live_interval_s <= 10, "must be > 0 and <= 10"),
            (
                "duckdb_memory_limit",
                re.fullmatch(_SIZE, self.duckdb_memory_limit) is not None,
                "must be a size such as 512MB or 2GB",
            ),
            (
                "store_url",
                self.store_url.split("://", 1)[0] in ("", "clickhouse", "chdb")
                and (not self.store_url or "://" in self.store_url),
                "must be empty, clickhouse://user:password@host:8123/database or chdb://[/path]",
            ),
            ("log_format", self.log_format in ("", "json", "text"), "must be json, text or empty"),
            (
                "smtp_url",
                self.smtp_url.split("://", 1)[0] in ("", "smtp", "smtps")
                and (not self.smtp_url or "://" in self.smtp_url),
                "must be empty, smtp://user:password@host:587?starttls=true or smtps://...",
            ),
            (
                "public_url",
                self.public_url.startswith(("http://", "https://")) or not self.public_url,
                "must be an http(s) URL or empty",
            ),
            (
                "log_level",
                self.log_level in ("debug", "info", "warning", "error"),
                "must be debug, info, warning or error",
            ),
        ]
        from footfall.queue.factory import check_queue_url

        queue_problem = check_queue_url(self.queue_url)
        checks += [
            ("queue_url", queue_problem is None, queue_problem or ""),
            ("queue_partitions", 1 <= self.queue_partitions <= 64, "must be between 1 and 64"),
            ("worker_lease_ms", self.worker_lease_ms >= 100, "must be >= 100"),
            ("worker_claim_idle_ms", self.worker_claim_idle_ms >= 1, "must be >= 1"),
            ("worker_max_failures", self.worker_max_failures >= 1, "must be >= 1"),
            ("worker_retry_base_ms", self.worker_retry_base_ms >= 1, "must be >= 1"),
            (
                "redis_prefix",
                0 < len(self.redis_prefix) <= 64
                and not any(c.isspace() for c in self.redis_prefix),
                "must be 1 to 64 characters without spaces",
            ),
        ]
        for name, ok, message in checks:
            if not ok:
                shown = _redact(str(getattr(self, name))) if name.endswith("_url") else None
                raise SettingsError(
                    f"{PREFIX}{name.upper()} {message} (got {shown or getattr(self, name)!r})"
                )
        if self.maxmind_db and not Path(self.maxmind_db).is_file():
            raise SettingsError(f"{PREFIX}MAXMIND_DB: no such file {self.maxmind_db!r}")


def _redact(url: str) -> str | None:
    """``url`` quoted with its password masked, or None when it holds none."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return None
    return repr(f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}")


def _parse(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is Path:
            return Path(raw)
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a {kind.__name__}, got {raw!r}") from None


def docs_table() -> str:
    """The README's configuration table, generated from the Settings fields."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        default = f.default
        shown = f"`{default}`" if default not in ("", None) else "(unset)"
        lines.append(f"| `{PREFIX}{f.name.upper()}` | {shown} | {f.metadata['doc']} |")
    return "\n".join(lines)
