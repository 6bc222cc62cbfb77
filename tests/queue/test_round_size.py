"""How many events a writer round stores: the store's own size unless FOOTFALL_BATCH_SIZE
says otherwise (ClickHouse prefers fewer, larger inserts; DuckDB's rounds stay smaller to
bound the embedded server's memory during a backlog)."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.config import Settings, SettingsError
from footfall.runtime import Services
from footfall.worker.loop import Worker, WorkerConfig

OWN = {"duckdb": 150_000, "clickhouse": 400_000}


@pytest.mark.parametrize("batch_size", ["", "0", "1000"])
def test_a_round_takes_the_stores_size_unless_the_setting_names_one(
    tmp_path: Path, store_url: str, batch_size: str
) -> None:
    settings = Settings.from_env({
        "FOOTFALL_DATA_DIR": str(tmp_path / "data"),
        "FOOTFALL_STORE_URL": store_url,
        "FOOTFALL_BATCH_SIZE": batch_size,
    })  # fmt: skip
    svc = Services.build(settings)
    try:
        assert svc.writer is not None
        expected = int(batch_size or 0) or OWN[svc.store.capabilities.name]
        assert svc.writer.batch_size == expected
        worker = Worker("redis://127.0.0.1:6379/0", "footfall-test-round-size:", svc.store,
                        lambda s: (), WorkerConfig(batch_size=settings.batch_size))  # fmt: skip
        assert worker.config.batch_size == expected
        worker.client.close()
    finally:
        svc.store.close()
        svc.meta.close()
        svc.queue.close_sync()


def test_a_negative_batch_size_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="BATCH_SIZE"):
        Settings.from_env({"FOOTFALL_DATA_DIR": str(tmp_path), "FOOTFALL_BATCH_SIZE": "-1"})
