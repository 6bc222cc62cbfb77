"""Optional OpenTelemetry traces: HTTP request → pipeline → queue, and query → store.

Off unless OpenTelemetry's own variable names an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT``, such as ``http://collector:4318``, or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, the full URL): then :func:`start` imports the SDK
(the ``otel`` extra), and spans go to ``<endpoint>/v1/traces`` as OTLP/HTTP protobuf in
batches from a background thread. Its other variables (``OTEL_SERVICE_NAME``, headers,
timeouts) apply as the SDK reads them.
When off, nothing of OpenTelemetry is imported and :func:`span` hands back one shared
no-op context (the collection path pays a ``with`` statement, nothing more).

Spans (names are stable; attributes never hold an IP, a key, a token or a path as sent):

- ``HTTP <method> <route>`` (server): every request, continuing a caller's
  ``traceparent``; ``http.request.method``, ``http.route`` and
  ``http.response.status_code``;
- ``pipeline.build`` and ``queue.append``: the collection handlers' steps, children of
  the request's span; ``events`` is how many;
- ``store.query`` / ``store.stream``: each read of the event store, a child of whatever
  span is current (a report's request, a job);
- ``writer.round`` with ``store.batch`` under it: a writer round storing a batch (its own
  trace: a round serves many requests), linked to the spans of the collection requests
  whose events were queued in this process since the previous round (at most
  ``MAX_LINKS``, the newest; a round behind a backlog gets the links of the records
  queued before it started, which are mostly its own). Kept in memory, not in the
  queued records, so ``footfall worker`` rounds in other processes have none.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from footfall import __version__

log = logging.getLogger("footfall")

_NOOP = contextlib.nullcontext()
_tracer: Any = None  # an opentelemetry Tracer while started
_provider: Any = None
MAX_LINKS = 64
# Span contexts of requests whose events were queued since the last writer round.
_queued: deque[Any] = deque(maxlen=MAX_LINKS)


def endpoint_url(env: Mapping[str, str] | None = None) -> str:
    """Where spans go, from OpenTelemetry's variables: a base URL gets ``/v1/traces``;
    empty means tracing is off."""
    env = os.environ if env is None else env
    full = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
    if full:
        return full
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    return base.rstrip("/") + "/v1/traces" if base else ""


def start() -> bool:
    """Start exporting spans if an endpoint is set; whether tracing is on."""
    global _tracer, _provider
    url = endpoint_url()
    if not url or _tracer is not None:
        return _tracer is not None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("an OTLP endpoint is set but OpenTelemetry is not installed "
                    "(pip install 'footfall[otel]'): no traces")  # fmt: skip
        return False
    service = os.environ.get("OTEL_SERVICE_NAME") or "footfall"
    resource = Resource.create({"service.name": service, "service.version": __version__})
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    _tracer = _provider.get_tracer("footfall", __version__)
    return True


def stop() -> None:
    """Send what is buffered and stop (the server's shutdown)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def active() -> bool:
    return _tracer is not None


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[Any]:
    """A child span of the current one, or a no-op when tracing is off."""
    if _tracer is None:
        return _NOOP
    return _tracer.start_as_current_span(name, attributes=attributes)  # type: ignore[no-any-return]


def note_queued() -> None:
    """The current span (a collection request's) queued events: the next writer round
    links to it. Off, a call and a check."""
    if _tracer is None:
        return
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        _queued.append(context)


def round_span(records: int) -> contextlib.AbstractContextManager[Any]:
    """A writer round's span, linked to the requests noted since the previous round."""
    if _tracer is None:
        return _NOOP
    from opentelemetry.trace import Link

    links = []
    while _queued:  # popleft is atomic: requests noted meanwhile go to this or the next
        links.append(Link(_queued.popleft()))
    return _tracer.start_as_current_span(  # type: ignore[no-any-return]
        "writer.round", attributes={"records": records}, links=links
    )


App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def http(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app`` for one HTTP request inside its server span."""
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind, Status, StatusCode

    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
    method = scope.get("method", "")
    with _tracer.start_as_current_span(
        f"HTTP {method}", context=extract(carrier), kind=SpanKind.SERVER,
        attributes={"http.request.method": method},
    ) as current:  # fmt: skip

        async def send_traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                current.set_attribute("http.response.status_code", int(message["status"]))
                if int(message["status"]) >= 500:
                    current.set_status(Status(StatusCode.ERROR))
            await send(message)

        try:
            await app(scope, receive, send_traced)
        finally:
            route = getattr(scope.get("route"), "path", None) or scope.get("footfall.route")
            if isinstance(route, str):
                current.update_name(f"HTTP {method} {route}")
                current.set_attribute("http.route", route)


def instrument_store(store: Any) -> None:
    """Wrap the store's reads and batch commits in spans (only when tracing is on)."""
    if _tracer is None:
        return
    query, stream, begin_batch = store.query, store.stream, store.begin_batch

    @functools.wraps(query)
    def traced_query(sql: str, params: Any = ()) -> Any:
        with span("store.query", **{"db.system": type(store).__name__}):
            return query(sql, params)

    @functools.wraps(stream)
    def traced_stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
        if _tracer is None:  # stopped since
            yield from stream(*args, **kwargs)
            return
        # Not made current: between batches the consumer's code runs, maybe elsewhere.
        s = _tracer.start_span("store.stream", attributes={"db.system": type(store).__name__})
        try:
            yield from stream(*args, **kwargs)
        finally:
            s.end()

    @contextlib.contextmanager
    def traced_batch(*args: Any, **kwargs: Any) -> Iterator[Any]:
        # Whatever the port's begin_batch takes (progress, partition, ...) passes through.
        with span("store.batch", **{"db.system": type(store).__name__}), begin_batch(
            *args, **kwargs
        ) as target:  # fmt: skip
            yield target

    store.query, store.stream, store.begin_batch = traced_query, traced_stream, traced_batch
