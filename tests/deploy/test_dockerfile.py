"""The Dockerfile as far as it can be checked without a Docker engine: two stages, the
install script of the build stage, a non-root runtime with a health check on
/api/health, and a build context (.dockerignore) that holds what the COPY lines need.
tests/deploy/test_install.py runs the install script itself."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for op, arg in instructions():
        if op == "FROM":
            out.append([])
        if out:
            out[-1].append((op, arg))
    return out


def test_two_stages_and_the_runtime_copies_only_the_virtual_environment() -> None:
    build, runtime = stages()
    assert build[0][1].endswith(" AS build") and runtime[0][1].endswith(" AS runtime")
    assert ("RUN", "sh deploy/install.sh /opt/footfall /src") in build
    copies = [arg for op, arg in runtime if op == "COPY"]
    assert copies == ["--from=build /opt/footfall /opt/footfall"]


def test_the_runtime_runs_as_an_unprivileged_user_with_a_health_check() -> None:
    runtime = dict(stages()[1])
    assert runtime["USER"].split(":")[0] == "footfall"
    check = runtime["HEALTHCHECK"]
    assert "/api/health" in check and "--interval=" in check
    command = json.loads(check.split("CMD", 1)[1].strip())
    assert command[0] == "python" and "urlopen" in command[-1]
    assert json.loads(runtime["ENTRYPOINT"]) == ["footfall"]
    assert json.loads(runtime["CMD"]) == ["serve"]
    assert "FOOTFALL_HOST=0.0.0.0" in runtime["ENV"]


def test_the_build_context_holds_what_copy_needs_and_nothing_else() -> None:
    rules = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]  # fmt: skip

    def sent(path: str) -> bool:  # Docker's rule: the last matching line wins
        keep = True
        for rule in rules:
            negated, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/") or pattern == "**":
                keep = negated
        return keep

    for op, arg in instructions():
        if op == "COPY" and not arg.startswith("--from"):
            for source in re.split(r"\s+", arg)[:-1]:
                assert sent(source), source
    assert sent("footfall/app.py") and sent("deploy/install.sh")
    assert not sent(".venv/bin/python") and not sent("tests/conftest.py")
