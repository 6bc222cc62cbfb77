"""Where a ClickHouse store lives, as ``FOOTFALL_STORE_URL`` names it
(footfall/store/factory.py parses the URL)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClickHouseTarget:
    """Where a ClickHouse store lives: a server (``host`` set) or a chdb ``path``."""

    host: str = ""
    port: int = 8123
    username: str = "default"
    password: str = ""
    database: str = "default"
    secure: bool = False
    path: str = ""
