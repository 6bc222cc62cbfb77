"""The committed tracker builds: within the size budgets, up to date with the source, and
no syntax newer than ES2017. Sizes are measured on the exact files `footfall serve` sends."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scripts import build_tracker as bt
from tests.conftest import require_services


def node_tools_or_skip() -> None:
    try:
        bt.node_tools()
    except (bt.ToolMissing, subprocess.CalledProcessError) as exc:
        if require_services():
            raise
        pytest.skip(f"cannot run the tracker build tools: {exc}")


@pytest.mark.parametrize("name", list(bt.BUILDS))
def test_committed_build_is_within_budget(name: str) -> None:
    data = (bt.OUT / name).read_bytes()
    assert bt.gzipped_size(data) <= bt.BUDGETS[name], f"{name} is over its gzipped budget"


def test_default_build_has_no_extended_features() -> None:
    default = (bt.OUT / "footfall.js").read_text()
    ext = (bt.OUT / "footfall.ext.js").read_text()
    for marker in ("File Download", "engagement", "Form: Submission", "load_time_ms", "JS Error"):
        assert marker not in default and marker in ext


def test_committed_build_is_up_to_date(tmp_path: Path) -> None:
    node_tools_or_skip()
    built = bt.build(tmp_path)
    for name, path in built.items():
        assert path.read_bytes() == (bt.OUT / name).read_bytes(), (
            f"{name} is stale: run python scripts/build_tracker.py"
        )


def test_committed_build_is_es2017() -> None:
    node_tools_or_skip()
    assert bt.check_es2017([bt.OUT / n for n in bt.BUILDS]) == ""


def test_es2017_check_refuses_newer_syntax(tmp_path: Path) -> None:
    node_tools_or_skip()
    newer = tmp_path / "newer.js"
    newer.write_text("var a = {...{b: 1}}; var c = a?.b ?? 2;")
    assert "newer.js" in bt.check_es2017([newer])


def test_build_script_prints_sizes() -> None:
    if shutil.which("node") is None and not require_services():
        pytest.skip("node is not installed")
    out = subprocess.run(
        ["python3", "scripts/build_tracker.py", "--sizes"],
        cwd=bt.ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "footfall.js" in out and "gzipped" in out
