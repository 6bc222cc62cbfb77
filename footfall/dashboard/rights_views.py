"""Site settings for e-mail reports and per-table retention (site admins only).

Extra actions of the settings page (``POST /sites/{id}/settings/{action}``, dispatched by
:mod:`footfall.dashboard.settings_views`, which checks the role and the CSRF token
first), over the same :class:`~footfall.meta.rights.RightsPrefs` that ``footfall reports
recipients`` and ``footfall privacy retention`` use:

- ``recipient-add`` subscribes an address to the weekly or monthly report or the
  traffic-spike alert; ``recipient-remove`` unsubscribes it (as its mail's link does);
- ``retention`` sets how long the site keeps its visits and its rollups (raw events are
  the privacy form's ``retention_days``). Empty means: visits go with the raw events,
  rollups are kept for ever.

A bad value raises :class:`~footfall.meta.values.MetaValidationError`, which the page
shows naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from footfall.dashboard.sessions import services
from footfall.meta.repo import SiteInfo
from footfall.meta.rights import KINDS, RightsPrefs

Result = dict[str, Any]
KIND_LABELS = {
    "weekly": "Weekly report",
    "monthly": "Monthly report",
    "spike": "Traffic-spike alert",
}


def rights(request: Request) -> RightsPrefs:
    return RightsPrefs(services(request).meta)


def rights_context(request: Request, site: SiteInfo) -> Result:
    """What the settings page shows of a site's report recipients and table retention."""
    p = rights(request)
    return {
        "recipients": p.recipients(site.id),
        "report_kinds": [(k, KIND_LABELS.get(k, k)) for k in KINDS],
        "table_retention": p.retention(site.id),
        "mail_ready": bool(services(request).settings.smtp_url),
    }


def _recipient_add(request: Request, site: SiteInfo, form: FormData) -> Result:
    kind = str(form.get("kind", "weekly"))
    got = rights(request).add_recipient(site.id, str(form.get("email", "")), kind)
    return {"notice": f"{got.email} will get the {KIND_LABELS.get(kind, kind).lower()}."}


def _recipient_remove(request: Request, site: SiteInfo, form: FormData) -> Result:
    email, kind = str(form.get("email", "")).strip(), str(form.get("kind", ""))
    done = rights(request).remove_recipient(site.id, email, kind)
    return {"notice": f"{email} unsubscribed." if done else "No such recipient."}


def _retention(request: Request, site: SiteInfo, form: FormData) -> Result:
    rights(request).set_retention(
        site.id, str(form.get("sessions_days", "")), str(form.get("rollups_days", ""))
    )
    return {"notice": "Retention saved."}


ACTIONS: dict[str, Callable[[Request, SiteInfo, FormData], Result]] = {
    "recipient-add": _recipient_add,
    "recipient-remove": _recipient_remove,
    "retention": _retention,
}
