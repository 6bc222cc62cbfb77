# ruff: noqa: E501  (SQL and data tables read better unwrapped, as in footfall/query/builder.py)
"""A realistic synthetic site, generated straight into a DuckDB store with set-based SQL.

Used by ``bench/query.py``. Nothing goes through HTTP or the writer, yet the result is what
the writer would have stored for the same traffic:

* every event of a visit shares ``session_id``, ``visitor_id`` and the visit attributes of
  its first event (source, referrer, UTM, browser, OS, device, screen, language, country),
  plus the visit's ``entry_page``;
* a visitor's visits are more than 30 minutes apart (so the writer's 30-minute rule would
  have cut them exactly there) and events inside a visit are less than 4 minutes apart;
* the ``sessions`` table is derived from the stored events with one GROUP BY, the same
  fold the writer's ``_MERGE_SESSIONS_SQL`` performs batch by batch;
* browser/OS/device come from the real user-agent parser run on ~70 user agents, and
  ``referrer_source`` from the real referrer classifier run on ~200 referrers, so the
  values are the ones ingestion produces.

Shape: ~2,000 paths and ~200 referrers with power-law popularity (about a third of visits
direct), visits of 1-20 events with a median of 3 (pageviews, engagement events carrying
scroll depth and engaged time, custom events with props, some non-interactive), ~1 visitor
per 10 events with power-law revisits, a daily rhythm and mild growth over ``days`` days
ending now, load times on most pageviews, UTM-tagged visits.

All randomness is ``hash(key, salt)`` of row numbers, so a given (events, days, visitors,
seed, now) always produces the same rows (event ids aside).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from footfall.ingest.referrer import classify_referrer, source_from_utm
from footfall.ingest.useragent import parse_user_agent
from footfall.store.base import SESSION_FIRST_EVENT_COLUMNS

HOSTNAME = "shop.example.com"
SLOTS = 10_000  # resolution of weighted picks

_SECTIONS = ["blog", "docs", "products", "guides", "changelog", "help", "careers", "news"]
_WORDS = ["analytics", "privacy", "fast", "simple", "dashboard", "setup", "install", "tracking", "events", "goals", "funnels", "pricing", "python", "rust", "caching", "storage", "export", "import", "migrate", "teams", "billing", "api", "sdk", "cookie", "consent", "gdpr", "speed", "mobile", "search", "referrers", "campaigns", "release", "notes"]  # fmt: skip


def _paths(rng: random.Random, n: int = 2000) -> list[str]:
    out = ["/", "/pricing", "/blog", "/features", "/docs", "/signup", "/login", "/about",
           "/contact", "/changelog"]  # fmt: skip
    seen = set(out)
    while len(out) < n:
        section = rng.choice(_SECTIONS)
        slug = "-".join(rng.sample(_WORDS, rng.randint(2, 4)))
        path = f"/{section}/{slug}" if rng.random() < 0.8 else f"/{section}/{rng.randint(1, 99999)}"
        if path not in seen:
            seen.add(path)
            out.append(path)
    return out


def _referrers(rng: random.Random) -> list[str]:
    """~200 referrers, most popular first (index 0 is 'no referrer')."""
    head = [
        "", "https://www.google.com/", "https://t.co/", "https://www.google.de/",
        "https://news.ycombinator.com/", "https://www.bing.com/", "https://duckduckgo.com/",
        "https://www.reddit.com/r/programming/", "https://www.google.co.uk/",
        "https://www.linkedin.com/", "https://l.facebook.com/", "https://github.com/",
        "https://www.google.fr/", "https://chatgpt.com/", "https://search.brave.com/",
        "https://www.ecosia.org/", "https://www.youtube.com/", "https://lobste.rs/",
        "https://www.google.co.jp/", "https://search.yahoo.com/", "https://mastodon.social/",
        "https://bsky.app/", "https://www.instagram.com/", "https://yandex.ru/",
        "https://www.baidu.com/", "https://www.qwant.com/", "https://old.reddit.com/r/webdev/",
        "https://www.pinterest.com/", "https://www.google.com.br/", "https://kagi.com/",
        "android-app://com.google.android.gm/", "https://www.perplexity.ai/",
    ]  # fmt: skip
    tlds = ("com", "io", "dev", "net", "org", "blog")
    blogs: list[str] = []
    seen: set[str] = set()
    while len(blogs) < 200 - len(head):
        host = f"{rng.choice(_WORDS)}{rng.choice(['', 'blog', 'weekly', 'hub', 'notes'])}.{rng.choice(tlds)}"
        if host in seen:
            continue
        seen.add(host)
        blogs.append(f"https://{host}/{'-'.join(rng.sample(_WORDS, 3))}")
    return head + blogs


def _user_agents() -> list[tuple[str, float]]:
    """(user agent, weight): desktop Chrome/Edge/Firefox/Safari, iOS, iPadOS, Android."""
    out: list[tuple[str, float]] = []
    for v in range(118, 131):
        w = 1.0 + (v - 118) * 0.4
        out.append(
            (
                f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
                3 * w,
            )
        )
        out.append(
            (
                f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
                1.5 * w,
            )
        )
        out.append(
            (
                f"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
                1.6 * w,
            )
        )
    for v in range(120, 131, 2):
        out.append(
            (
                f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
                1.5,
            )
        )
        out.append(
            (
                f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
                0.6,
            )
        )
    for v in range(121, 133, 2):
        out.append(
            (
                f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
                1.0,
            )
        )
        out.append((f"Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", 0.5))
        out.append(
            (
                f"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
                0.4,
            )
        )
    for minor in range(0, 7):
        out.append(
            (
                f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{minor} Safari/605.1.15",
                1.5,
            )
        )
        out.append(
            (
                f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{minor} Mobile/15E148 Safari/604.1",
                5.0,
            )
        )
        out.append(
            (
                f"Mozilla/5.0 (iPad; CPU OS 17_{minor} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{minor} Mobile/15E148 Safari/604.1",
                0.8,
            )
        )
    for model in ("SM-S918B", "SM-A546B", "moto g(60)"):
        out.append(
            (
                f"Mozilla/5.0 (Linux; Android 13; {model}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
                1.5,
            )
        )
    return out  # fmt: skip


_COUNTRIES = {
    "US": 28, "DE": 9, "GB": 7, "IN": 6, "FR": 4.5, "CA": 4, "BR": 3.5, "NL": 3, "JP": 3,
    "ES": 2.5, "IT": 2.5, "AU": 2.2, "PL": 2, "SE": 1.6, "CH": 1.4, "AT": 1.2, "BE": 1.1,
    "MX": 1.1, "KR": 1, "CN": 0.9, "RU": 0.9, "TR": 0.8, "ID": 0.8, "UA": 0.8, "DK": 0.7,
    "NO": 0.7, "FI": 0.6, "CZ": 0.6, "PT": 0.6, "IE": 0.6, "IL": 0.5, "SG": 0.5, "AR": 0.5,
    "ZA": 0.5, "NZ": 0.4, "RO": 0.4, "HU": 0.4, "GR": 0.4, "VN": 0.4, "PH": 0.4, "TW": 0.4,
    "HK": 0.3, "CO": 0.3, "CL": 0.3, "NG": 0.3, "EG": 0.3, "PK": 0.3, "BD": 0.2, "TH": 0.3,
    "MY": 0.3, "SK": 0.2, "BG": 0.2, "HR": 0.2, "RS": 0.2, "LT": 0.15, "LV": 0.1, "EE": 0.1,
    "IS": 0.05, "LU": 0.05, "": 0.5,
}  # fmt: skip
_LANGUAGES = {"en-US": 45, "en-GB": 8, "de-DE": 10, "fr-FR": 5, "es-ES": 5, "ja-JP": 3,
              "pt-BR": 3, "nl-NL": 3, "it-IT": 2, "pl-PL": 2, "zh-CN": 2, "ru-RU": 1, "": 2}  # fmt: skip
_SCREENS = {
    "Desktop": ["1920x1080", "2560x1440", "1536x864", "1440x900", "1366x768", "3840x2160"],
    "Mobile": ["390x844", "393x873", "412x915", "360x800", "430x932", "375x667"],
    "Tablet": ["768x1024", "820x1180", "1024x1366", "800x1280", "834x1194", "810x1080"],
}
_HOURS = [2, 1.5, 1.2, 1, 1, 1.3, 2, 3, 4.5, 5.5, 6, 6.3, 6.5, 6.6, 7, 7.5, 7.8, 7.5, 7, 6.2,
          5.5, 4.5, 3.5, 2.6]  # fmt: skip  # UTC hour of a visit's start
# (utm_source, utm_medium, utm_campaign, utm_term, utm_content), weight
_UTMS = [
    (("newsletter", "email", "weekly-digest", "", ""), 5),
    (("newsletter", "email", "product-launch", "", "hero-button"), 2),
    (("google", "cpc", "brand", "footfall analytics", "ad-1"), 3),
    (("google", "cpc", "generic", "privacy analytics", "ad-2"), 2),
    (("facebook", "paidsocial", "retargeting", "", "carousel"), 1.5),
    (("twitter", "social", "launch", "", ""), 1),
    (("partner", "referral", "integrations", "", ""), 1),
    (("github", "readme", "", "", ""), 1),
    (("linkedin", "cpc", "b2b-q4", "", "video"), 0.8),
    (("hn", "social", "show-hn", "", ""), 0.7),
]
# name, weight, interactive
_CUSTOM = [("Outbound Link: Click", 30, True), ("Add to Cart", 18, True), ("Signup", 12, True),
           ("File Download", 12, True), ("Search", 12, True), ("Purchase", 4, True),
           ("Video Progress", 12, False)]  # fmt: skip


def _slots(weights: list[float], n: int = SLOTS) -> list[int]:
    """``n`` slot -> index assignments proportional to ``weights`` (largest remainder)."""
    total = sum(weights)
    exact = [w * n / total for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    out: list[int] = []
    for i, c in enumerate(counts):
        out.extend([i] * c)
    return out


@dataclass(frozen=True, slots=True)
class Spec:
    site_id: str
    events: int
    days: int = 90
    visitors: int | None = None  # distinct visitors wanted; events/10 by default
    seed: int = 1
    now: datetime | None = None  # end of the data (UTC); defaults to the current time

    @property
    def target_visitors(self) -> int:
        return self.visitors or max(1000, self.events // 10)


def _load_dimensions(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    rng = random.Random(seed)
    paths = _paths(rng)
    con.register("_t", pa.table({
        "i": list(range(len(paths))), "path": paths,
        "title": [p.strip("/").replace("-", " ").replace("/", " · ").title() or "Home" for p in paths],
    }))  # fmt: skip
    con.execute("CREATE OR REPLACE TEMP TABLE _paths AS SELECT * FROM _t")

    refs = _referrers(rng)
    srcs = [classify_referrer(r, (HOSTNAME,))[0] for r in refs]
    con.register("_t", pa.table({"i": list(range(len(refs))), "referrer": refs, "source": srcs}))
    con.execute("CREATE OR REPLACE TEMP TABLE _refs AS SELECT * FROM _t")

    utm = [u for u, _ in _UTMS]
    con.register("_t", pa.table({
        "slot": list(range(SLOTS)), "i": _slots([w for _, w in _UTMS]),
    }))  # fmt: skip
    con.execute("CREATE OR REPLACE TEMP TABLE _utm_slots AS SELECT * FROM _t")
    con.register("_t", pa.table({
        "i": list(range(len(utm))),
        **{f"utm_{k}": [u[j] for u in utm] for j, k in enumerate(("source", "medium", "campaign", "term", "content"))},
        "utm_query": ["&".join(f"utm_{k}={u[j]}" for j, k in enumerate(("source", "medium", "campaign", "term", "content")) if u[j]) for u in utm],
        "utm_src": [source_from_utm(u[0]) for u in utm],
    }))  # fmt: skip
    con.execute("CREATE OR REPLACE TEMP TABLE _utms AS SELECT * FROM _t")

    uas = _user_agents()
    parsed = [parse_user_agent(ua) for ua, _ in uas]
    con.register("_t", pa.table({
        "i": list(range(len(uas))),
        "browser": [p.browser for p in parsed], "browser_version": [p.browser_version for p in parsed],
        "os": [p.os for p in parsed], "os_version": [p.os_version for p in parsed],
        "device": [p.device for p in parsed],
    }))  # fmt: skip
    con.execute("CREATE OR REPLACE TEMP TABLE _uas AS SELECT * FROM _t")
    con.register("_t", pa.table({"slot": list(range(SLOTS)), "i": _slots([w for _, w in uas])}))
    con.execute("CREATE OR REPLACE TEMP TABLE _ua_slots AS SELECT * FROM _t")

    for name, table in (("_country_slots", _COUNTRIES), ("_lang_slots", _LANGUAGES)):
        values = list(table)
        con.register("_t", pa.table({
            "slot": list(range(SLOTS)), "value": [values[i] for i in _slots(list(table.values()))],
        }))  # fmt: skip
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _t")
    con.register("_t", pa.table({"slot": list(range(SLOTS)), "hour": _slots(_HOURS)}))
    con.execute("CREATE OR REPLACE TEMP TABLE _hour_slots AS SELECT * FROM _t")
    con.register("_t", pa.table({
        "slot": list(range(SLOTS)),
        "name": [_CUSTOM[i][0] for i in _slots([w for _, w, _ in _CUSTOM])],
        "interactive": [_CUSTOM[i][2] for i in _slots([w for _, w, _ in _CUSTOM])],
    }))  # fmt: skip
    con.execute("CREATE OR REPLACE TEMP TABLE _custom_slots AS SELECT * FROM _t")
    con.unregister("_t")


def generate(con: duckdb.DuckDBPyConnection, spec: Spec, log: Any = print) -> dict[str, Any]:
    """Append the site's events and visits to the store's ``events`` and ``sessions``."""
    t_all = time.perf_counter()
    now = (spec.now or datetime.now(UTC)).astimezone(UTC)
    now_ms = int(now.timestamp() * 1000)
    day0 = (now - timedelta(days=spec.days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    t0_ms = int(day0.timestamp() * 1000)
    seed = spec.seed * 1000

    def u(key: str, salt: int) -> str:
        """A uniform number in [0, 1) from a row key."""
        return f"((hash(({key})::BIGINT, {seed + salt}::BIGINT) % 1000000007) / 1000000007.0)"

    def h(key: str, salt: int, n: int) -> str:
        """A uniform integer in [0, n) from a row key."""
        return f"(hash(({key})::BIGINT, {seed + salt}::BIGINT) % {n})::BIGINT"

    _load_dimensions(con, spec.seed)
    n_paths = con.execute("SELECT count(*) FROM _paths").fetchone()[0]  # type: ignore[index]
    n_refs = con.execute("SELECT count(*) FROM _refs").fetchone()[0]  # type: ignore[index]

    # Candidate visits, oversampled: the 30-minute rule removes some, then a random subset
    # is kept whose events add up to exactly spec.events.
    mean_k = 3.95
    candidates = int(spec.events / mean_k * 1.45) + 100
    vpool = int(spec.target_visitors * 1.32)
    t = time.perf_counter()
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cand AS
        WITH c AS (
            SELECT sno,
                   floor({vpool} * pow({u("sno", 1)}, 2.0))::BIGINT AS vidx,
                   least(20, 1 + floor(-ln(1.0 - {u("sno", 2)}) * 3.5))::INTEGER AS k,
                   (4000 + floor(116000 * pow({u("sno", 3)}, 2.0)))::BIGINT AS pace_ms,
                   {t0_ms}::BIGINT
                     + floor({spec.days} * pow({u("sno", 4)}, 0.85))::BIGINT * 86400000
                     + hs.hour::BIGINT * 3600000
                     + floor({u("sno", 6)} * 3600000)::BIGINT AS start_ms
            FROM range({candidates}) r(sno)
            JOIN _hour_slots hs ON hs.slot = {h("sno", 5, SLOTS)}
        )
        SELECT *,
               start_ms + CASE WHEN k = 1 THEN 0 ELSE (k - 1) * pace_ms
                   + floor({u("sno * 32 + k - 1", 7)} * pace_ms * 0.8)::BIGINT END AS end_ms
        FROM c
    """)
    con.execute(f"DELETE FROM _cand WHERE end_ms >= {now_ms - 60_000}")
    # A visitor's visits must be > 30 min apart, or the writer would have joined them.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _kept AS
        SELECT * EXCLUDE (prev_end) FROM (
            SELECT *, max(end_ms) OVER (PARTITION BY vidx ORDER BY start_ms, sno
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
            FROM _cand)
        WHERE prev_end IS NULL OR start_ms > prev_end + 1800000
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _picked AS
        SELECT * EXCLUDE (cum) FROM (
            SELECT *, sum(k) OVER (ORDER BY {h("sno", 8, 1 << 62)}, sno ROWS UNBOUNDED PRECEDING) AS cum
            FROM _kept)
        WHERE cum <= {spec.events}
        ORDER BY start_ms
    """)
    con.execute("DROP TABLE _cand")
    con.execute("DROP TABLE _kept")
    log(f"  visits picked in {time.perf_counter() - t:.1f}s")

    # Visit attributes. Device, browser, OS, screen, language and country follow the
    # visitor; source, UTM and entry page follow the visit.
    pick = f"1 + {h('p.vidx', 18, 6)}"
    screen_sql = (
        "CASE ua.device "
        + " ".join(f"WHEN '{d}' THEN {list(ss)!r}[{pick}]" for d, ss in _SCREENS.items())
        + f" ELSE {_SCREENS['Desktop']!r}[{pick}] END"
    )
    t = time.perf_counter()
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _visits AS
        WITH p AS (
            SELECT p.*,
                   CASE WHEN {u("sno", 10)} < 0.30 THEN 0
                        ELSE 1 + floor({n_refs - 1} * pow({u("sno", 11)}, 3.0))::BIGINT END AS ref_i,
                   {u("sno", 12)} < 0.09 AS tagged,
                   floor({n_paths} * pow({u("sno * 32", 20)}, 3.0))::BIGINT AS entry_i
            FROM _picked p
        )
        SELECT p.sno, p.k, p.pace_ms, p.start_ms,
               hash(p.sno, {seed + 13}::BIGINT) AS session_id,
               hash(p.vidx, {seed + 14}::BIGINT) AS visitor_id,
               CASE WHEN {u("p.vidx", 15)} < 0.02 THEN 'user-' || p.vidx ELSE '' END AS user_id,
               r.referrer,
               CASE WHEN r.source = '' AND p.tagged THEN ut.utm_src ELSE r.source END AS referrer_source,
               CASE WHEN p.tagged THEN ut.utm_source ELSE '' END AS utm_source,
               CASE WHEN p.tagged THEN ut.utm_medium ELSE '' END AS utm_medium,
               CASE WHEN p.tagged THEN ut.utm_campaign ELSE '' END AS utm_campaign,
               CASE WHEN p.tagged THEN ut.utm_term ELSE '' END AS utm_term,
               CASE WHEN p.tagged THEN ut.utm_content ELSE '' END AS utm_content,
               CASE WHEN p.tagged THEN ut.utm_query ELSE '' END AS utm_query,
               ua.browser, ua.browser_version, ua.os, ua.os_version, ua.device,
               {screen_sql} AS screen, lg.value AS language, co.value AS country,
               ep.path AS entry_page
        FROM p
        JOIN _refs r ON r.i = p.ref_i
        JOIN _utm_slots us ON us.slot = {h("p.sno", 16, SLOTS)}
        JOIN _utms ut ON ut.i = us.i
        JOIN _ua_slots uss ON uss.slot = {h("p.vidx", 17, SLOTS)}
        JOIN _uas ua ON ua.i = uss.i
        JOIN _lang_slots lg ON lg.slot = {h("p.vidx", 19, SLOTS)}
        JOIN _country_slots co ON co.slot = {h("p.vidx", 21, SLOTS)}
        JOIN _paths ep ON ep.i = p.entry_i
        ORDER BY p.start_ms
    """)
    con.execute("DROP TABLE _picked")
    log(f"  visit attributes in {time.perf_counter() - t:.1f}s")

    # Events. Position 0 is a pageview; later positions are pageviews, engagement events
    # (scroll depth, engaged time) or custom events, the latter two only right after a
    # pageview, and about the page of that pageview.
    def raw(pos: str) -> str:
        return f"{u(f'sno * 32 + {pos}', 22)}"

    def page(pos: str) -> str:
        return (f"CASE WHEN {pos} = 0 THEN entry_i ELSE "
                f"floor({n_paths} * pow({u(f'sno * 32 + {pos}', 20)}, 2.2))::BIGINT END")  # fmt: skip

    t = time.perf_counter()
    before = con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    site = spec.site_id.replace("'", "''")
    # One thread keeps the rows in _visits order (visit start), i.e. nearly in time order
    # as the writer appends them, without sorting 10M wide rows.
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]  # type: ignore[index]
    con.execute("SET threads = 1")
    con.execute(f"""
        INSERT INTO events
        WITH e0 AS (
            SELECT v.*, unnest(range(v.k)) AS pos FROM _visits v
        ), e1 AS (
            SELECT *,
                   CASE WHEN pos = 0 OR {raw("pos")} < 0.5 OR (pos > 1 AND {raw("pos - 1")} >= 0.5) THEN 'pageview'
                        WHEN {raw("pos")} < 0.84 THEN 'engagement' ELSE 'custom' END AS kind,
                   start_ms + CASE WHEN pos = 0 THEN 0 ELSE pos * pace_ms
                       + floor({u("sno * 32 + pos", 7)} * pace_ms * 0.8)::BIGINT END AS ts_ms,
                   floor({n_paths} * pow({u("sno * 32", 20)}, 3.0))::BIGINT AS entry_i
            FROM e0
        ), e2 AS (
            SELECT *, CASE WHEN kind = 'pageview' THEN {page("pos")} ELSE {page("pos - 1")} END AS page_i,
                   {u("sno * 32 + pos", 23)} AS x, {u("sno * 32 + pos", 24)} AS y
            FROM e1
        )
        SELECT uuid() AS event_id, '{site}' AS site_id, epoch_ms(ts_ms) AS ts,
               CASE kind WHEN 'custom' THEN cs.name ELSE kind END AS name,
               '{HOSTNAME}' AS hostname, pg.path AS pathname,
               CASE WHEN pos = 0 THEN utm_query ELSE '' END AS url_query,
               referrer, referrer_source, utm_source, utm_medium, utm_campaign, utm_term,
               utm_content, visitor_id, session_id, user_id, browser, browser_version, os,
               os_version, device, screen, language, country, '' AS region, '' AS city,
               pg.title, entry_page,
               CASE WHEN kind <> 'custom' THEN CAST(MAP {{}} AS MAP(VARCHAR, VARCHAR))
                    WHEN cs.name = 'Outbound Link: Click' THEN map(['url'], [
                        ['https://github.com/footfall/footfall', 'https://docs.python.org/3/',
                         'https://duckdb.org/docs/', 'https://clickhouse.com/docs',
                         'https://twitter.com/footfall'][1 + ({h("sno", 25, 5)})]])
                    WHEN cs.name IN ('Signup', 'Purchase') THEN map(['plan', 'method'], [
                        ['free', 'pro', 'team', 'enterprise'][1 + floor(4 * x * x)::INTEGER],
                        ['email', 'google', 'github'][1 + ({h("sno", 26, 3)})]])
                    WHEN cs.name = 'Add to Cart' THEN map(['product', 'quantity'], [
                        'sku-' || floor(200 * pow(x, 2))::INTEGER, (1 + floor(3 * y * y))::INTEGER::VARCHAR])
                    WHEN cs.name = 'File Download' THEN map(['file'], [
                        ['footfall-1.2.tar.gz', 'whitepaper.pdf', 'pricing.pdf', 'logo.svg'][1 + floor(4 * x)::INTEGER]])
                    WHEN cs.name = 'Search' THEN map(['query'], [
                        ['python', 'export', 'gdpr', 'api', 'pricing', 'funnels', 'goals', 'teams'][1 + floor(8 * x * x)::INTEGER]])
                    ELSE map(['percent'], [['25', '50', '75', '100'][1 + floor(4 * x)::INTEGER]]) END AS props,
               CASE WHEN cs.name = 'Purchase' AND kind = 'custom' THEN round(9 + 291 * x * x, 2) END AS revenue,
               CASE WHEN kind = 'engagement' THEN (1500 + floor(240000 * pow(x, 2.5)))::BIGINT END AS duration_ms,
               CASE WHEN kind = 'pageview' AND y < 0.85 THEN (120 + floor(4500 * pow(x, 3)))::BIGINT END AS load_time_ms,
               CASE WHEN kind = 'engagement' THEN least(100, floor(10 + 95 * pow(y, 0.7)))::BIGINT END AS scroll_depth,
               CASE kind WHEN 'pageview' THEN true WHEN 'engagement' THEN false ELSE cs.interactive END AS interactive
        FROM e2
        JOIN _paths pg ON pg.i = e2.page_i
        JOIN _custom_slots cs ON cs.slot = {h("sno * 32 + pos", 27, SLOTS)}
    """)
    con.execute(f"SET threads = {threads}")
    n_events = con.execute("SELECT count(*) FROM events").fetchone()[0] - before  # type: ignore[index]
    con.execute("DROP TABLE _visits")
    log(f"  {n_events:,} events inserted in {time.perf_counter() - t:.1f}s")

    # The sessions table, exactly as the writer's fold would leave it.
    t = time.perf_counter()
    first = ", ".join(f"arg_min({c}, ts) AS {c}" for c in SESSION_FIRST_EVENT_COLUMNS)
    # One GROUP BY over the site's events; above ~20M events it runs per hash slice of
    # session_id (each visit lies wholly in one slice) to bound the aggregate's memory.
    slices = max(1, spec.events // 20_000_000)
    fold = f"""
        SELECT site_id, session_id, min(ts) AS start_ts, max(ts) AS end_ts,
               arg_min(pathname, ts) FILTER (WHERE name = 'pageview') AS entry_page,
               min(ts) FILTER (WHERE name = 'pageview') AS entry_ts,
               arg_max(pathname, ts) FILTER (WHERE name = 'pageview') AS exit_page,
               max(ts) FILTER (WHERE name = 'pageview') AS exit_ts,
               count(*) FILTER (WHERE name = 'pageview') AS pageviews,
               count(*) FILTER (WHERE name <> 'engagement') AS events,
               count(*) FILTER (WHERE interactive) AS interactive_events,
               {first}
        FROM events WHERE site_id = '{site}' AND session_id % {slices} = ?
        GROUP BY site_id, session_id
    """
    if slices == 1:
        con.execute(f"INSERT INTO sessions BY NAME {fold} ORDER BY start_ts", [0])
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _sess AS {fold}", [0])
        for k in range(1, slices):
            con.execute(f"INSERT INTO _sess {fold}", [k])
        con.execute("INSERT INTO sessions BY NAME SELECT * FROM _sess ORDER BY start_ts")
        con.execute("DROP TABLE _sess")
    n_sessions = con.execute(
        "SELECT count(*) FROM sessions WHERE site_id = ?", [spec.site_id]
    ).fetchone()[0]  # type: ignore[index]
    log(f"  {n_sessions:,} sessions in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    con.execute("CHECKPOINT")
    log(f"  checkpoint in {time.perf_counter() - t:.1f}s")
    for name in ("_paths", "_refs", "_utm_slots", "_utms", "_uas", "_ua_slots",
                 "_country_slots", "_lang_slots", "_hour_slots", "_custom_slots"):  # fmt: skip
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return {
        "events": int(n_events),
        "sessions": int(n_sessions),
        "seconds": time.perf_counter() - t_all,
        "first_day": day0.date().isoformat(),
        "now": now.isoformat(),
    }
