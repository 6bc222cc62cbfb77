"""The documented shell commands, run as written against the real server: the README's
"First steps" and the SDK guide's native HTTP API.

A user's first minutes are spent pasting these; when one of them fails or answers
differently from the comment under it, the document is wrong (the batch example once
left out its JSON content type and got a 415). The README's first steps are pasted in
order into one bash session, as a user would, with only the host changed: the key and
token travel in the shell's own variables. The SDK guide's examples stand alone, with
its ``ffk_...`` placeholder filled in. Each answer is checked against the
``# <status> <body>`` comment that follows it: exact values where the comment gives them,
prefixes for ``ffk_...``-style placeholders, the type for floats (timings), and the named
keys for a shape comment.
"""

from __future__ import annotations

import json
import queue
import re
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from tests.serverproc import Server

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
ADMIN = "change-me"  # what the README exports


def curls(doc: str, heading: str) -> list[tuple[str, str | None]]:
    """(command, the expectation comment under it or None) for every curl in the section
    of ``doc`` under ``heading``; each command begins with the section's shell assignments
    made before it (``UA=...``, ``export FOOTFALL_ADMIN_TOKEN=...``), as a user's shell
    would hold them."""
    section = _section(doc, heading)
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


def session(doc: str, heading: str) -> list[tuple[str, str | None]]:
    """Every command of the ``sh`` blocks in the section of ``doc`` under ``heading``, in
    order, each with the expectation comment under it or None. ``footfall serve`` is left
    out: the test starts the server."""
    out: list[tuple[str, str | None]] = []
    for block in re.findall(r"```sh\n(.*?)```", _section(doc, heading), re.S):
        pending: list[str] = []
        for line in block.splitlines():
            if not pending and line.startswith("#   ") and out and out[-1][1]:
                out[-1] = (out[-1][0], f"{out[-1][1]} {line[4:]}")
            elif not pending and line.startswith("# ") and out and out[-1][1] is None:
                out[-1] = (out[-1][0], line[2:])
            elif pending or (line.strip() and line.strip() != "footfall serve"):
                pending.append(line)
                command = "\n".join(pending)
                if not command.endswith("\\") and _balanced(command):
                    out.append((command, None))
                    pending = []
    return out


def _section(doc: str, heading: str) -> str:
    text = (ROOT / doc).read_text()
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


class Shell:
    """One bash session fed one command at a time, as a user pastes them: variables and
    functions stay set between commands. Every curl also writes its HTTP status to stderr
    (``-w %{stderr}``), leaving what it prints, and so what a ``$(...)`` captures, as is."""

    MARK = "@@footfall-step-done"

    def __init__(self, errors: Path) -> None:
        self.errors = errors
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], env={"PATH": "/usr/bin:/bin"},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        self.status: int | None = None  # of the latest curl

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def run(self, command: str) -> tuple[int, str]:
        """(exit status, what it printed); ``self.status`` is then the latest curl's."""
        command = re.sub(r"(^|\$\()curl ", r"\1curl -w '%{stderr}@@status %{http_code}\\n' ",
                         command, flags=re.M)  # fmt: skip
        assert self.proc.stdin is not None
        self.proc.stdin.write(
            f"{{ {command}\n}} 2>'{self.errors}'; printf '\\n{self.MARK} %d\\n' $?\n"
        )
        self.proc.stdin.flush()
        printed: list[str] = []
        while not (line := self.lines.get(timeout=30)).startswith(self.MARK):
            printed.append(line)
        statuses = re.findall(r"@@status (\d+)", self.errors.read_text())
        if statuses:
            self.status = int(statuses[-1])
        return int(line.split()[1]), "".join(printed).strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


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
        want = json.loads(shown.replace(", ...}", "}"))  # "...": more keys may follow
    except json.JSONDecodeError:  # a shape: {"data": {"site_id", ...}}
        missing = set(re.findall(r'"(\w+)"', shown)) - _keys(answer)
        assert not missing, f"{missing} not in {answer}"
    else:
        _matches(want, answer)


def wait_until_stored(server: Server) -> None:
    deadline = time.monotonic() + 10
    while server.get("/api/health")["writer"]["lag_events"] and time.monotonic() < deadline:
        time.sleep(0.05)


def run_all(server: Server, commands: list[tuple[str, str | None]], host: str,
            found: dict[str, str]) -> None:  # fmt: skip
    """Run ``commands`` in order against ``server`` (``host`` is the documented server's
    address, scheme included when the document has one), each checked against its comment;
    keys and tokens in the answers fill their placeholders in later commands."""
    for command, expect in commands:
        if "/api/stats" in command:  # as a user who waited a second for the writer
            wait_until_stored(server)
        ours = f"127.0.0.1:{server.port}"
        command = command.replace(host, f"http://{ours}" if "://" in host else ours)
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


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@needs_curl
def test_the_readme_first_steps_pasted_in_order_answer_as_their_comments_say(
    tmp_path: Path,
) -> None:
    commands = session("README.md", "## First steps")
    # The section shows site and token creation, both event endpoints, stats, health.
    paths = [m.group(1) for c, _ in commands if (m := re.search(r"localhost:8000(/[\w/]*)", c))]
    for path in ("/api/site/create", "/api/tokens", "/api/event", "/api/events", "/api/stats"):
        assert path in paths, path
    assert sum(expect is not None for _, expect in commands) >= 6  # every answer shown is checked
    server = Server(tmp_path / "data", admin=ADMIN).start()
    shell = Shell(tmp_path / "stderr")
    try:
        for command, expect in commands:
            if "/api/stats" in command:  # as a user who waited a second for the writer
                wait_until_stored(server)
            code, printed = shell.run(command.replace("localhost:8000", f"127.0.0.1:{server.port}"))
            assert code == 0, (command, printed, (tmp_path / "stderr").read_text())
            if expect is not None or re.match(r"curl ", command):
                assert shell.status is not None, command
                check(expect, shell.status, printed)
        # The key and token came from the answers, through the shell, as a user's would.
        code, printed = shell.run('printf "%s %s" "$KEY" "$TOKEN"')
        key, token = printed.split()
        assert key.startswith("ffk_") and token.startswith("fft_"), printed
    finally:
        shell.close()
        server.stop()


@needs_curl
def test_the_sdk_guide_http_examples_answer_as_their_comments_say(tmp_path: Path) -> None:
    commands = curls("docs/sdk.md", "## Native HTTP API")
    assert [c.count("/api/event") for c, _ in commands] == [1, 1]  # single, then batch
    server = Server(tmp_path / "data", admin=ADMIN).start()
    try:
        status, site = server.admin_post(
            "/api/site/create", {"name": "Docs", "domains": ["example.com"]}
        )
        assert status == 201
        found = {"ffk_...": site["api_key"]}
        run_all(server, commands, "https://stats.example.com", found)
        # The signup carries a visitor's ip and user agent and is stored; the batch went
        # out with curl's own user agent and is filtered as a bot, as the guide warns.
        token = server.admin_post("/api/tokens", {"site_id": site["site_id"]})[1]["token"]
        wait_until_stored(server)
        stats = server.get(f"/api/stats?site_id={site['site_id']}", token)["data"]
        assert (stats["visitors"], stats["pageviews"]) == (1, 0)
    finally:
        server.stop()
