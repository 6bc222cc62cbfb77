"""Spool append throughput: one appender vs. many concurrent ones (group commit).

Prints appends/s for
  raw   os.write + os.fsync per record on a plain file (the disk's floor),
  (a)   one asyncio task awaiting Spool.append one record at a time,
  (b)   256 concurrent tasks doing the same (their appends share fsyncs),
and the ratio (b)/(a). Each phase runs for --seconds (default 3), so the whole run takes
well under 30 s. The numbers depend on the disk: run with --dir on the disk that will
hold the spool.

    .venv/bin/python bench/spool.py [--dir PATH] [--seconds S] [--tasks N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from footfall.queue.spool import Spool

PAYLOAD = b"\x9e" + b"p" * 299  # about the size of a msgpack'd event


class CountingFsync:
    """Wraps os.fsync to report how many appends each fsync carried."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = os.fsync

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.real(fd)


def bench_raw(directory: Path, seconds: float) -> float:
    fd = os.open(directory / "raw.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    n = 0
    started = time.perf_counter()
    deadline = started + seconds
    try:
        while time.perf_counter() < deadline:
            os.write(fd, PAYLOAD)
            os.fsync(fd)
            n += 1
    finally:
        os.close(fd)
    return n / (time.perf_counter() - started)


async def bench_spool(directory: Path, seconds: float, tasks: int) -> tuple[float, float]:
    spool = Spool(directory)
    spool.open()
    counter = CountingFsync()
    os.fsync = counter  # type: ignore[assignment]
    done = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def appender() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await spool.append([PAYLOAD])
            done += 1

    try:
        await asyncio.gather(*(appender() for _ in range(tasks)))
        elapsed = time.perf_counter() - started
    finally:
        os.fsync = counter.real
        await spool.close()
    return done / elapsed, done / max(counter.calls, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to write (a temp dir)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per phase")
    parser.add_argument("--tasks", type=int, default=256, help="concurrent appenders in (b)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="footfall-bench-spool-", dir=args.dir))
    try:
        raw = bench_raw(root, args.seconds)
        print(f"raw os.write+fsync per record : {raw:10.0f} records/s")
        one, per_fsync_a = asyncio.run(bench_spool(root / "a", args.seconds, 1))
        print(f"(a) 1 task, append one by one  : {one:10.0f} appends/s ({per_fsync_a:.1f}/fsync)")
        many, per_fsync_b = asyncio.run(bench_spool(root / "b", args.seconds, args.tasks))
        label = f"(b) {args.tasks} concurrent tasks"
        print(f"{label:<31}: {many:10.0f} appends/s ({per_fsync_b:.1f}/fsync)")
        print(f"ratio (b)/(a)                  : {many / one:10.1f}x")
        print(f"ratio (a)/raw                  : {one / raw:10.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
