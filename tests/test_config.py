"""Settings come from FOOTFALL_* variables; bad values fail naming the variable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from footfall.config import Settings, SettingsError, docs_table


def test_defaults_match_the_issue() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 8000, Path("footfall-data"))
    assert s.rate_limit_per_ip == 100 and s.rate_limit_per_ip_burst == 1000
    assert s.retention_days == 0
    assert s.flush_interval_ms <= 2000  # freshness under 2 s


def test_env_values_are_typed() -> None:
    s = Settings.from_env(
        {"FOOTFALL_PORT": "9001", "FOOTFALL_DATA_DIR": "/tmp/x", "FOOTFALL_RATE_LIMIT_PER_IP": "0"}
    )
    assert s.port == 9001 and s.data_dir == Path("/tmp/x") and s.rate_limit_per_ip == 0


@pytest.mark.parametrize(
    ("var", "value"),
    [("FOOTFALL_PORT", "eighty"), ("FOOTFALL_PORT", "70000"), ("FOOTFALL_RETENTION_DAYS", "-1"),
     ("FOOTFALL_RATE_LIMIT_PER_IP", "fast"), ("FOOTFALL_LOG_LEVEL", "loud"), ("FOOTFALL_MAXMIND_DB", "/nope.mmdb"),
     ("FOOTFALL_SHUTDOWN_TIMEOUT_SECONDS", "-5")],
)  # fmt: skip
def test_bad_values_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        Settings.from_env({var: value})


def test_cli_overrides_env() -> None:
    s = Settings.from_env({"FOOTFALL_PORT": "9001"}, port=9002)
    assert s.port == 9002


def test_serve_refuses_bad_config_with_a_clear_message(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "footfall.cli", "serve"],
        env={"FOOTFALL_PORT": "x", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode != 0
    assert "FOOTFALL_PORT" in out.stderr


def test_readme_configuration_table_matches_settings() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert docs_table() in readme, (
        "README's configuration table is stale: run `footfall config docs`"
    )
    for name in re.findall(r"`(FOOTFALL_[A-Z_]+)`", docs_table()):
        assert name in readme


@pytest.mark.parametrize(
    ("var", "value"), [("FOOTFALL_ALLOW_HEADLESS", "maybe"), ("FOOTFALL_LIVE_INTERVAL_S", "fast"),
                       ("FOOTFALL_LIVE_INTERVAL_S", "0"), ("FOOTFALL_LIVE_INTERVAL_S", "60")],
)  # fmt: skip
def test_serve_refuses_bad_headless_and_live_settings_in_one_line(
    tmp_path: Path, var: str, value: str
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "footfall.cli", "serve"],
        env={var: value, "PATH": "/usr/bin", "FOOTFALL_DATA_DIR": str(tmp_path / "d")},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode != 0
    assert var in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_headless_and_live_interval_are_settings_documented_in_the_table() -> None:
    s = Settings.from_env({"FOOTFALL_ALLOW_HEADLESS": "true", "FOOTFALL_LIVE_INTERVAL_S": "0.5"})
    assert s.allow_headless is True and s.live_interval_s == 0.5
    assert Settings.from_env({}).allow_headless is False
    table = docs_table()
    assert "`FOOTFALL_ALLOW_HEADLESS`" in table and "`FOOTFALL_LIVE_INTERVAL_S`" in table
