"""A varied, deterministic corpus of native events for the ingest benchmarks.

~2,000 paths with power-law popularity, ~200 referrers (search, social, blogs, a big
share of direct traffic), ~100 real-looking user agents (a few of them bots), ~50,000
visitor IPs, ~10 % custom events with props, some UTM-tagged URLs and client timestamps.
Events carry no ``event_id`` so that replaying a body never collapses into a duplicate.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import time
from typing import Any

DOMAIN = "shop.example.com"

_SECTIONS = ["blog", "docs", "products", "guides", "changelog", "help", "careers", "news"]
_WORDS = [
    "analytics",
    "privacy",
    "fast",
    "simple",
    "dashboard",
    "setup",
    "install",
    "tracking",
    "events",
    "goals",
    "funnels",
    "pricing",
    "python",
    "rust",
    "caching",
    "storage",
    "export",
    "import",
    "migrate",
    "teams",
    "billing",
    "api",
    "sdk",
    "cookie",
    "consent",
    "gdpr",
    "speed",
    "mobile",
    "search",
    "referrers",
    "campaigns",
    "release",
    "notes",
]


def _paths(rng: random.Random, n: int = 2000) -> list[str]:
    out = ["/", "/pricing", "/about", "/contact", "/login", "/signup", "/features", "/blog"]
    seen = set(out)
    while len(out) < n:
        section = rng.choice(_SECTIONS)
        slug = "-".join(rng.sample(_WORDS, rng.randint(2, 4)))
        path = f"/{section}/{slug}" if rng.random() < 0.8 else f"/{section}/{rng.randint(1, 9999)}"
        if path not in seen:
            seen.add(path)
            out.append(path)
    return out


def _referrers(rng: random.Random) -> list[str]:
    search = [
        f"https://www.google.{tld}/"
        for tld in ("com", "de", "co.uk", "fr", "co.jp", "com.br", "es", "it")
    ] + [
        "https://www.bing.com/", "https://duckduckgo.com/", "https://search.yahoo.com/",
        "https://www.baidu.com/", "https://yandex.ru/", "https://www.ecosia.org/",
        "https://search.brave.com/", "https://www.qwant.com/",
    ]  # fmt: skip
    social = [
        "https://t.co/", "https://www.facebook.com/", "https://l.facebook.com/",
        "https://www.reddit.com/r/programming/", "https://old.reddit.com/r/webdev/",
        "https://news.ycombinator.com/", "https://www.linkedin.com/", "https://lnkd.in/",
        "https://www.instagram.com/", "https://www.youtube.com/", "https://www.pinterest.com/",
        "https://mastodon.social/", "https://bsky.app/", "https://lobste.rs/",
    ]  # fmt: skip
    blogs = []
    tlds = ("com", "io", "dev", "net", "org", "blog")
    while len(blogs) < 170:
        suffix = rng.choice(["", "blog", "weekly", "hub", "notes"])
        host = f"{rng.choice(_WORDS)}{suffix}.{rng.choice(tlds)}"
        blogs.append(f"https://{host}/{'-'.join(rng.sample(_WORDS, 3))}")
    return search + social + blogs


def _user_agents(rng: random.Random) -> tuple[list[str], list[str]]:
    uas: list[str] = []
    for v in range(110, 131):
        uas.append(
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{v}.0.0.0 Safari/537.36"
        )
    for v in range(118, 131, 2):
        uas.append(
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            f"Gecko) Chrome/{v}.0.0.0 Safari/537.36"
        )
        uas.append(
            f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{v}.0.0.0 Safari/537.36"
        )
        uas.append(
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0"
        )
    for v in range(115, 133, 2):
        uas.append(
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
        )
        uas.append(f"Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")
    for minor in range(0, 7):
        uas.append(
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            f"Gecko) Version/17.{minor} Safari/605.1.15"
        )
        uas.append(
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{minor} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/17.{minor} Mobile/15E148 Safari/604.1"
        )
        uas.append(
            f"Mozilla/5.0 (iPad; CPU OS 17_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            f"like Gecko) Version/17.{minor} Mobile/15E148 Safari/604.1"
        )
    for model in ("Pixel 7", "Pixel 8", "SM-S918B", "SM-A546B", "moto g(60)", "2201116SG"):
        uas.append(
            f"Mozilla/5.0 (Linux; Android 14; {model}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{rng.randint(118, 130)}.0.0.0 Mobile Safari/537.36"
        )
        uas.append(
            f"Mozilla/5.0 (Linux; Android 13; {model}) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"
        )
    bots = [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "python-requests/2.31.0",
    ]
    return uas[:95], bots


def _ips(rng: random.Random, n: int = 50_000) -> list[str]:
    out = []
    for i in range(n):
        if i % 20 == 0:
            out.append(
                f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
            )
        else:
            out.append(
                f"{rng.randint(1, 223)}.{rng.randrange(256)}."
                f"{rng.randrange(256)}.{rng.randint(1, 254)}"
            )
    return out


class Corpus:
    """Draws native events; ``event()`` returns a fresh dict each call."""

    def __init__(self, seed: int = 7, domain: str = DOMAIN) -> None:
        rng = self.rng = random.Random(seed)
        self.domain = domain
        self.paths = _paths(rng)
        weights = [1 / (rank + 1) ** 1.1 for rank in range(len(self.paths))]  # Zipf-like
        self._cum = list(itertools.accumulate(weights))
        self.referrers = _referrers(rng)
        self.user_agents, self.bots = _user_agents(rng)
        self.ips = _ips(rng)
        self.screens = [
            "1920x1080",
            "1366x768",
            "2560x1440",
            "1440x900",
            "390x844",
            "412x915",
            "768x1024",
        ]
        self.languages = ["en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR", "nl-NL"]
        self.now_ms = int(time.time() * 1000)

    def path(self) -> str:
        return self.paths[bisect.bisect_left(self._cum, self.rng.random() * self._cum[-1])]

    def event(self) -> dict[str, Any]:
        rng = self.rng
        path = self.path()
        url = f"https://{self.domain}{path}"
        if rng.random() < 0.08:
            source = rng.choice(["newsletter", "twitter", "partner"])
            url += f"?utm_source={source}&utm_medium=email&utm_campaign=spring"
        ua = rng.choice(self.bots) if rng.random() < 0.03 else rng.choice(self.user_agents)
        ref = "" if rng.random() < 0.4 else rng.choice(self.referrers)
        ev: dict[str, Any] = {
            "event_type": "pageview",
            "path": path,
            "url": url,
            "referrer": ref,
            "title": path.strip("/").replace("-", " ").title() or "Home",
            "screen": rng.choice(self.screens),
            "language": rng.choice(self.languages),
            "user_agent": ua,
            "ip": rng.choice(self.ips),
        }
        if rng.random() < 0.10:
            name = rng.choice(["signup", "download", "outbound_click", "add_to_cart", "search"])
            ev["event_type"] = name
            ev["metadata"] = {
                "plan": rng.choice(["free", "pro", "team"]),
                "method": rng.choice(["google", "email", "github"]),
                "value": rng.randint(1, 500),
            }
        if rng.random() < 0.2:
            ev["timestamp"] = self.now_ms - rng.randint(0, 60_000)
        if rng.random() < 0.3:
            ev["load_time_ms"] = rng.randint(80, 4000)
        return ev

    def bodies(self, n: int) -> list[str]:
        """``n`` single-event request bodies (one JSON document each, no newlines)."""
        return [json.dumps(self.event(), separators=(",", ":")) for _ in range(n)]

    def batch_bodies(self, n: int, size: int) -> list[str]:
        return [
            json.dumps({"events": [self.event() for _ in range(size)]}, separators=(",", ":"))
            for _ in range(n)
        ]
