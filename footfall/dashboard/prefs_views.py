"""Site settings for privacy, exclusions, retention, goals and funnels (site admins only).

These are extra actions of the settings page (``POST /sites/{id}/settings/{action}``,
dispatched by :mod:`footfall.dashboard.settings_views`, which checks the role and the
CSRF token first): ``privacy`` saves Do-Not-Track / GPC, excluded IP ranges and path
patterns and the site's retention; ``goal-create``, ``goal-delete``, ``funnel-create``
and ``funnel-delete`` edit goals and funnels. A bad value raises
:class:`~footfall.meta.values.MetaValidationError`, shown on the page naming the field.

"Don't count my own visits" cannot be set from here: the tracker runs on the site's own
origin, whose ``localStorage`` the dashboard cannot touch. The page links to the site
with ``#footfall-ignore``, which makes the tracker set ``footfall_ignore`` there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from footfall.dashboard.sessions import services
from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import SiteInfo
from footfall.meta.siterules import MAX_FUNNEL_STEPS
from footfall.meta.values import MetaValidationError

Result = dict[str, Any]
IGNORE_HASH = "#footfall-ignore"
UNIGNORE_HASH = "#footfall-unignore"


def prefs(request: Request) -> SitePrefs:
    return SitePrefs(services(request).meta)


def prefs_context(request: Request, site: SiteInfo) -> Result:
    """What the settings page shows of a site's privacy settings, goals and funnels."""
    p = prefs(request)
    return {
        "privacy": p.privacy(site.id),
        "goals": p.goals(site.id),
        "funnels": p.funnels(site.id),
        "funnel_slots": range(1, MAX_FUNNEL_STEPS + 1),
        "ignore_links": [
            (f"https://{d}/{IGNORE_HASH}", f"https://{d}/{UNIGNORE_HASH}") for d in site.domains
        ],
    }


def _text(form: FormData, name: str) -> str:
    return str(form.get(name, ""))


def _id(form: FormData, name: str) -> int:
    value = _text(form, name)
    if not value.isdigit():
        raise MetaValidationError(name, "expected a number")
    return int(value)


def _privacy(request: Request, site: SiteInfo, form: FormData) -> Result:
    prefs(request).set_privacy(
        site.id,
        respect_dnt=_text(form, "respect_dnt") in ("on", "true", "1"),
        excluded_ips=_text(form, "excluded_ips"),
        excluded_paths=_text(form, "excluded_paths"),
        retention_days=_text(form, "retention_days"),
    )
    services(request).sites.invalidate()  # the ingest path sees the new rules at once
    return {"notice": "Privacy and exclusions saved."}


def _goal_create(request: Request, site: SiteInfo, form: FormData) -> Result:
    kind = _text(form, "goal_kind")
    target = _text(form, "goal_path" if kind == "page" else "goal_event")
    goal = prefs(request).create_goal(
        site.id, _text(form, "goal_name"), kind, target,
        _text(form, "goal_prop_key"), _text(form, "goal_prop_value"),
    )  # fmt: skip
    return {"notice": f"Goal {goal.name!r} created."}


def _goal_delete(request: Request, site: SiteInfo, form: FormData) -> Result:
    done = prefs(request).delete_goal(site.id, _id(form, "goal_id"))
    return {"notice": "Goal deleted." if done else "No such goal."}


def _funnel_create(request: Request, site: SiteInfo, form: FormData) -> Result:
    steps = []
    for slot in range(1, MAX_FUNNEL_STEPS + 1):
        value = _text(form, f"step{slot}")
        if value:
            if not value.isdigit():
                raise MetaValidationError("funnel_steps", f"step {slot} is not a goal")
            steps.append(int(value))
    funnel = prefs(request).create_funnel(site.id, _text(form, "funnel_name"), steps)
    return {"notice": f"Funnel {funnel.name!r} created with {len(funnel.steps)} steps."}


def _funnel_delete(request: Request, site: SiteInfo, form: FormData) -> Result:
    done = prefs(request).delete_funnel(site.id, _id(form, "funnel_id"))
    return {"notice": "Funnel deleted." if done else "No such funnel."}


ACTIONS: dict[str, Callable[[Request, SiteInfo, FormData], Result]] = {
    "privacy": _privacy,
    "goal-create": _goal_create,
    "goal-delete": _goal_delete,
    "funnel-create": _funnel_create,
    "funnel-delete": _funnel_delete,
}
