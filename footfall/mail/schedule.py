"""The mail job: sends what is due, once. Scheduled hourly (footfall/jobs/registry.py).

* A ``weekly`` or ``monthly`` recipient gets the last complete period's report (in the
  site's time zone) unless that period is already their ``last_sent``; so a report goes
  out in the first hour after a week or month ends, and a new recipient gets the last one.
* A ``spike`` recipient is told when the last full hour's pageviews reach SPIKE_FACTOR
  times the hourly average of the 7 days before it, and at least SPIKE_MIN (a quiet site
  going from 1 to 3 pageviews is no spike); at most once per hour.

A recipient is marked sent only after the SMTP server took the mail, so a refused mail
is tried again at the next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from footfall.config import Settings
from footfall.mail import compose, smtp, unsubscribe
from footfall.mail.report import ReportPeriod, gather, pageviews_between
from footfall.meta.repo import Metadata, SiteInfo
from footfall.meta.rights import Recipient, RightsPrefs
from footfall.query.runner import QueryRunner

log = logging.getLogger("footfall.mail")

SPIKE_FACTOR = 3.0
SPIKE_MIN = 20
BASELINE_HOURS = 7 * 24


def public_url(settings: Settings) -> str:
    return settings.public_url or f"http://{settings.host}:{settings.port}"


class Mailer:
    def __init__(self, settings: Settings, meta: Metadata, runner: QueryRunner) -> None:
        self.settings, self.meta, self.runner = settings, meta, runner

    def _target(self) -> smtp.SmtpTarget:
        if not self.settings.mail_from:
            raise smtp.MailError("FOOTFALL_MAIL_FROM is not set: no sender for mail")
        return smtp.SmtpTarget.parse(self.settings.smtp_url)

    def _links(self, site: SiteInfo, to: str, kind: str) -> tuple[str, str]:
        base = public_url(self.settings)
        sub = unsubscribe.Subscription(site.id, to, kind)
        return unsubscribe.link(base, self.meta, sub), f"{base.rstrip('/')}/sites/{site.id}"

    def send_report(self, site: SiteInfo, to: str, kind: str, today: Any = None) -> str:
        """Send the last complete period's report to ``to`` now; the period's label."""
        target = self._target()
        local_today = today or datetime.now(ZoneInfo(site.timezone)).date()
        period = ReportPeriod.last_complete(kind, local_today)
        report = gather(self.runner, self.meta, site, period)
        unsub, dashboard = self._links(site, to, kind)
        msg = compose.report_mail(report, self.settings.mail_from, to, unsub, dashboard)
        smtp.send(target, msg)
        log.info("report sent", extra={"fields": {"site_id": site.id, "period": period.label}})
        return period.label

    def spike(self, site: SiteInfo, now: datetime) -> tuple[int, float] | None:
        """(last hour's pageviews, usual hourly) when the last full hour was a spike."""
        end = now.replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(hours=1)
        views = pageviews_between(self.runner, self.meta, site, start, end)
        if views < SPIKE_MIN:
            return None
        before = pageviews_between(
            self.runner, self.meta, site, start - timedelta(hours=BASELINE_HOURS), start
        )
        usual = before / BASELINE_HOURS
        return (views, usual) if views >= SPIKE_FACTOR * usual else None

    def send_spike(self, site: SiteInfo, to: str, views: int, usual: float, hour: str) -> None:
        unsub, dashboard = self._links(site, to, "spike")
        msg = compose.spike_mail(site, self.settings.mail_from, to, unsub, dashboard,
                                 now_views=views, usual=usual, at=hour)  # fmt: skip
        smtp.send(self._target(), msg)

    def run(self, now: datetime | None = None) -> dict[str, Any]:
        """Send everything due; what was sent and what failed, for the job's result."""
        if not self.settings.smtp_url:
            return {"note": "FOOTFALL_SMTP_URL is not set: no mail is sent"}
        now = now or datetime.now(UTC)
        prefs = RightsPrefs(self.meta)
        sent, failed = 0, 0
        spikes: dict[str, tuple[int, float] | None] = {}
        for r in prefs.recipients():
            site = self.meta.get_site(r.site_id)
            if site is None:
                continue
            try:
                sent += self._due(prefs, r, site, now, spikes)
            except smtp.MailError as exc:
                failed += 1
                log.warning("mail not sent: %s", exc, extra={"fields": {"site_id": site.id}})
        return {"sent": sent, "failed": failed}

    def _due(self, prefs: RightsPrefs, r: Recipient, site: SiteInfo, now: datetime,
             spikes: dict[str, tuple[int, float] | None]) -> int:  # fmt: skip
        if r.kind == "spike":
            if site.id not in spikes:
                spikes[site.id] = self.spike(site, now)
            found = spikes[site.id]
            hour = now.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:00")
            if found is None or r.last_sent == hour:
                return 0
            self.send_spike(site, r.email, found[0], found[1], hour)
            prefs.mark_sent(r.id, hour)
            return 1
        today = now.astimezone(ZoneInfo(site.timezone)).date()
        if r.last_sent == ReportPeriod.last_complete(r.kind, today).label:
            return 0
        prefs.mark_sent(r.id, self.send_report(site, r.email, r.kind, today))
        return 1
