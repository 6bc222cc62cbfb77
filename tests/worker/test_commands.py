"""The Redis shape's command line refuses what cannot work, in one line, no traceback:
a server whose events no worker could store, a worker without a queue or without a
store that several processes can write."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.cli import main
from tests.serverproc import free_port
from tests.support.redis import REDIS_URL


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FOOTFALL_STORE_URL", raising=False)
    monkeypatch.setenv("FOOTFALL_QUEUE_URL", REDIS_URL)


@pytest.mark.usefixtures("env")
def test_serve_with_redis_and_a_one_process_store_is_refused() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--port", str(free_port())])
    assert "FOOTFALL_STORE_URL must be clickhouse://" in str(exc.value)


@pytest.mark.usefixtures("env")
def test_worker_refuses_a_store_only_one_process_can_write() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["worker"])
    assert "several processes can write" in str(exc.value)


@pytest.mark.usefixtures("env")
def test_worker_without_a_queue_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_QUEUE_URL", "")
    with pytest.raises(SystemExit) as exc:
        main(["worker"])
    assert "FOOTFALL_QUEUE_URL is empty" in str(exc.value)


@pytest.mark.usefixtures("env")
def test_worker_with_an_unreachable_store_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_STORE_URL", f"clickhouse://default:@127.0.0.1:{free_port()}/x")
    with pytest.raises(SystemExit) as exc:
        main(["worker"])
    assert "cannot open the store" in str(exc.value)
