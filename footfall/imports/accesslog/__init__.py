"""Web server access logs as pageviews (``footfall import access-log``)."""
