"""Reading Footfall from Python: ``footfall.client.Stats`` runs ``/api/v2/query`` and the
``/api/v1`` reports with a read token and returns their rows.

Standard library only (like ``footfall.client``); a notebook adds pandas or Polars::

    from footfall.client import Stats

    stats = Stats("https://stats.example.com", "fft_...")
    rows = stats.query("shop", ["visitors", "pageviews"], dimensions=["event:page"],
                       date_range="30d")
    rows[0]            # {"event:page": "/", "visitors": 120, "pageviews": 300}
    rows.to_pandas()   # a DataFrame, columns in the query's order (pandas installed)
    rows.to_polars()   # the same as a Polars DataFrame (polars installed)
    stats.report("sources", "shop", period="7d")   # GET /api/v1/sources

A refused request raises :class:`footfall.client.FootfallError` with the status and the
field the server names (``metrics``, ``site_id`` …); nothing is retried (queries are
cheap to repeat, and a 4xx would fail again).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from footfall import __version__

USER_AGENT = f"footfall-python/{__version__}"


class Rows(list[dict[str, Any]]):
    """A list of row dicts (one per result row), with the columns in the answer's order."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        super().__init__(rows)
        self.columns = columns

    def to_pandas(self) -> Any:
        """A pandas DataFrame (``pip install pandas``)."""
        try:
            import pandas as pd  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install 'footfall[pandas]'") from None
        return pd.DataFrame(list(self), columns=self.columns)

    def to_polars(self) -> Any:
        """A Polars DataFrame (``pip install polars``)."""
        try:
            import polars as pl  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise ImportError("to_polars needs polars: pip install 'footfall[polars]'") from None
        return pl.DataFrame({c: [row.get(c) for row in self] for c in self.columns}, strict=False)


class Stats:
    """A read-only client of one Footfall server."""

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def query(
        self,
        site_id: str,
        metrics: list[str],
        *,
        dimensions: list[str] | None = None,
        date_range: str | list[str] = "30d",
        filters: list[Any] | None = None,
        **extra: Any,
    ) -> Rows:
        """``POST /api/v2/query`` (Plausible's query language); one row per result, keyed
        by dimension and metric names. ``extra``: any other field of the query
        (``order_by``, ``include``, ``pagination``, ``date`` …)."""
        body: dict[str, Any] = {"site_id": site_id, "metrics": metrics, "date_range": date_range}
        if dimensions:
            body["dimensions"] = dimensions
        if filters:
            body["filters"] = filters
        body.update(extra)
        answer = self._request("POST", "/api/v2/query", body)
        dims = list(answer.get("query", {}).get("dimensions", dimensions or []))
        names = list(answer.get("query", {}).get("metrics", metrics))
        rows = [
            dict(zip(dims, r.get("dimensions", []), strict=False))
            | dict(zip(names, r.get("metrics", []), strict=False))
            for r in answer.get("results", [])
        ]
        return Rows(rows, dims + names)

    def report(self, name: str, site_id: str, **params: Any) -> Rows:
        """``GET /api/v1/<name>`` (``summary``, ``trends``, ``pages``, ``sources`` …): its
        rows, or a one-row table for a report answering one object (``summary``)."""
        query = {"site_id": site_id}
        for key, value in params.items():
            query[key] = json.dumps(value) if isinstance(value, list | dict) else str(value)
        path = f"/api/v1/{urllib.parse.quote(name)}?{urllib.parse.urlencode(query)}"
        data = self._request("GET", path).get("data")
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            data = (
                lists[0]
                if len(lists) == 1 and all(isinstance(x, dict) for x in lists[0])
                else [data]
            )
        rows = [r for r in data or [] if isinstance(r, dict)]
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        return Rows(rows, columns)

    def _request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        from footfall.client import FootfallError

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - the caller's own server URL
            self.url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "User-Agent": USER_AGENT,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                answer: Any = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise _error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise FootfallError(0, "url", str(getattr(exc, "reason", exc))) from None
        if not isinstance(answer, dict):
            raise FootfallError(0, "body", "the server's answer is not a JSON object")
        return answer


def _error(exc: urllib.error.HTTPError) -> Exception:
    from footfall.client import FootfallError

    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        body = None
    field, message = "request", str(exc.reason)
    if isinstance(body, dict):
        message = str(body.get("error", message))
        details = body.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            field = str(details[0].get("field", field))
            message = str(details[0].get("message", message))
    return FootfallError(exc.code, field, message, body)
