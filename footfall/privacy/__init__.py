"""Data rights: forgetting and exporting one person's data (footfall/privacy/person.py)."""
