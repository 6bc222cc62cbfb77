"""How much memory and how many threads DuckDB gets when the operator says nothing.

DuckDB's own defaults suit a database server: a memory limit of 80% of RAM and a thread
per core. Footfall runs beside a website on a small server, and DuckDB keeps what it
appended and read in its buffer pool up to that limit: a 10M-event bulk load grew the
server to 14 GB of RSS on a 23 GB machine (issue 25). A buffer pool of a quarter of RAM,
at most 448 MiB, held a 10M-event site's dashboard working set here (bench/footprint.py
measures both); beyond it DuckDB evicts or spills to ``<file>.tmp`` beside the database.
``FOOTFALL_DUCKDB_MEMORY_LIMIT`` and ``FOOTFALL_DUCKDB_THREADS`` still override. The
limit covers DuckDB's buffers, not the pages its allocator keeps after a query: those go
back to the system by a background thread (``ALLOCATOR_SETTINGS``).
"""

from __future__ import annotations

import os

from footfall.memory import physical_memory

MIB = 1 << 20
# A quarter of RAM leaves the rest to the site the server also runs, the page cache and
# Python. The dashboard over 10M events peaks at ~370 MiB of process whatever the limit,
# and its p95 under 448 MiB was 0.84-0.91x of no limit (docs/benchmarks.md); 448 rather
# than 512 keeps the whole server under 1 GiB where DuckDB is full (a load, a build).
MEMORY_SHARE = 0.25
MEMORY_CAP = 448 * MIB
MEMORY_FLOOR = 128 * MIB
# The WAL size at which the store checkpoints: DuckDB's own ``checkpoint_threshold``, and
# the rollups job's explicit one between its transactions (store.py ``_maintenance_step``;
# no checkpoint can run while one is open). Until a checkpoint the appended rows sit
# uncompressed in the buffer pool and spill to ``<file>.tmp`` past the memory limit: a
# 1M-event load through HTTP held 300-380 MB of WAL and 620-980 MB of spill (the transient
# 1.6 GB of docs/benchmarks.md). 16MB (DuckDB's default) cost a third of each write round.
CHECKPOINT_THRESHOLD = "64MB"
CHECKPOINT_BYTES = 64 * 10**6
# More threads than this buy a small site nothing and each holds its own buffers.
THREADS_CAP = 8
# DuckDB's allocator (jemalloc) keeps the pages a query freed until it next allocates,
# outside the memory limit: a 3M-row GROUP BY left 220 MiB resident after it finished,
# which then stacked under the next job's working set. Its background thread gives them
# back within about a second (the same query: 402 MiB resident after it, 184 MiB with it).
ALLOCATOR_SETTINGS = {"allocator_background_threads": True}


def default_memory_limit(ram: int | None = None) -> str:
    """DuckDB's memory limit when none is configured, as DuckDB reads it (``"448MiB"``)."""
    ram = physical_memory() if ram is None else ram
    limit = max(MEMORY_FLOOR, min(MEMORY_CAP, int(ram * MEMORY_SHARE)))
    return f"{limit // MIB}MiB"


def default_threads(cores: int | None = None) -> int:
    """DuckDB's threads when none are configured: one per core this process may use."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    return max(1, min(THREADS_CAP, cores or os.cpu_count() or 1))
