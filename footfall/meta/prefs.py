"""The site preferences repository: privacy and exclusions, retention, goals and funnels.

:class:`SitePrefs` works over the same database as :class:`~footfall.meta.repo.Metadata`
(it borrows its sessions, like :class:`~footfall.meta.users.Accounts`) and hands out
frozen dataclasses only. Values are checked by :mod:`footfall.meta.siterules` first, so
bad input raises :class:`MetaValidationError` naming the form field; operations on a site
that does not exist raise :class:`SiteNotFoundError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from footfall.meta.models import Site
from footfall.meta.repo import Metadata
from footfall.meta.siteconfig import Funnel, FunnelStep, Goal, SiteSettings
from footfall.meta.siterules import (
    check_currency,
    check_funnel_steps,
    check_goal,
    check_label,
    check_window,
    glob_regex,
    parse_ip_ranges,
    parse_path_patterns,
    parse_retention,
)
from footfall.meta.values import MetaValidationError, SiteNotFoundError


@dataclass(frozen=True, slots=True)
class PrivacyInfo:
    """A site's privacy settings; the defaults when it has none."""

    site_id: str
    respect_dnt: bool = False
    excluded_ips: tuple[str, ...] = ()
    excluded_paths: tuple[str, ...] = ()
    retention_days: int | None = None


@dataclass(frozen=True, slots=True)
class GoalInfo:
    id: int
    site_id: str
    name: str
    kind: str  # "page" (target is a path glob) or "event" (target is an event name)
    target: str
    prop_key: str = ""
    prop_value: str = ""
    currency: str = ""  # a revenue goal's ISO 4217 code; "" when it is not one

    def query_filters(self) -> list[list[object]]:
        """The query API filters that select this goal's completions: events of its name,
        or pageviews (only: a purchase on /pricing is no visit of it) matching its path."""
        out: list[list[object]] = (
            [["is", "event:name", [self.target]]]
            if self.kind == "event"
            else [
                ["is", "event:name", ["pageview"]],
                ["matches", "event:page", [glob_regex(self.target)]],
            ]
        )
        if self.prop_key:
            out.append(["is", f"event:props:{self.prop_key}", [self.prop_value]])
        return out


@dataclass(frozen=True, slots=True)
class FunnelInfo:
    id: int
    site_id: str
    name: str
    steps: tuple[GoalInfo, ...]
    window_hours: int = 24  # steps after the first within this many hours; 0: same visit

    def listing(self) -> dict[str, Any]:
        """How the API and the dashboard list it: id, name and its steps' goal names."""
        return {"id": self.id, "name": self.name, "steps": [g.name for g in self.steps]}


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line for line in text.split("\n") if line)


def _privacy(row: SiteSettings) -> PrivacyInfo:
    return PrivacyInfo(
        row.site_id,
        bool(row.respect_dnt),
        _lines(row.excluded_ips),
        _lines(row.excluded_paths),
        row.retention_days,
    )


def _goal(row: Goal) -> GoalInfo:
    return GoalInfo(
        row.id,
        row.site_id,
        row.name,
        row.kind,
        row.target,
        row.prop_key,
        row.prop_value,
        row.currency or "",
    )


class SitePrefs:
    """Per-site settings, goals and funnels, over the metadata database of ``meta``."""

    def __init__(self, meta: Metadata) -> None:
        self.meta = meta

    # -- privacy, exclusions, retention ------------------------------------------------------

    def privacy(self, site_id: str) -> PrivacyInfo:
        with self.meta.session() as s:
            row = s.get(SiteSettings, site_id)
            return _privacy(row) if row is not None else PrivacyInfo(site_id)

    def set_privacy(
        self,
        site_id: str,
        *,
        respect_dnt: bool,
        excluded_ips: str,
        excluded_paths: str,
        retention_days: str | int | None,
    ) -> PrivacyInfo:
        """Replace the site's privacy settings as a whole (the form sends every field)."""
        ips = parse_ip_ranges(excluded_ips)
        paths = parse_path_patterns(excluded_paths)
        days = parse_retention(retention_days)
        with self.meta.session(write=True) as s, s.begin():
            _require_site(s, site_id)
            row = s.get(SiteSettings, site_id) or SiteSettings(site_id=site_id)
            row.respect_dnt, row.retention_days = bool(respect_dnt), days
            row.excluded_ips, row.excluded_paths = "\n".join(ips), "\n".join(paths)
            s.add(row)
            s.flush()
            return _privacy(row)

    def retention_overrides(self) -> dict[str, int]:
        """Site id → its own retention in days, for sites that set one."""
        query = select(SiteSettings.site_id, SiteSettings.retention_days).where(
            SiteSettings.retention_days.is_not(None)
        )
        with self.meta.session() as s:
            return {site: int(days) for site, days in s.execute(query) if days is not None}

    # -- goals -------------------------------------------------------------------------------

    def goals(self, site_id: str) -> list[GoalInfo]:
        query = select(Goal).where(Goal.site_id == site_id).order_by(Goal.id)
        with self.meta.session() as s:
            return [_goal(row) for row in s.scalars(query)]

    def create_goal(
        self, site_id: str, name: str, kind: str, target: str, prop_key: str = "",
        prop_value: str = "", currency: str = "",
    ) -> GoalInfo:  # fmt: skip
        name, kind, target, prop_key, prop_value = check_goal(
            name, kind, target, prop_key, prop_value
        )
        currency = check_currency(currency, kind)
        row = Goal(site_id=site_id, name=name, kind=kind, target=target, prop_key=prop_key,
                   prop_value=prop_value, currency=currency)  # fmt: skip
        try:
            with self.meta.session(write=True) as s, s.begin():
                _require_site(s, site_id)
                s.add(row)
                s.flush()
                return _goal(row)
        except IntegrityError:
            raise MetaValidationError("goal_name", f"a goal named {name!r} exists") from None

    def update_goal(
        self, site_id: str, goal_id: int, name: str, kind: str, target: str,
        prop_key: str = "", prop_value: str = "", currency: str = "",
    ) -> GoalInfo | None:  # fmt: skip
        """Change a goal as a whole (the funnels using it follow); None if no such goal."""
        fields = check_goal(name, kind, target, prop_key, prop_value)
        currency = check_currency(currency, kind)
        try:
            with self.meta.session(write=True) as s, s.begin():
                row = s.get(Goal, goal_id)
                if row is None or row.site_id != site_id:
                    return None
                row.name, row.kind, row.target, row.prop_key, row.prop_value = fields
                row.currency = currency
                s.flush()
                return _goal(row)
        except IntegrityError:
            raise MetaValidationError("goal_name", f"a goal named {fields[0]!r} exists") from None

    def delete_goal(self, site_id: str, goal_id: int) -> bool:
        """Delete a goal; refused (``goal_id``) while a funnel uses it."""
        with self.meta.session(write=True) as s, s.begin():
            goal = s.get(Goal, goal_id)
            if goal is None or goal.site_id != site_id:
                return False
            used = s.scalars(
                select(Funnel.name).join(FunnelStep, FunnelStep.funnel_id == Funnel.id)
                .where(FunnelStep.goal_id == goal_id)
            ).first()  # fmt: skip
            if used is not None:
                raise MetaValidationError("goal_id", f"funnel {used!r} uses this goal")
            s.delete(goal)
            return True

    # -- funnels -----------------------------------------------------------------------------

    def funnels(self, site_id: str) -> list[FunnelInfo]:
        with self.meta.session() as s:
            funnels = s.scalars(select(Funnel).where(Funnel.site_id == site_id).order_by(Funnel.id))
            goals = {g.id: _goal(g) for g in s.scalars(select(Goal).where(Goal.site_id == site_id))}
            out = []
            for funnel in funnels:
                steps = s.scalars(
                    select(FunnelStep.goal_id).where(FunnelStep.funnel_id == funnel.id)
                    .order_by(FunnelStep.position)
                )  # fmt: skip
                chosen = tuple(goals[g] for g in steps)
                out.append(FunnelInfo(funnel.id, site_id, funnel.name, chosen, funnel.window_hours))
            return out

    def create_funnel(
        self, site_id: str, name: str, goal_ids: list[int], window_hours: int = 24
    ) -> FunnelInfo:
        """A funnel of 2 to 8 of the site's goals, in the given order."""
        name = check_label(name, "funnel_name")
        steps = check_funnel_steps(goal_ids)
        window_hours = check_window(window_hours)
        try:
            with self.meta.session(write=True) as s, s.begin():
                _require_site(s, site_id)
                goals = {g.id: g for g in s.scalars(select(Goal).where(Goal.id.in_(steps)))}
                if any(g not in goals or goals[g].site_id != site_id for g in steps):
                    raise MetaValidationError(
                        "funnel_steps", "each step must be a goal of this site"
                    )
                funnel = Funnel(site_id=site_id, name=name, window_hours=window_hours)
                s.add(funnel)
                s.flush()
                s.add_all(FunnelStep(funnel_id=funnel.id, position=i, goal_id=g)
                          for i, g in enumerate(steps))  # fmt: skip
                return FunnelInfo(funnel.id, site_id, name,
                                  tuple(_goal(goals[g]) for g in steps), window_hours)  # fmt: skip
        except IntegrityError:
            raise MetaValidationError("funnel_name", f"a funnel named {name!r} exists") from None

    def update_funnel(
        self, site_id: str, funnel_id: int, name: str, goal_ids: list[int], window_hours: int = 24
    ) -> FunnelInfo | None:
        """Replace a funnel's name, steps and window; None if the site has no such funnel."""
        name = check_label(name, "funnel_name")
        steps = check_funnel_steps(goal_ids)
        window_hours = check_window(window_hours)
        try:
            with self.meta.session(write=True) as s, s.begin():
                funnel = s.get(Funnel, funnel_id)
                if funnel is None or funnel.site_id != site_id:
                    return None
                goals = {g.id: g for g in s.scalars(select(Goal).where(Goal.id.in_(steps)))}
                if any(g not in goals or goals[g].site_id != site_id for g in steps):
                    raise MetaValidationError(
                        "funnel_steps", "each step must be a goal of this site"
                    )
                funnel.name, funnel.window_hours = name, window_hours
                s.execute(delete(FunnelStep).where(FunnelStep.funnel_id == funnel_id))
                s.flush()  # the old positions go before the new ones take them
                s.add_all(FunnelStep(funnel_id=funnel_id, position=i, goal_id=g)
                          for i, g in enumerate(steps))  # fmt: skip
                s.flush()
                return FunnelInfo(funnel_id, site_id, name,
                                  tuple(_goal(goals[g]) for g in steps), window_hours)  # fmt: skip
        except IntegrityError:
            raise MetaValidationError("funnel_name", f"a funnel named {name!r} exists") from None

    def delete_funnel(self, site_id: str, funnel_id: int) -> bool:
        with self.meta.session(write=True) as s, s.begin():
            done = s.execute(
                delete(Funnel).where(Funnel.id == funnel_id, Funnel.site_id == site_id)
            )
            return bool(getattr(done, "rowcount", 0))


def _require_site(s: Session, site_id: str) -> None:
    if s.get(Site, site_id) is None:
        raise SiteNotFoundError(site_id)
