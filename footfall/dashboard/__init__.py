"""The dashboard: server-rendered pages (Jinja2, autoescaped) and small ES modules.

Every figure a page shows is fetched by the browser from ``POST /api/v2/query`` (or, on a
public shared link, from the same query layer behind the link's own endpoint).
"""
