"""Per-call timings of the enrichment steps, cold (cache cleared, distinct strings) and cached.

Run: .venv/bin/python bench/enrich.py   (prints figures; asserts nothing)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from footfall.ingest import bots, referrer, useragent
from footfall.ingest.geo import GeoLookup
from footfall.ingest.utm import clean_query, split_url, utm_fields

TEMPLATES = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel {v}) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.{v}; +http://www.google.com/bot.html)",
]
N = 2000


def distinct_uas(n: int) -> list[str]:
    return [TEMPLATES[i % len(TEMPLATES)].format(v=i) for i in range(n)]


def per_call_us(fn: Callable[[str], object], items: list[str]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def main() -> None:
    start = time.perf_counter()
    useragent.resolver()
    print(
        f"ua-parser resolver: {useragent.resolver_name()}, built in "
        f"{(time.perf_counter() - start) * 1e3:.0f} ms"
    )
    start = time.perf_counter()
    bots.is_bot("warm-up crawlerdetect regexes")
    print(f"crawlerdetect regex compile: {(time.perf_counter() - start) * 1e3:.0f} ms")

    uas = distinct_uas(N)
    useragent.parse_user_agent.cache_clear()
    cold = per_call_us(useragent.parse_user_agent, uas)
    warm = per_call_us(useragent.parse_user_agent, uas)
    print(f"parse_user_agent: cold {cold:7.1f} us/call, cached {warm:5.2f} us/call  (n={N})")

    bots.is_bot.cache_clear()
    cold = per_call_us(bots.is_bot, uas)
    warm = per_call_us(bots.is_bot, uas)
    print(f"is_bot:           cold {cold:7.1f} us/call, cached {warm:5.2f} us/call  (n={N})")

    own = ("example.com",)
    refs = [f"https://site{i}.example.org/post/{i}?x=1" for i in range(N)]
    referrer._classify_host.cache_clear()
    cold = per_call_us(lambda r: referrer.classify_referrer(r, own), refs)
    warm = per_call_us(lambda r: referrer.classify_referrer(r, own), refs)
    print(f"classify_referrer: cold {cold:6.1f} us/call, cached host {warm:5.2f} us/call")

    hosts = [f"sub{i}.host{i}.example.net" for i in range(N)]
    cold = per_call_us(bots.is_referrer_spam, hosts)
    print(f"is_referrer_spam: cold {cold:7.2f} us/call")

    urls = [f"https://Example.com/p/{i}?utm_source=x&token=secret&ref=hn" for i in range(N)]
    print(f"split_url:        {per_call_us(split_url, urls):7.2f} us/call")
    query = "token=secret&email=a@b.c&utm_source=x&utm_medium=email"
    print(f"clean_query:      {per_call_us(clean_query, [query] * N):7.2f} us/call")
    print(f"utm_fields:       {per_call_us(utm_fields, [query] * N):7.2f} us/call")

    geo = GeoLookup()
    ips = [f"{1 + i % 220}.{i % 256}.{(i * 7) % 256}.1" for i in range(N)]
    print(f"GeoLookup (iptocc): {per_call_us(geo.lookup, ips):5.2f} us/call")


if __name__ == "__main__":
    main()
