"""``footfall import plausible-csv``, ``footfall import footfall`` and ``footfall export``."""

from __future__ import annotations

import argparse
from typing import Any


def add_parsers(imp: Any, sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the remaining import sources and the export command."""
