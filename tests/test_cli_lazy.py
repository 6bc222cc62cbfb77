"""``footfall --help`` loads no engine: the command list comes from footfall/cli.py and
footfall/cli_elsewhere.py (the names and help of the commands other modules register),
and it is the same list, with the same help, as the full parser's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from footfall.cli import parser

HEAVY = ("sqlalchemy", "pyarrow", "duckdb", "rich", "granian", "urllib.request", "footfall.meta")


def test_the_command_list_is_the_full_parsers() -> None:
    assert parser(commands_only=True).format_help() == parser().format_help()


@pytest.mark.slow  # starts an interpreter
def test_help_imports_no_engine() -> None:
    code = (
        "import sys; from footfall.cli import main\n"
        "try: main(['--help'])\n"
        "except SystemExit: pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules if m.startswith({HEAVY!r})}}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "COMMAND" in out.stdout and "import" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
    # A command still finds everything it needs.
    sites = subprocess.run(
        [sys.executable, "-m", "footfall", "sites", "--help"], capture_output=True, text=True
    )
    assert sites.returncode == 0 and "create" in sites.stdout
