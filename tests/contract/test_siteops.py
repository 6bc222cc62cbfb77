"""The store port's site checks, on every store (DuckDB, chdb, ClickHouse over HTTP): the
"verify installation" facts (events stored, the newest one's time, the writer's drops by
reason since an hour) and the property names an event carried, most used first.

Expected figures are counted from the records the test sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.writer import Writer
from tests.contract.test_store_writes import T0, open_parts, record

BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# Signup events' property names: plan 10 times, ref 4, alpha 2 and zeta 2 (a tie: by name).
SIGNUP_PROPS = (
    [{"plan": "pro"}] * 6
    + [{"plan": "free", "ref": "mail"}] * 4
    + [{"zeta": "1"}, {"zeta": "2"}, {"alpha": "1"}, {"alpha": "2"}]
)


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def records() -> list[SpoolRecord]:
    out = [record(i) for i in range(30)]  # site "s": 30 pageviews, one a second
    out += [record(100 + i, name="Signup", props=p) for i, p in enumerate(SIGNUP_PROPS)]
    out += [record(200 + i, user_agent=BOT) for i in range(5)]  # dropped, the latest of all
    out += [record(300 + i, site_id="t", hostname="t.com", props={"other": "x"}) for i in range(3)]
    return out


def test_site_activity_and_property_keys_agree_on_every_store(
    tmp_path: Path, store_url: str
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    spool.append_sync([ENCODER.encode(r) for r in records()])
    writer = Writer(spool, store, lambda s: (f"{s}.com",), batch_size=500)
    while writer.run_once():
        pass
    hour = at(T0).replace(minute=0, second=0, microsecond=0)

    found = store.site_activity("s", hour)
    assert found.events == 30 + len(SIGNUP_PROPS)  # the bots are not stored
    assert found.last_event == at(T0 + (100 + len(SIGNUP_PROPS) - 1) * 1000)
    assert found.drops == {"bot": 5}
    # Counts are per UTC hour of the event: from the next hour on, nothing was dropped.
    assert store.site_activity("s", hour + timedelta(hours=1)).drops == {}
    assert store.site_activity("t", hour).events == 3

    nothing = store.site_activity("no-such-site", hour)
    assert (nothing.events, nothing.last_event, nothing.drops) == (0, None, {})

    assert store.property_keys("s", "Signup") == ["plan", "ref", "alpha", "zeta"]
    assert store.property_keys("s", "Signup", 2) == ["plan", "ref"]
    assert store.property_keys("t", "Signup") == []  # another site's events do not count
    assert store.property_keys("t", "pageview") == ["other"]
    store.close()
