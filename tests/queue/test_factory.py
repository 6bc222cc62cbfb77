"""``open_queue`` and ``FOOTFALL_QUEUE_URL``: the queue a process uses, checked at start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from footfall.config import Settings, SettingsError
from footfall.queue import QueueURLError, open_queue
from footfall.queue.base import QueueFull
from footfall.queue.spool import Spool


def test_empty_url_is_the_spool_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    queue = open_queue(settings)
    assert isinstance(queue, Spool)
    start = queue.first_position()
    queue.append_sync([b"one", b"two"])
    queue.close_sync()
    assert list((tmp_path / "spool").glob("*.seg"))
    # Reopened by the factory, what was durable is still there, read from a plain pair
    # (the store keeps its progress as one).
    again = open_queue(settings)
    try:
        payloads, end = again.read((start[0], start[1]), 10)
        assert payloads == [b"one", b"two"]
        assert again.read(end, 10) == ([], end)
    finally:
        again.close_sync()


def test_a_full_spool_raises_the_ports_queue_full(tmp_path: Path) -> None:
    queue = open_queue(Settings(data_dir=tmp_path, spool_max_bytes=1 << 20))

    async def fill() -> None:
        with pytest.raises(QueueFull) as refused:
            for _ in range(40):
                await queue.append([b"x" * 60_000])
        assert refused.value.retry_after > 0
        await queue.close()

    asyncio.run(fill())


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("amqp://127.0.0.1", "must be empty (the embedded spool) or redis://"),
        ("redis://", "redis:// needs a host"),
        ("redis://127.0.0.1:99999/0", "not a valid URL"),
        ("redis://127.0.0.1:6379/zero", "the database after the host must be a number"),
    ],
)
def test_queue_url_is_checked_at_start(url: str, says: str) -> None:
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({"FOOTFALL_QUEUE_URL": url})
    assert "FOOTFALL_QUEUE_URL" in str(bad.value)
    assert says in str(bad.value)


def test_a_password_in_the_queue_url_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({"FOOTFALL_QUEUE_URL": "redis://app:s3cret@127.0.0.1:6379/x"})
    assert "s3cret" not in str(bad.value)
    assert "redis://app:***@127.0.0.1:6379/x" in str(bad.value)


@pytest.mark.parametrize("prefix", ["has space:", "x" * 65])
def test_redis_prefix_is_checked(prefix: str) -> None:
    with pytest.raises(SettingsError, match="FOOTFALL_REDIS_PREFIX"):
        Settings.from_env({"FOOTFALL_REDIS_PREFIX": prefix})


def test_open_queue_refuses_what_validation_refuses(tmp_path: Path) -> None:
    # Settings built in code skip from_env; the factory checks again rather than
    # silently falling back to the spool.
    settings = Settings(data_dir=tmp_path, queue_url="redis://127.0.0.1:6379/db")
    with pytest.raises(QueueURLError, match="must be a number"):
        open_queue(settings)
    assert not (tmp_path / "spool").exists()


def test_serve_with_a_bad_queue_url_stops_with_one_clear_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "footfall.cli", "serve"],
        env={
            **os.environ,
            "FOOTFALL_DATA_DIR": str(tmp_path),
            "FOOTFALL_QUEUE_URL": "redis://127.0.0.1:6379/zero",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "FOOTFALL_QUEUE_URL the database after the host must be a number" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380/1"])
def test_redis_urls_are_accepted(url: str) -> None:
    assert Settings.from_env({"FOOTFALL_QUEUE_URL": url}).queue_url == url
