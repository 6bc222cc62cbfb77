"""The Dockerfile's install steps, run as the build stage runs them (deploy/install.sh) in
a fresh virtual environment, from a build context holding only what the Dockerfile
copies; then the installed ``footfall serve`` answers the image's own HEALTHCHECK
command, and serves the tracker (package data made it into the install).

No Docker engine runs here, so this is as close to ``docker build`` as the tests get:
same script, same sources, the host's Python instead of the image's (README says so).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.deploy.test_dockerfile import stages
from tests.serverproc import free_port

ROOT = Path(__file__).resolve().parents[2]


def build_context(dest: Path) -> Path:
    """What ``COPY`` takes into the build stage, and nothing else."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "footfall", dest / "footfall",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    (dest / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "install.sh", dest / "deploy" / "install.sh")
    return dest


@pytest.mark.slow
def test_the_image_install_steps_in_a_fresh_venv(tmp_path: Path) -> None:
    src = build_context(tmp_path / "src")
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # python3 of the tests
    run = subprocess.run(["sh", "deploy/install.sh", str(venv), str(src)], cwd=src, env=env,
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().startswith("footfall ")  # its --version line
    # The scale-out clients are in, chdb's engine is not (the image stays small).
    freeze = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze"], capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].lower() for line in freeze.splitlines()}
    assert {"redis", "psycopg", "clickhouse-connect"} <= names and "chdb" not in names

    port = free_port()
    data = tmp_path / "data"
    server_env = {**env, "FOOTFALL_DATA_DIR": str(data), "FOOTFALL_PORT": str(port),
                  "FOOTFALL_HOST": "127.0.0.1",
                  # as tests/serverproc.py: a Granian worker hung by the signal (granian#875)
                  # is killed after 10 s, within this test's wait
                  "FOOTFALL_SHUTDOWN_TIMEOUT_SECONDS": "10"}  # fmt: skip
    proc = subprocess.Popen([str(venv / "bin" / "footfall"), "serve"], env=server_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path,
                            start_new_session=True)  # fmt: skip
    try:
        health = json.loads(dict(stages()[1])["HEALTHCHECK"].split("CMD", 1)[1])
        command = [str(venv / "bin" / health[0]), *health[1:]]
        deadline = time.monotonic() + 60
        while subprocess.run(command, env=server_env, capture_output=True).returncode != 0:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the installed server never became healthy"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/js/footfall.js", timeout=5) as r:
            assert r.status == 200 and b"api/event" in r.read()
    finally:
        proc.terminate()
        proc.wait(60)
