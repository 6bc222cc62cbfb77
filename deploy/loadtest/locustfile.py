"""Load your own Footfall deployment with Locust (https://locust.io; ``pip install locust``,
not a dependency of Footfall).

    FOOTFALL_SITE_KEY=ffk_... FOOTFALL_SITE_DOMAIN=example.com \\
    FOOTFALL_READ_TOKEN=fft_... FOOTFALL_SITE_ID=my-site \\
    locust -f deploy/loadtest/locustfile.py --host https://stats.example.com

Three kinds of simulated users: browsers sending pageviews, custom events and engagement
(most of the traffic), servers sending batches of 50 events, and people reading the
dashboard's figures (only with ``FOOTFALL_READ_TOKEN`` and ``FOOTFALL_SITE_ID``). Each
browser has a visitor id of its own, so the reports show as many visitors as Locust ran
users. Mind nginx's per-address limits (deploy/nginx.conf): from one load machine, more
than 1000 collection requests/s are answered 429, as they should be.
"""

from __future__ import annotations

import os
import random
import uuid

from locust import HttpUser, between, task

KEY = os.environ.get("FOOTFALL_SITE_KEY", "")
DOMAIN = os.environ.get("FOOTFALL_SITE_DOMAIN", "example.com")
TOKEN = os.environ.get("FOOTFALL_READ_TOKEN", "")
SITE_ID = os.environ.get("FOOTFALL_SITE_ID", "")
PATHS = ["/", "/pricing", "/blog", "/blog/hello-world", "/docs", "/docs/install", "/about"]
REFERRERS = ["", "", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/x"]
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def pageview(visitor: str, path: str) -> dict[str, object]:
    return {"event_type": "pageview", "url": f"https://{DOMAIN}{path}", "path": path,
            "referrer": random.choice(REFERRERS), "visitor_id": visitor}  # fmt: skip


class Browser(HttpUser):
    """A visitor reading a few pages: what the tracker sends."""

    weight = 20
    wait_time = between(1, 5)

    def on_start(self) -> None:
        self.visitor = uuid.uuid4().hex
        self.headers = {"x-api-key": KEY, "user-agent": UA, "content-type": "text/plain"}

    @task(10)
    def view(self) -> None:
        self.client.post("/api/event", json=pageview(self.visitor, random.choice(PATHS)),
                         headers=self.headers, name="/api/event pageview")  # fmt: skip

    @task(2)
    def engagement(self) -> None:
        event = {**pageview(self.visitor, random.choice(PATHS)), "event_type": "engagement",
                 "engaged_ms": random.randint(1000, 60_000),
                 "scroll_depth": random.randint(0, 100)}  # fmt: skip
        name = "/api/event engagement"
        self.client.post("/api/event", json=event, headers=self.headers, name=name)

    @task(1)
    def signup(self) -> None:
        event = {**pageview(self.visitor, "/pricing"), "event_type": "Signup",
                 "metadata": {"plan": random.choice(["free", "pro"])}}  # fmt: skip
        self.client.post("/api/event", json=event, headers=self.headers, name="/api/event custom")


class Backend(HttpUser):
    """A server forwarding its events in batches (the SDK's way)."""

    weight = 1
    wait_time = between(1, 2)

    @task
    def batch(self) -> None:
        events = [{**pageview(uuid.uuid4().hex, random.choice(PATHS)), "user_agent": UA,
                   "ip": f"203.0.113.{random.randint(1, 254)}"} for _ in range(50)]  # fmt: skip
        self.client.post("/api/events", json={"events": events}, headers={"x-api-key": KEY},
                         name="/api/events (50)")  # fmt: skip


class Reader(HttpUser):
    """Someone with the dashboard open: the figures it asks for."""

    weight = 1 if TOKEN and SITE_ID else 0
    wait_time = between(2, 10)

    def on_start(self) -> None:
        self.auth = {"authorization": f"Bearer {TOKEN}"}

    @task(3)
    def stats(self) -> None:
        self.client.get(f"/api/stats?site_id={SITE_ID}", headers=self.auth, name="/api/stats")

    @task(1)
    def top_pages(self) -> None:
        query = {"site_id": SITE_ID, "metrics": ["visitors", "pageviews"],
                 "dimensions": ["event:page"], "date_range": "7d"}  # fmt: skip
        self.client.post("/api/v2/query", json=query, headers=self.auth, name="/api/v2/query")
