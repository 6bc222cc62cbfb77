"""The commands that touch one site's metadata (``footfall reports``, ``footfall privacy``)
refuse an unknown site or a bad value the same way: exit code 2 and one line naming the
field, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["reports", "subscribe", "--site", "nosuch", "--to", "a@b.org"],
        ["reports", "send", "--site", "nosuch", "--to", "a@b.org"],
        ["privacy", "retention", "--site", "nosuch", "--sessions-days", "30"],
        ["privacy", "delete", "--site", "nosuch", "--user-id", "bob"],
    ],
)
def test_an_unknown_site_exits_2_naming_it(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "error: site: no site 'nosuch'\n"


def test_a_bad_address_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["reports", "send", "--site", "s", "--to", "nope", "--data-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: to: ") and err.count("\n") == 1
