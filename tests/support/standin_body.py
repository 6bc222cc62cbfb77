"""Request bodies for the ClickHouse HTTP stand-in: framing, compression, SQL/data split.

ClickHouse accepts the statement in the ``query`` URL parameter, in the body, or
in both (then concatenated with a newline); an ``INSERT ... FORMAT X`` statement
is followed by its data, which may be large, so the body is read as a stream of
decompressed chunks and the data part is handed on without being buffered.
clickhouse-connect sends chunked, per-block compressed bodies (each block its own
lz4/zstd frame, or one gzip stream), and multipart forms when bind parameters
are too long for a URL.
"""

from __future__ import annotations

import email.parser
import email.policy
import importlib
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from tests.support.standin_engine import ClickHouseError, Statement

CHUNK = 1 << 20
# Compressors that may follow each other inside one body are read as a sequence of frames.
Decompressor = Any


def _zstd_factory() -> Callable[[], Decompressor]:
    for name in ("compression.zstd", "backports.zstd"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return module.ZstdDecompressor  # type: ignore[no-any-return]
    raise ClickHouseError(48, "zstd request bodies need the backports.zstd package")


def _lz4_factory() -> Callable[[], Decompressor]:
    import lz4.frame  # type: ignore[import-untyped]

    return lz4.frame.LZ4FrameDecompressor  # type: ignore[no-any-return]


def _decompressor(encoding: str) -> Callable[[], Decompressor] | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding == "lz4":
        return _lz4_factory()
    if encoding == "zstd":
        return _zstd_factory()
    if encoding in ("gzip", "x-gzip"):
        return lambda: zlib.decompressobj(wbits=47)
    if encoding == "deflate":
        return zlib.decompressobj
    raise ClickHouseError(48, f"Unknown Content-Encoding of the request body: {encoding}")


class _Stream(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def readline(self) -> bytes: ...


class RequestBody:
    """The body of one request, read once, either raw (to discard) or decoded."""

    def __init__(self, stream: _Stream, headers: Any) -> None:
        self._stream = stream
        self._chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        self._remaining = int(headers.get("Content-Length") or 0)
        self._done = not self._chunked and self._remaining == 0
        self._factory = _decompressor(headers.get("Content-Encoding", ""))
        self.content_type: str = headers.get("Content-Type", "")

    def raw_chunks(self) -> Iterator[bytes]:
        while not self._done:
            if self._chunked:
                size = int(self._stream.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self._stream.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    self._done = True
                    return
                data = self._stream.read(size)
                self._stream.readline()
            else:
                data = self._stream.read(min(CHUNK, self._remaining))
                self._remaining -= len(data)
                self._done = self._remaining <= 0 or not data
            if data:
                yield data

    def chunks(self) -> Iterator[bytes]:
        """Decoded body chunks; each compressed frame may end anywhere in a chunk."""
        if self._factory is None:
            yield from self.raw_chunks()
            return
        decoder = self._factory()
        for data in self.raw_chunks():
            while data:
                out = decoder.decompress(data)
                if out:
                    yield out
                if not decoder.eof:
                    break
                data = decoder.unused_data
                decoder = self._factory()

    def drain(self) -> None:
        """Read what the client still sends, so the connection can answer and be reused."""
        for _ in self.raw_chunks():
            pass

    def form_fields(self) -> dict[str, str]:
        """The text fields of a multipart form (query and ``param_*``)."""
        raw = b"".join(self.chunks())
        head = f"Content-Type: {self.content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            if part.get_filename():
                raise ClickHouseError(48, "External data tables are not supported by the stand-in")
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode()
        return fields


def _word_byte(c: int) -> bool:
    return c == 0x5F or chr(c).isalnum()


def _skip_quoted(text: bytes, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == 0x5C else 1  # backslash escapes the next byte
    return i + 1


def _insert_head(text: bytes) -> tuple[int, int, int] | None:
    """For ``INSERT ... FORMAT name<ws>data``: (end of head, end of name, data start).

    None when the text is not such an INSERT or is cut before the data starts.
    Data begins after the first newline following the format name, or after the
    whitespace if there is no newline, as in ClickHouse's own parser.
    """
    if text.lstrip()[:6].upper() != b"INSERT":
        return None
    i = 0
    while i < len(text):
        c = text[i]
        if c in b"'`\"":
            i = _skip_quoted(text, i)
            continue
        if text[i : i + 6].upper() == b"FORMAT" and (i == 0 or not _word_byte(text[i - 1])):
            j = i + 6
            if j >= len(text) or text[j : j + 1] not in (b" ", b"\t", b"\n", b"\r"):
                i = j
                continue
            while j < len(text) and text[j : j + 1].isspace():
                j += 1
            k = j
            while k < len(text) and _word_byte(text[k]):
                k += 1
            if k == j or k == len(text):
                return None
            d = k
            while d < len(text) and text[d : d + 1].isspace():
                d += 1
                if text[d - 1] == 0x0A:
                    break
            return i, k, d
        i += 1
    return None


def split_statement(query_param: str | None, body: RequestBody) -> Statement | None:
    """Join ``query=`` and the body the way ClickHouse does, keeping INSERT data streamed."""
    chunks = body.chunks()
    if query_param is not None:
        head = query_param.encode()
        found = _insert_head(head + b"\n")
        if found and not head[found[1] :].strip():
            first = next(chunks, b"")
            if first:
                fmt = head[found[0] + 6 : found[1]].strip().decode()
                return Statement(head[: found[0]].decode(), fmt, _chain(first, chunks))
        rest = b"".join(chunks)
        text = head + b"\n" + rest if rest else head
        return Statement(text.decode()) if text.strip() else None
    buffered = b""
    for chunk in chunks:
        buffered += chunk
        found = _insert_head(buffered)
        if found and found[2] < len(buffered):
            fmt = buffered[found[0] + 6 : found[1]].strip().decode()
            return Statement(
                buffered[: found[0]].decode(), fmt, _chain(buffered[found[2] :], chunks)
            )
    return Statement(buffered.decode()) if buffered.strip() else None


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
