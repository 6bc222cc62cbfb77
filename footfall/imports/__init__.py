"""Imports and exports of a site's data: access logs, Plausible's CSV export, and
Footfall's own Parquet export (``footfall import …``, ``footfall export``)."""
