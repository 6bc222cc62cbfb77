"""Footfall: privacy-friendly website analytics."""

__version__ = "0.1.0"
