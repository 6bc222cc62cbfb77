"""The README's "First steps" commands, run as written against the real server.

A user's first minutes are spent pasting these; when one of them answers differently from
the comment under it, the README is wrong (the batch example once left out its JSON
content type and got a 415). Each ``curl`` runs through bash with only the host, the
ingest key and the read token substituted (taken from the earlier commands' answers, as
a user would), and its answer is checked against the ``# <status> <body>`` comment that
follows it: exact values where the comment gives them, prefixes for ``ffk_...``-style
placeholders, the type for floats (timings), and the named keys for a shape comment.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.serverproc import Server

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parent.parent / "README.md"
ADMIN = "change-me"  # what the README exports


def first_steps() -> list[tuple[str, str | None]]:
    """(command, the expectation comment under it or None) for every curl in the section;
    each command begins with the section's shell assignments made before it (``UA=...``,
    ``export FOOTFALL_ADMIN_TOKEN=...``), as a user's shell would hold them."""
    text = README.read_text()
    section = text.split("## First steps", 1)[1].split("\n## ", 1)[0]
    out: list[tuple[str, str | None]] = []
    prelude: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        pending: list[str] = []
        for line in block.splitlines():
            if pending or line.startswith("curl "):
                pending.append(line)
                command = "\n".join(pending)
                if command.endswith("\\") or not _balanced(command):
                    continue
                out.append(("\n".join([*prelude, command]), None))
                pending = []
            elif re.match(r"(export )?[A-Z_]+=", line):
                prelude.append(line)
            elif line.startswith("# ") and out and out[-1][1] is None:
                out[-1] = (out[-1][0], line[2:])
            elif line.startswith("#   ") and out:
                out[-1] = (out[-1][0], f"{out[-1][1]} {line[4:]}")
    return out


def _balanced(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:  # a quote still open: the JSON body goes on below
        return False
    return True


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _matches(want: Any, got: Any, where: str = "body") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: {got!r}"
        for key, value in want.items():
            assert key in got, f"{where}: no {key!r} in {got!r}"
            _matches(value, got[key], f"{where}.{key}")
    elif isinstance(want, str) and want.endswith("..."):
        assert isinstance(got, str) and got.startswith(want[:-3]), f"{where}: {got!r}"
    elif isinstance(want, float):
        assert isinstance(got, int | float), f"{where}: {got!r}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def check(expect: str | None, status: int, body: str) -> None:
    if expect is None:  # health, metrics: no answer shown, so any success will do
        assert status == 200, body
        return
    code, _, shown = expect.partition(" ") if expect[:3].isdigit() else ("200", "", expect)
    assert status == int(code), body
    answer = json.loads(body)
    try:
        want = json.loads(shown)
    except json.JSONDecodeError:  # a shape: {"data": {"site_id", ...}}
        missing = set(re.findall(r'"(\w+)"', shown)) - _keys(answer)
        assert not missing, f"{missing} not in {answer}"
    else:
        _matches(want, answer)


def wait_until_stored(server: Server) -> None:
    deadline = time.monotonic() + 10
    while server.get("/api/health")["writer"]["lag_events"] and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_first_steps_answer_as_their_comments_say(tmp_path: Path) -> None:
    commands = first_steps()
    # The section shows site and token creation, both event endpoints, stats, health.
    paths = [re.search(r"localhost:8000(/[\w/]*)", c).group(1) for c, _ in commands]  # type: ignore[union-attr]
    for path in ("/api/site/create", "/api/tokens", "/api/event", "/api/events", "/api/stats"):
        assert path in paths, path
    server = Server(tmp_path / "data", admin=ADMIN).start()
    found: dict[str, str] = {}
    try:
        for command, expect in commands:
            if "/api/stats" in command:  # as a user who waited a second for the writer
                wait_until_stored(server)
            command = command.replace("localhost:8000", f"127.0.0.1:{server.port}")
            for placeholder, value in found.items():
                command = command.replace(placeholder, value)
            run = subprocess.run(
                ["bash", "-c", ("\n" + command).replace("\ncurl ", "\ncurl -w '\\n%{http_code}' ", 1)],
                env={"PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            body, _, status = run.stdout.rpartition("\n")
            assert run.returncode == 0, (command, run.stderr)
            check(expect, int(status), body)
            if "/metrics" not in command:
                answer = json.loads(body)
                for field, placeholder in (("api_key", "ffk_..."), ("token", "fft_...")):
                    if field in answer:
                        found[placeholder] = answer[field]
        assert set(found) == {"ffk_...", "fft_..."}
    finally:
        server.stop()
