"""Segment files of the on-disk spool: record framing, naming, scanning and low-level I/O.

A segment is a plain file of records, each framed as

    4-byte little-endian payload length | 4-byte little-endian crc32(payload) | payload

Nothing else is in the file (no header, no footer, no padding), so a segment can be
appended to with a single ``write`` and its valid prefix found by walking the frames.
Everything here is stateless; :mod:`footfall.queue.spool.core` owns the state and the locking.
"""

from __future__ import annotations

import enum
import os
import re
import struct
import zlib
from pathlib import Path

HEADER = struct.Struct("<II")
HEADER_SIZE = HEADER.size
# The length field is 32 bits wide.
MAX_PAYLOAD = 0xFFFFFFFF

_NAME = re.compile(r"^(\d{20})\.seg$")
_SCAN_CHUNK = 1 << 20


class SpoolCorrupt(Exception):
    """Durable spool data failed its length/crc check (a disk or filesystem fault).

    Only raised for data the spool had already fsync'd; a torn tail left by a crash is
    repaired silently when the spool is opened.
    """


class Stop(enum.Enum):
    """Why :func:`decode` stopped."""

    END = "end"  # the buffer ended exactly on a record boundary
    LIMIT = "limit"  # max_records or max_bytes reached
    INCOMPLETE = "incomplete"  # the buffer ends inside a record
    CORRUPT = "corrupt"  # a zero length or a crc mismatch


def segment_name(number: int) -> str:
    """File name of segment ``number``; zero-padded so that names sort like numbers."""
    return f"{number:020d}.seg"


def list_segments(directory: Path) -> list[int]:
    """Numbers of the segment files in ``directory``, ascending."""
    numbers = []
    for name in os.listdir(directory):
        match = _NAME.match(name)
        if match:
            numbers.append(int(match.group(1)))
    numbers.sort()
    return numbers


def frame(payloads: list[bytes]) -> bytes:
    """Frame ``payloads`` as consecutive records, ready for one write."""
    parts: list[bytes] = []
    append, pack, crc32 = parts.append, HEADER.pack, zlib.crc32
    for payload in payloads:
        size = len(payload)
        # A zero-length record would be indistinguishable from the zero-filled tail some
        # filesystems leave after a crash (length 0, crc32(b"") == 0), so it is refused.
        if size == 0:
            raise ValueError("spool payloads must not be empty")
        if size > MAX_PAYLOAD:
            raise ValueError(f"spool payload too large ({size} bytes)")
        append(pack(size, crc32(payload)))
        append(payload)
    return b"".join(parts)


def decode(
    buf: bytes | memoryview,
    max_records: int,
    max_bytes: int,
    *,
    keep: bool = True,
    force_first: bool = True,
) -> tuple[list[bytes], int, int, Stop]:
    """Walk the records at the start of ``buf``.

    Returns ``(payloads, records, consumed, stop)``: the payloads (empty unless ``keep``),
    how many complete valid records were walked, how many bytes they span, and why the
    walk stopped. ``max_bytes`` caps the payload bytes walked, except that with
    ``force_first`` the first record is always taken, so that a caller makes progress past
    a record larger than its budget.
    """
    # Payloads are sliced straight out of a bytes buffer (one copy, which the crc then
    # reads); a memoryview is only used when nothing is kept, or for a caller's view.
    data: bytes | memoryview = buf if keep and isinstance(buf, bytes) else memoryview(buf)
    total = len(data)
    unpack, crc32 = HEADER.unpack_from, zlib.crc32
    out: list[bytes] = []
    append = out.append
    count = 0
    pos = 0
    used = 0
    while count < max_records:
        if total - pos < HEADER_SIZE:
            return out, count, pos, (Stop.END if pos == total else Stop.INCOMPLETE)
        length, crc = unpack(data, pos)
        if length == 0:
            return out, count, pos, Stop.CORRUPT
        start = pos + HEADER_SIZE
        end = start + length
        if end > total:
            return out, count, pos, Stop.INCOMPLETE
        if (count or not force_first) and used + length > max_bytes:
            return out, count, pos, Stop.LIMIT
        body = data[start:end]
        if crc32(body) != crc:
            return out, count, pos, Stop.CORRUPT
        if keep:
            append(body if type(body) is bytes else bytes(body))
        count += 1
        used += length
        pos = end
    return out, count, pos, Stop.LIMIT


def scan(path: Path) -> tuple[int, int, int]:
    """Find the valid prefix of a segment file.

    Returns ``(valid_end, records, file_size)``: the offset just after the last record
    whose length and crc check out, the number of records before it, and the file size.
    Reads in chunks so that a large segment is not loaded whole.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        base = 0  # file offset of buf[0]
        buf = b""
        records = 0
        while True:
            _, n, consumed, stop = decode(buf, 1 << 62, 1 << 62, keep=False)
            records += n
            base += consumed
            buf = buf[consumed:]
            if stop is Stop.CORRUPT:
                return base, records, size
            want = _SCAN_CHUNK
            if stop is Stop.INCOMPLETE and len(buf) >= HEADER_SIZE:
                # A record larger than the chunk: read exactly as much as it claims, but
                # never past the end of the file (a garbage length would ask for gigabytes).
                length, _ = HEADER.unpack_from(buf)
                want = max(want, HEADER_SIZE + length - len(buf))
            want = min(want, size - base - len(buf))
            if want <= 0:
                return base, records, size
            buf += pread_exact(fd, want, base + len(buf))
    finally:
        os.close(fd)


def read_records(
    path: Path, off: int, end: int, max_records: int, budget: int, *, force_first: bool
) -> tuple[list[bytes], int]:
    """Read records of the segment at ``path`` from ``off``, never past ``end``.

    ``end`` is the segment's durable end, so everything before it must check out: a bad
    record raises :class:`SpoolCorrupt`. Returns the payloads and the bytes they span;
    ``budget`` and ``force_first`` are as in :func:`decode`. ``(…, 0)`` means nothing
    more can be taken within the limits.
    """
    name = path.name
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        # Read about a budget's worth at once; record by record would cost a syscall each.
        want = min(end - off, max(budget, HEADER_SIZE))
        while True:
            chunk = pread_exact(fd, want, off)
            if len(chunk) < max(want, HEADER_SIZE):
                raise SpoolCorrupt(f"segment {name} ends before its durable end {end}")
            payloads, _, consumed, stop = decode(
                chunk, max_records, budget, force_first=force_first
            )
            if stop is Stop.CORRUPT:
                raise SpoolCorrupt(f"bad record in segment {name} at offset {off + consumed}")
            if consumed or stop is not Stop.INCOMPLETE:
                return payloads, consumed
            # The next record is larger than what we read: read exactly that record.
            length: int = HEADER.unpack_from(chunk)[0]
            if not force_first and length > budget:
                return [], 0
            want = HEADER_SIZE + length
            if off + want > end:
                raise SpoolCorrupt(f"record in segment {name} crosses its durable end")
    finally:
        os.close(fd)


def pread_exact(fd: int, size: int, offset: int) -> bytes:
    """Read ``size`` bytes at ``offset`` (fewer only at end of file)."""
    parts: list[bytes] = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset``; a regular file may accept a write in parts."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def fsync_dir(directory: Path) -> None:
    """fsync a directory, making file creations and deletions in it durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
