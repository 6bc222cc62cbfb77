"""Server-sent events: the live "current visitors" count of one site.

Each stream sends ``{"visitors": n}`` every ``FOOTFALL_LIVE_INTERVAL_S`` seconds (the
``live_interval_s`` setting) and closes after ``LIVE_LIFETIME_S`` (the browser's
EventSource reconnects by itself after ``retry``).
The short lifetime matters: a stopping server (granian) waits for open responses before
it drains the spool and exits, so no stream may keep it waiting for more than ~10 s.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from footfall.dashboard.siteops import current_visitors
from footfall.meta.repo import SiteInfo
from footfall.runtime import Services

LIVE_LIFETIME_S = 10.0


async def _events(request: Request, svc: Services, site: SiteInfo) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LIVE_LIFETIME_S
    while loop.time() < deadline:
        count = await run_in_threadpool(current_visitors, svc, site)
        yield f"event: visitors\ndata: {json.dumps({'visitors': count})}\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(svc.settings.live_interval_s)


def live_response(request: Request, svc: Services, site: SiteInfo) -> StreamingResponse:
    return StreamingResponse(
        _events(request, svc, site),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
