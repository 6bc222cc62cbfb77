"""Report recipients, table retention and the instance secret, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from footfall.meta import Metadata
from footfall.meta.rights import RightsPrefs, instance_secret
from footfall.meta.values import MetaValidationError, SiteNotFoundError


def test_recipients_subscribe_once_unsubscribe_and_go_with_their_site(meta: Metadata) -> None:
    site, _ = meta.create_site("Shop", ["shop.example"])
    prefs = RightsPrefs(meta)
    first = prefs.add_recipient(site.id, " ann@example.org ", "weekly")
    assert prefs.add_recipient(site.id, "ann@example.org", "weekly").id == first.id
    prefs.add_recipient(site.id, "ann@example.org", "spike")
    assert [(r.email, r.kind) for r in prefs.recipients(site.id)] == [
        ("ann@example.org", "weekly"), ("ann@example.org", "spike")]  # fmt: skip
    prefs.mark_sent(first.id, "2026-W48")
    assert prefs.recipients(site.id, "weekly")[0].last_sent == "2026-W48"
    assert prefs.remove_recipient(site.id, "ann@example.org", "weekly") is True
    assert prefs.remove_recipient(site.id, "ann@example.org", "weekly") is False
    for bad, field in (("not-an-address", "email"), ("a@b.org, c@d.org", "email")):
        with pytest.raises(MetaValidationError) as exc:
            prefs.add_recipient(site.id, bad, "weekly")
        assert exc.value.field == field
    with pytest.raises(MetaValidationError):
        prefs.add_recipient(site.id, "a@b.org", "daily")
    with pytest.raises(SiteNotFoundError):
        prefs.add_recipient("nope", "a@b.org", "weekly")
    meta.delete_site(site.id)
    assert prefs.recipients() == []


def test_table_retention_and_the_instance_secret(meta: Metadata) -> None:
    site, _ = meta.create_site("Blog", ["blog.example"])
    prefs = RightsPrefs(meta)
    assert prefs.retention(site.id).sessions_days is None
    prefs.set_retention(site.id, "90", None)
    kept = prefs.retention(site.id)
    assert (kept.sessions_days, kept.rollups_days) == (90, None)
    with pytest.raises(MetaValidationError) as exc:
        prefs.set_retention(site.id, 90, "0")
    assert exc.value.field == "rollups_days"
    secret = instance_secret(meta, "unsubscribe")
    again = Metadata(meta.engine.url)
    try:
        assert len(secret) == 64 and instance_secret(again, "unsubscribe") == secret
    finally:
        again.close()
