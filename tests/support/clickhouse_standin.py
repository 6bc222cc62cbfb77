"""A test-only stand-in for ClickHouse's HTTP interface, backed by a real chdb engine.

Run as ``python -m tests.support.clickhouse_standin --port N --path DIR``; it
prints ``clickhouse-standin ready on http://HOST:PORT`` (and writes the port to
``--port-file`` if given) once it accepts connections. clickhouse-connect talks
to it unchanged, as it would to a ClickHouse server: ``GET /ping``, queries in
the body or ``query=``, ``param_*`` bindings, ``session_id``, ``database``,
settings as URL parameters, compressed request and response bodies, Native and
Arrow in both directions, and errors as HTTP 500 with ClickHouse's exception
text and ``X-ClickHouse-Exception-Code``. Each process owns its database path.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

from tests.support.standin_body import RequestBody, split_statement
from tests.support.standin_engine import ClickHouseError, Engine, Request, Result

# URL parameters that steer the HTTP exchange rather than the statement's settings.
TRANSPORT = frozenset(
    {
        "query", "database", "session_id", "session_timeout", "session_check", "query_id",
        "quota_key", "user", "password", "role", "default_format", "buffer_size",
        "wait_end_of_query", "client_protocol_version", "send_progress_in_http_headers",
        "http_headers_progress_interval_ms", "enable_http_compression", "stacktrace",
        "cancel_http_readonly_queries_on_client_close", "http_response_buffer_size",
        "http_wait_end_of_query", "add_http_cors_header", "compress", "decompress",
    }
)  # fmt: skip
CONTENT_TYPES = {
    "Native": "application/octet-stream",
    "Arrow": "application/octet-stream",
    "ArrowStream": "application/octet-stream",
    "Parquet": "application/octet-stream",
    "RowBinary": "application/octet-stream",
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
}
DISPLAY_NAME = "chdb-standin"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine: ClassVar[Engine]

    def setup(self) -> None:
        super().setup()
        # Without it each small response waits for the client's delayed ACK (~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = RequestBody(self.rfile, self.headers)
        if url.path.rstrip("/") == "/ping":
            body.drain()
            return self._reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            try:
                result = self._execute(params, body)
            except ClickHouseError:
                raise
            except Exception as exc:  # a stand-in bug must still reach the client as an error
                raise ClickHouseError(1001, f"std::exception. {type(exc).__name__}: {exc}") from exc
        except ClickHouseError as exc:
            body.drain()
            return self._reply(
                500,
                exc.message.encode() + b"\n",
                {"X-ClickHouse-Exception-Code": str(exc.code), "Content-Type": "text/plain"},
                params,
            )
        if result is None:
            return self._reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
        self._reply(200, *self._encode(result, params))

    def _execute(self, params: dict[str, str], body: RequestBody) -> Result | None:
        if params.get("compress") == "1" or params.get("decompress") == "1":
            raise ClickHouseError(48, "ClickHouse's native block compression is not supported")
        if body.content_type.startswith("multipart/form-data"):
            params.update(body.form_fields())
        statement = split_statement(params.get("query"), body)
        if statement is None:
            return None
        request = Request(
            statement,
            params={k[6:]: v for k, v in params.items() if k.startswith("param_")},
            settings={
                k: v for k, v in params.items() if k not in TRANSPORT and not k.startswith("param_")
            },
            database=params.get("database"),
            default_format=params.get("default_format"),
        )
        timeout = float(params.get("session_timeout") or 60)
        with self.engine.handle(params.get("session_id"), timeout) as handle:
            return self.engine.run(handle, request)

    def _encode(self, result: Result, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        headers = {"X-ClickHouse-Summary": json.dumps(result.summary)}
        body = result.body
        if result.fmt:
            headers["X-ClickHouse-Format"] = result.fmt
            headers["Content-Type"] = CONTENT_TYPES.get(
                result.fmt, "text/tab-separated-values; charset=UTF-8"
            )
        accepted = {e.strip() for e in self.headers.get("Accept-Encoding", "").split(",")}
        if body and params.get("enable_http_compression", "1") == "1":
            if "lz4" in accepted:
                import lz4.frame  # type: ignore[import-untyped]

                body, headers["Content-Encoding"] = lz4.frame.compress(body), "lz4"
            elif "gzip" in accepted:
                body, headers["Content-Encoding"] = gzip.compress(body, 1), "gzip"
        return body, headers

    def _reply(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
    ) -> None:
        params = params or {}
        self.send_response(status)
        self.send_header("X-ClickHouse-Server-Display-Name", DISPLAY_NAME)
        self.send_header("X-ClickHouse-Query-Id", params.get("query_id") or str(uuid.uuid4()))
        self.send_header(
            "X-ClickHouse-Timezone", params.get("session_timezone") or self.engine.timezone
        )
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _stop_when_orphaned(server: Server, parent: int) -> None:
    # A test run killed outright must not leave its stand-ins behind.
    while os.getppid() == parent:
        time.sleep(0.5)
    server.shutdown()


def serve(
    path: Path, host: str, port: int, port_file: Path | None, exit_with_parent: bool = False
) -> None:
    path.mkdir(parents=True, exist_ok=True)
    Handler.engine = Engine(str(path))
    server = Server((host, port), Handler)
    bound = server.server_address[1]

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if exit_with_parent:
        watch = threading.Thread(target=_stop_when_orphaned, args=(server, os.getppid()))
        watch.daemon = True
        watch.start()
    if port_file is not None:
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(str(bound))
        tmp.replace(port_file)  # readers never see a half-written port
    print(f"clickhouse-standin ready on http://{host}:{bound}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True, help="chdb database directory")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port-file", type=Path, help="write the bound port here when ready")
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the starting process dies"
    )
    args = parser.parse_args(argv)
    try:
        serve(args.path, args.host, args.port, args.port_file, args.exit_with_parent)
    except RuntimeError as exc:
        # Most often the path is held by another process (chdb has printed why).
        print(f"clickhouse-standin: cannot open {args.path}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
