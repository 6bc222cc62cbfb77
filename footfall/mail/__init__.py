"""E-mail reports and alerts: what a site did last week or month, and traffic spikes.

``smtp`` sends through the operator's server (``FOOTFALL_SMTP_URL``); ``report`` gathers
the figures through the query layer (so they are the API's); ``compose`` renders HTML and
text; ``unsubscribe`` signs and checks the links every mail carries; ``schedule`` is the
job that decides what is due.
"""
