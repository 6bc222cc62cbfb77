"""The ``footfall`` commands whose parsers other modules register, for footfall/cli.py.

Those modules import the metadata store (SQLAlchemy), the HTTP client and more when they
load, so the command list (``footfall --help``, no command named) takes their names and
help from :data:`COMMANDS` instead of importing them; tests/test_cli_lazy.py checks that
the two agree. Any command line that names a command registers the real parsers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from footfall.config import Settings
    from footfall.meta.repo import Metadata

# name -> help, in the order the modules register them.
COMMANDS = {
    "users": "dashboard users",
    "worker": "store queued events (Redis shape; run several)",
    "queue": "the event queue",
    "import": "import historical data",
    "export": "write a site's data as Parquet files",
    "privacy": "one person's data: delete or export it",
    "reports": "e-mail reports and traffic alerts",
}


def add_parsers(
    sub: Any,
    common: argparse.ArgumentParser,
    settings_of: Callable[[argparse.Namespace], Settings],
    meta_of: Callable[[Settings], Metadata],
    commands_only: bool = False,
) -> None:
    """Register the commands of :data:`COMMANDS` on ``sub`` (by name and help only when
    ``commands_only``)."""
    if commands_only:
        for name, text in COMMANDS.items():
            sub.add_parser(name, help=text)
        return
    from footfall import cli_mail, cli_privacy, cli_users
    from footfall.imports import cli as cli_imports
    from footfall.worker import command as worker_command

    cli_users.add_parser(sub, common, lambda args: meta_of(settings_of(args)))
    worker_command.add_parser(sub, common)  # worker; queue dlq list|retry|purge
    cli_imports.add_parser(sub, common)
    cli_privacy.add_parser(sub, common, settings_of)
    cli_mail.add_parser(sub, common, settings_of)
