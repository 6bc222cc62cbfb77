"""deploy/systemd/*.service pass ``systemd-analyze verify`` (in a root of the test's own,
with the units the machine ships and a stand-in for the installed program, since
verify checks that ExecStart exists). Skipped, with the reason, without systemd."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"


def verify(tmp: Path, unit: str, text: dict[str, str] | None = None) -> str:
    analyze = shutil.which("systemd-analyze")
    shipped = Path("/lib/systemd/system")
    if analyze is None or not (shipped / "sysinit.target").exists():
        pytest.skip("systemd-analyze or the system's units are missing: units not verified")
    root = tmp / "root"
    if not root.exists():
        shutil.copytree(shipped, root / "usr/lib/systemd/system", symlinks=True)
        program = root / "opt/footfall/.venv/bin/footfall"
        program.parent.mkdir(parents=True)
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    for path in UNITS.glob("*.service"):
        (units / path.name).write_text((text or {}).get(path.name, path.read_text()))
    r = subprocess.run([analyze, "verify", "--man=no", f"--root={root}", unit],
                       capture_output=True, text=True)  # fmt: skip
    return (r.stdout + r.stderr).strip() + ("" if r.returncode == 0 else f"\nexit {r.returncode}")


def test_the_server_and_worker_units_verify(tmp_path: Path) -> None:
    assert verify(tmp_path, "footfall.service") == ""
    assert verify(tmp_path, "footfall-worker@1.service") == ""


def test_verify_does_report_a_mistake(tmp_path: Path) -> None:
    name = "footfall.service"
    broken = (UNITS / name).read_text().replace("KillMode=mixed", "KillMode=mixd")
    assert "kill mode" in verify(tmp_path, name, {name: broken}).lower()
