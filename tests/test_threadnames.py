"""Footfall's threads carry their names at the OS level (``top -H``, ``ps -L``, /proc), so
an operator can see which one spends the CPU."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import Footfall

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="OS thread names are set on Linux only"
)


def _os_thread_names() -> list[str]:
    tasks = Path(f"/proc/{os.getpid()}/task")
    return [(t / "comm").read_text().strip() for t in tasks.iterdir()]


def test_writer_spool_and_jobs_threads_are_named_for_the_os(footfall: Footfall) -> None:
    # One accepted event starts the spool's fsync thread and passes through the writer.
    assert (
        footfall.send(
            {"event_type": "pageview", "path": "/", "url": "https://example.com/"}
        ).status_code
        == 202
    )
    footfall.flush()
    names = _os_thread_names()
    for name in ("footfall-writer", "footfall-spool", "footfall-jobs"):
        assert name in names, names
