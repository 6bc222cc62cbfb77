"""The embedded deployment's queue: a durable on-disk spool of append-only segment files.

``core`` holds its state and lifecycle, ``append`` the group-committed appends, ``read``
what the writer reads, ``segments`` the file format and ``recent`` the rounds kept in
memory for a reader in the same process.
"""

from footfall.queue.spool.core import Position, Spool, SpoolCorrupt, SpoolFull

__all__ = ["Position", "Spool", "SpoolCorrupt", "SpoolFull"]
