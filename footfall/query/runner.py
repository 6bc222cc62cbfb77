"""Runs a Query: resolve the period(s), execute one statement per source the metrics need,
merge the rows by dimension values, finish the metrics, compare, order and paginate.

The REST API, the seed summary and the dashboard all call ``QueryRunner.run``, so every
figure comes from the same code.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from footfall.meta.repo import SiteInfo
from footfall.query import builder, by_source, daily, hourly, imported, rollup, shape, visits
from footfall.query.builder import Scope, Statement
from footfall.query.dialects import DIALECTS
from footfall.query.dimensions import dimension
from footfall.query.entered import by_entry_page, entered_filters, hostname_filters
from footfall.query.goals import GOAL, breakdown_goals, site_goals, without_goals
from footfall.query.metrics import MONEY_VALUE, QUERY_METRICS, percent_change
from footfall.query.model import Condition, Filter, Query
from footfall.query.period import (
    Period,
    instants,
    is_instant,
    named,
    parse_date,
    period,
    shifted,
    today_in,
)
from footfall.query.result import Comparison, QueryPlan, QueryResult, ResultRow
from footfall.query.timebuckets import auto_unit, label, labels, range_label
from footfall.store.base import EventStore

Key = tuple[str, ...]
Values = dict[str, Any]


class QueryRunner:
    def __init__(self, store: EventStore, *, rollups: bool = True, concurrency: int = 0) -> None:
        self.store = store
        self.rollups = rollups  # False: always the raw path (the rollup contract tests)
        # Queries beyond ``concurrency`` wait their turn: a dashboard load fires ten at
        # once, and on a small machine they would otherwise take every core from the
        # writer (a queued panel costs its wait; a starved writer costs freshness).
        self._slots = threading.BoundedSemaphore(concurrency) if concurrency > 0 else None
        self.dialect = DIALECTS[store.capabilities.sql_dialect]

    # -- periods ---------------------------------------------------------------------------

    def resolve(self, q: Query, site: SiteInfo, now: datetime | None = None) -> Period:
        now = now or datetime.now(UTC)
        if q.date_range in ("realtime", "realtime_5m"):  # the last 30 (or 5) minutes
            end = now.astimezone(UTC).replace(tzinfo=None)
            today = today_in(site.timezone, now)
            span = timedelta(minutes=5 if q.date_range == "realtime_5m" else 30)
            return Period(today, today, end - span, end + timedelta(seconds=1))
        if isinstance(q.date_range, tuple) and is_instant(q.date_range[0]):
            return instants(q.date_range[0], q.date_range[1], site.timezone)
        if isinstance(q.date_range, tuple):
            first = parse_date(q.date_range[0], "date_range")
            last = parse_date(q.date_range[1], "date_range")
            return period(first, last, site.timezone)
        today = parse_date(q.date, "date") if q.date else today_in(site.timezone, now)
        first_data = None
        if q.date_range == "all":
            rows = self.store.query("SELECT min(ts) FROM events WHERE site_id = ?", [site.id])
            if rows and rows[0][0] is not None:
                first_data = (
                    rows[0][0].replace(tzinfo=UTC).astimezone(ZoneInfo(site.timezone)).date()
                )
        first, last = named(q.date_range, today, first_data)
        return period(first, last, site.timezone)

    # -- execution ---------------------------------------------------------------------------

    def _fetch(
        self,
        st: Statement,
        scope: Scope,
        dims: tuple[str, ...],
        prefix: str,
        out: dict[Key, Values],
    ) -> None:
        self._merge(self.store.query(st.sql, st.params), st.aliases, scope, dims, prefix, out)

    def _merge(
        self,
        rows: list[tuple[Any, ...]],
        aliases: tuple[str, ...],
        scope: Scope,
        dims: tuple[str, ...],
        prefix: str,
        out: dict[Key, Values],
    ) -> None:
        n = len(dims)
        names = [f"{prefix}.{alias}" for alias in aliases]
        if n == 1 and not dims[0].startswith("time"):
            # One plain dimension (every breakdown panel): thousands of values for pages,
            # so the per-row work is kept to a minimum here (it holds the GIL that parallel
            # panels share). Same labels as _label.
            dim = dimension(dims[0])
            empty, named = dim.empty_label, dim.names is not None
            for row in rows:
                v = row[0]
                if named:
                    key: Key = (dim.label(v),)
                else:
                    key = (empty if v is None or v == "" else str(v),)
                values = out.get(key)
                if values is None:
                    values = out[key] = {}
                values.update(zip(names, row[1:], strict=True))
            return
        for row in rows:
            key = tuple(self._label(scope, d, v) for d, v in zip(dims, row[:n], strict=True))
            out.setdefault(key, {}).update(zip(names, row[n:], strict=True))

    @staticmethod
    def _label(scope: Scope, dim: str, value: Any) -> str:
        if dim == "time" or dim.startswith("time:"):
            first = scope.start.replace(tzinfo=UTC).astimezone(scope.zone).date()
            return range_label(scope.unit or "day", label(scope.unit or "day", value), first)
        return dimension(dim).label(value)

    def values(
        self, q: Query, scope: Scope, dims: tuple[str, ...], filters: tuple[Filter, ...]
    ) -> dict[Key, Values]:
        if GOAL not in dims:
            got = self._values(q, scope, dims, filters)
            if q.include.get("imports") and imported.skip_reason(q, scope.unit) is None:
                imported.add(self.store, scope, dims, got, filters)  # include.imports
            return got
        # One goal at a time, over the events completing it: an event that completes two
        # goals counts in both rows, and every metric keeps its one definition.
        i = dims.index(GOAL)
        rest = dims[:i] + dims[i + 1 :]
        out: dict[Key, Values] = {}
        for name in breakdown_goals(q, filters):
            only = Condition("is", GOAL, (name,))
            got = self._values(q, scope, rest, (*filters, only), event_level=True)
            if q.include.get("imports") and imported.skip_reason(q, scope.unit) is None:
                imported.add(self.store, scope, rest, got, (*filters, only))
            for key, v in got.items():
                if v.get("events.visitors"):  # a goal nobody completed has no row
                    out[(*key[:i], name, *key[i:])] = v
        return out

    def _values(
        self,
        q: Query,
        scope: Scope,
        dims: tuple[str, ...],
        filters: tuple[Filter, ...],
        event_level: bool = False,
    ) -> dict[Key, Values]:
        needs = {n for m in q.metrics for n in QUERY_METRICS[m].needs}
        event_dims = event_level or any(
            dimension(d).event_level for d in dims if not d.startswith("time")
        )
        if "visits" in needs:
            needs.add("events.visits_e" if event_dims else "sessions.visits")
        out: dict[Key, Values] = {}
        b = builder
        ev = sorted({n.split(".")[1] for n in needs if n.startswith("events.")} | {"visitors"})
        plan = rollup.plan(self.store, scope, ev, dims, filters) if self.rollups else None
        ses = sorted(n.split(".")[1] for n in needs if n.startswith("sessions."))
        # the range's visits from the store's copy ordered by start, if it keeps one; read
        # with the state of the events' first days when both are read (visits.states)
        fdays = None
        if self.rollups and ses and plan is None:
            fdays = daily.firsts_days(self.store, scope, ev, dims, filters)
        fstate: daily.Firsts | bool | None = False  # False: not read yet
        if fdays is not None:
            vstate, fstate = visits.states(self.store, scope, fdays)
        else:
            vstate = visits.state(self.store, scope) if self.rollups and ses else None
        vis = visits.source(self.store, scope, vstate) if vstate else None
        entered = entered_filters(dims, filters) if "sessions.bounces" in needs else None
        extra = entered[len(filters) :] if entered is not None else ()
        pair = None
        if not plan and not dims and ses:
            also = extra[0] if len(extra) == 1 else None  # the entered visits too
            table = by_source.events_table(self.store, ev, filters, also)
            pair = b.aggregate_pair(scope, ev, ses, filters, vis, also, table)
        if pair is not None:  # both tables' sums from one read of the matching events
            row = self.store.query(pair.sql, pair.params)[0]
            self._merge([row[: len(ev)]], tuple(ev), scope, dims, "events", out)
            n = len(ev) + len(ses)
            self._merge([row[len(ev) : n]], tuple(ses), scope, dims, "sessions", out)
            if len(pair.aliases) > n:
                self._merge([row[n:]], ("visits", "bounces"), scope, dims, "entered", out)
                entered = None
            ses = []
        elif plan is not None:  # the same numbers, from the exact rollups
            rows = rollup.fetch(self.store, scope, plan, ev)
            self._merge(rows, tuple(ev), scope, dims, "events", out)
        elif self.rollups and (
            st := hourly.statement(self.store, scope, ev, dims, filters)
            or daily.statement(self.store, scope, ev, dims, filters, fstate)
        ):
            self._fetch(st, scope, dims, "events", out)
        else:
            self._fetch(b.aggregate(scope, "events", ev, dims, filters), scope, dims, "events", out)
        sdims, sfilters = by_entry_page(dims, filters)  # a page's visits: those entering it
        sout: dict[Key, Values] = out if sdims == dims else {}
        splan = None
        if ses and self.rollups:
            splan = rollup.plan(self.store, scope, ses, sdims, sfilters, "sessions")
        if splan is not None:
            rows = rollup.fetch(self.store, scope, splan, ses)
            self._merge(rows, tuple(ses), scope, sdims, "sessions", sout)
        elif ses:
            st = visits.sums(self.store, scope, ses, sdims, sfilters, vstate) or b.aggregate(
                scope, "sessions", ses, sdims, sfilters, vis
            )
            self._fetch(st, scope, sdims, "sessions", sout)
        for key in out.keys() & sout.keys() if sout is not out else ():  # rows of pages viewed
            out[key].update(sout[key])
        if entered is not None:
            vis = visits.source(self.store, scope) if self.rollups else None
            st = b.aggregate(scope, "sessions", ["visits", "bounces"], dims, entered, vis)
            self._fetch(st, scope, dims, "entered", out)
            for v in out.values():  # no visit entered there: a rate of 0
                v.setdefault("entered.visits", 0)
        if "dropped.bots" in needs:
            self._fetch(b.bot_events(scope, dims), scope, dims, "dropped", out)
        for special in [s for s in ("entries", "exits") if f"special.{s}" in needs]:
            self._fetch(b.entries_exits(scope, special, dims, filters), scope, dims, "special", out)
        if "special.scroll_depth" in needs:
            self._fetch(b.scroll_depth(scope, dims, filters), scope, dims, "special", out)
        if "special.time_on_page" in needs:
            self._fetch(b.time_on_page(scope, dims, filters), scope, dims, "special", out)
        if "total.visitors" in needs:
            total = self._scalar(scope, filters)
            for v in out.values():
                v["total.visitors"] = total
        if "base_total.visitors" in needs:
            total = self._scalar(scope, without_goals(filters))
            for v in out.values():
                v["base_total.visitors"] = total
        if "base.visitors" in needs:
            base: dict[Key, Values] = {}
            self._fetch(
                b.aggregate(scope, "events", ["visitors"], dims, without_goals(filters)),
                scope,
                dims,
                "events",
                base,
            )
            for key, v in out.items():
                v["base.visitors"] = base.get(key, {}).get("events.visitors", 0)
        return out

    def _scalar(self, scope: Scope, filters: tuple[Filter, ...]) -> int:
        st = builder.aggregate(scope, "events", ["visitors"], (), filters)
        return int(self.store.query(st.sql, st.params)[0][0] or 0)

    # -- the whole query: plan, execute, a typed result ---------------------------------------

    def run(self, q: Query, site: SiteInfo, now: datetime | None = None) -> dict[str, Any]:
        """The answer in the API's JSON shape (``answer(...).to_json()``)."""
        return self.answer(q, site, now).to_json()

    def answer(self, q: Query, site: SiteInfo, now: datetime | None = None) -> QueryResult:
        if self._slots is None:
            return self._answer(q, site, now)
        with self._slots:
            return self._answer(q, site, now)

    def plan(self, q: Query, site: SiteInfo, now: datetime | None = None) -> QueryPlan:
        """The periods, the time unit and the statements' scope of ``q``."""
        p = self.resolve(q, site, now)
        unit = None
        if q.time_dimension:
            unit = (
                auto_unit(p.first, p.last)
                if q.time_dimension == "time"
                else q.time_dimension.split(":")[1]
            )
        zone = ZoneInfo(site.timezone)
        scope = Scope(site.id, p.start_utc, p.end_utc, zone, self.dialect, unit, site_goals(q))
        cp = shifted(p, q.compare, site.timezone) if q.compare else None
        return QueryPlan(p, unit, scope, cp)

    def _answer(self, q: Query, site: SiteInfo, now: datetime | None) -> QueryResult:
        q = replace(q, filters=hostname_filters(q.dimensions, q.filters))
        plan = self.plan(q, site, now)
        p, unit, scope, cp = plan.period, plan.unit, plan.scope, plan.compare_period
        current = self.values(q, scope, q.dimensions, q.filters)
        shape.fill_compared_buckets(q, unit, p, cp, current)
        finish = {m: QUERY_METRICS[m].finish for m in q.metrics}
        if q.include.get("money_value"):  # Plausible's money objects: metrics.MONEY_VALUE
            finish.update({m: f for m, f in MONEY_VALUE.items() if m in finish})
        rows = [(key, [finish[m](v) for m in q.metrics]) for key, v in current.items()]
        rows = shape.order(q, rows)
        page = rows[q.offset : q.offset + q.limit]
        out = [ResultRow(key, metrics) for key, metrics in page]
        if cp is not None:
            cscope = replace(scope, start=cp.start_utc, end=cp.end_utc)
            previous = self.values(q, cscope, q.dimensions, q.filters)
            relabel = shape.time_alignment(q, unit, p, cp)
            for i, (key, metrics) in enumerate(page):
                ckey = relabel(key)
                prev = [finish[m](previous.get(ckey, {})) for m in q.metrics]
                change = [percent_change(c, pv) for c, pv in zip(metrics, prev, strict=True)]
                out[i] = ResultRow(key, metrics, Comparison(ckey, prev, change))
        include = q.include
        return QueryResult(
            out,
            p,
            shape.echo(q, p),
            compare_period=cp,
            time_labels=None
            if not unit or not include.get("time_labels")
            else labels(unit, p.first, p.last),
            total_rows=len(rows) if include.get("totals") or include.get("total_rows") else None,
            totals=self._totals(q, scope, finish, cp, site) if include.get("totals") else None,
            extra_meta=imported.meta(self.store, q, scope) if include.get("imports") else {},
        )

    def _totals(
        self, q: Query, scope: Scope, finish: dict[str, Any], cp: Period | None, site: SiteInfo
    ) -> dict[str, Any]:
        metrics = tuple(m for m in q.metrics if m not in ("percentage", "group_conversion_rate"))
        totals_q = replace(q, metrics=metrics, dimensions=(), compare=None, order_by=())
        now = self.values(totals_q, replace(scope, unit=None), (), q.filters)
        out: dict[str, Any] = {m: finish[m](now.get((), {})) for m in totals_q.metrics}
        if cp is not None:
            prev_scope = replace(scope, start=cp.start_utc, end=cp.end_utc, unit=None)
            prev = self.values(totals_q, prev_scope, (), q.filters)
            prev_values = {m: finish[m](prev.get((), {})) for m in totals_q.metrics}
            out = {"metrics": out, "comparison": prev_values,
                   "change": {m: percent_change(out[m], prev_values[m]) for m in out}}  # fmt: skip
        return out
